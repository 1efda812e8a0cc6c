import {
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import type { SecretSourceKind } from '../config.js';
import { ErrorCode, UserFacingError } from '../errors.js';
import { EMERGENCY_TAG, FAILURE_TAGS } from '../rotation/tags.js';
import { STAGE } from './source.js';

/**
 * The tags a rotation function may leave on a secret when a step fails: the token of the rotation
 * and why it stopped (letters, digits, spaces and `_.:/=+-@` only, as AWS tag values allow). Read by
 * `/opsbot rotate` to say why a rotation stopped (written by the rotation function, never by the bot).
 */
export const ROTATION_FAILURE_TAG = FAILURE_TAGS.message;
export const ROTATION_FAILURE_TOKEN_TAG = FAILURE_TAGS.token;
/** When the step failed (epoch ms). */
export const ROTATION_FAILURE_AT_TAG = FAILURE_TAGS.at;

/** What DescribeSecret says about one secret, for `/opsbot secrets` and `/opsbot rotate` (never a value). */
export interface SecretStatus {
  /** The full name (`opsbot/github`). */
  name: string;
  source: SecretSourceKind;
  /** AWSCURRENT's version id. */
  currentVersion: string | undefined;
  /** Epoch ms, when Secrets Manager reports it. */
  createdAt: number | undefined;
  /** When AWSCURRENT's version was made (ListSecretVersionIds). */
  currentCreatedAt: number | undefined;
  lastChangedAt: number | undefined;
  lastRotatedAt: number | undefined;
  lastAccessedAt: number | undefined;
  nextRotationAt: number | undefined;
  rotationEnabled: boolean;
  /** `every 30 days`, `rate(4 hours)`: the rotation rules as AWS holds them. */
  schedule: string | undefined;
  /** AWSPENDING's version id when it is not AWSCURRENT's. */
  pendingVersion: string | undefined;
  /** AWSCURRENT carries OPSBOT_EMERGENCY: no earlier version is accepted. */
  emergency: boolean;
  /** version id → staging labels. */
  versions: ReadonlyMap<string, readonly string[]>;
  /** The rotation function's last failure, when it left one on the secret (see {@link ROTATION_FAILURE_TAG}). */
  failure: { token: string; message: string; at: number } | undefined;
}

export interface RotateRequest {
  /** Tag the secret so the rotation function marks the new version OPSBOT_EMERGENCY. */
  emergency: boolean;
  /** The ClientRequestToken: a fresh UUID, or the id of the AWSPENDING version a person put. */
  token: string;
}

/**
 * The bot's administrative view of its secrets in Secrets Manager: describe one (no value), see
 * whether a version holds a value, and start a rotation. Needs `secretsmanager:DescribeSecret`,
 * `GetSecretValue`, `RotateSecret` and `TagResource` (the `opsbot:emergency-rotation` key only) on
 * opsbot's secrets; it never writes a value and never turns rotation on.
 */
export interface SecretAdmin {
  readonly source: SecretSourceKind;
  /** Undefined when the secret does not exist. */
  describe(name: string): Promise<SecretStatus | undefined>;
  /** Whether version `versionId` of `name` holds a value (a person's AWSPENDING, not RotateSecret's placeholder). */
  hasValue(name: string, versionId: string): Promise<boolean>;
  /** TagResource (emergency), then RotateSecret with `token`, rotating at once. */
  rotate(name: string, request: RotateRequest): Promise<void>;
  close(): void;
}

/** How a secret is rotated where opsbot cannot start the rotation itself. */
const ROTATE_BY_HAND: Readonly<Record<Exclude<SecretSourceKind, 'aws'>, string>> = {
  vault:
    'Write the new value as a new KV version (vault kv put <mount>/<name> field=value …): opsbot uses it at its next poll, with no restart; after a leak, destroy the old versions too (vault kv destroy -versions=…) so they are never accepted again.',
  file: 'Rotate the value in the secret file (`npm run secrets`) and restart.',
  env: 'Rotate the value in the environment and restart.',
};

/** For the `vault`, `file` and `env` sources: opsbot has no rotation function to start there. */
export class RotationUnavailableError extends UserFacingError {
  constructor(source: SecretSourceKind) {
    super(
      `Not available with OPSBOT_SECRET_SOURCE=${source}: opsbot's rotation runs in Secrets Manager (OPSBOT_SECRET_SOURCE=aws). ${source === 'aws' ? '' : ROTATE_BY_HAND[source]}`,
      { code: ErrorCode.NotConfigured },
    );
  }
}

export interface SecretAdminOptions {
  source: SecretSourceKind;
  region?: string;
  /** Tests and the console: the simulated Secrets Manager's endpoint and fake credentials. */
  clientConfig?: SecretsManagerClientConfig;
}

/** The secret admin for the configured source (Secrets Manager for `aws`, a refusal otherwise). */
export function createSecretAdmin(options: SecretAdminOptions): SecretAdmin {
  if (options.source !== 'aws') return unavailableAdmin(options.source);
  const client = new SecretsManagerClient({
    ...(options.region ? { region: options.region } : {}),
    maxAttempts: 2,
    ...options.clientConfig,
  });
  return {
    source: 'aws',
    async describe(name) {
      let out: DescribeSecretCommandOutput;
      try {
        out = await client.send(new DescribeSecretCommand({ SecretId: name }));
      } catch (error) {
        if (awsErrorName(error) === 'ResourceNotFoundException') return undefined;
        throw awsRefusal('DescribeSecret', name, error);
      }
      const status = statusOf(name, out);
      if (status.currentVersion) {
        try {
          const list = await client.send(
            new ListSecretVersionIdsCommand({ SecretId: name, MaxResults: 100 }),
          );
          const current = list.Versions?.find((v) => v.VersionId === status.currentVersion);
          status.currentCreatedAt = ms(current?.CreatedDate);
        } catch {
          // The age is a nicety: DescribeSecret's answer stands without it.
        }
      }
      return status;
    },
    async hasValue(name, versionId) {
      try {
        const out = await client.send(new GetSecretValueCommand({ SecretId: name, VersionId: versionId }));
        return typeof out.SecretString === 'string' && out.SecretString.length > 0;
      } catch (error) {
        if (awsErrorName(error) === 'ResourceNotFoundException') return false;
        throw awsRefusal('GetSecretValue', name, error);
      }
    },
    async rotate(name, { emergency, token }) {
      if (emergency) {
        try {
          await client.send(
            new TagResourceCommand({ SecretId: name, Tags: [{ Key: EMERGENCY_TAG, Value: token }] }),
          );
        } catch (error) {
          throw awsRefusal('TagResource', name, error);
        }
      }
      try {
        // No RotationLambdaARN and no RotationRules: those would (re)configure rotation.
        await client.send(
          new RotateSecretCommand({ SecretId: name, ClientRequestToken: token, RotateImmediately: true }),
        );
      } catch (error) {
        throw awsRefusal('RotateSecret', name, error);
      }
    },
    close() {
      client.destroy();
    },
  };
}

function unavailableAdmin(source: SecretSourceKind): SecretAdmin {
  const refuse = async (): Promise<never> => {
    throw new RotationUnavailableError(source);
  };
  return { source, describe: refuse, hasValue: refuse, rotate: refuse, close() {} };
}

function statusOf(name: string, out: DescribeSecretCommandOutput): SecretStatus {
  const versions = new Map<string, readonly string[]>();
  for (const [id, stages] of Object.entries(out.VersionIdsToStages ?? {})) {
    if (stages.length > 0) versions.set(id, stages);
  }
  const holder = (stage: string) => [...versions].find(([, s]) => s.includes(stage))?.[0];
  const current = holder(STAGE.current);
  const pending = holder(STAGE.pending);
  const tags = new Map((out.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  const failureToken = tags.get(ROTATION_FAILURE_TOKEN_TAG);
  const failureMessage = tags.get(ROTATION_FAILURE_TAG);
  const failureAt = Number(tags.get(ROTATION_FAILURE_AT_TAG) ?? Number.NaN);
  const rules = out.RotationRules;
  const schedule = rules?.ScheduleExpression
    ? rules.ScheduleExpression
    : rules?.AutomaticallyAfterDays
      ? `every ${rules.AutomaticallyAfterDays} day${rules.AutomaticallyAfterDays === 1 ? '' : 's'}`
      : undefined;
  return {
    name: out.Name ?? name,
    source: 'aws',
    currentVersion: current,
    createdAt: ms(out.CreatedDate),
    currentCreatedAt: undefined,
    lastChangedAt: ms(out.LastChangedDate),
    lastRotatedAt: ms(out.LastRotatedDate),
    lastAccessedAt: ms(out.LastAccessedDate),
    nextRotationAt: ms(out.NextRotationDate),
    rotationEnabled: out.RotationEnabled === true,
    schedule,
    pendingVersion: pending && pending !== current ? pending : undefined,
    emergency: current !== undefined && (versions.get(current) ?? []).includes(STAGE.emergency),
    versions,
    failure:
      failureToken && failureMessage && Number.isFinite(failureAt)
        ? { token: failureToken, message: failureMessage.slice(0, 256), at: failureAt }
        : undefined,
  };
}

const ms = (date: Date | undefined) => (date ? date.getTime() : undefined);

function awsErrorName(error: unknown): string {
  const name = (error as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : 'Error';
}

/** An SDK failure in words an admin can act on: the call, AWS's error name, never what was sent. */
function awsRefusal(api: string, name: string, error: unknown): UserFacingError {
  const type = awsErrorName(error);
  const hint =
    type === 'AccessDeniedException'
      ? `: opsbot's task role needs secretsmanager:${api} on ${name}`
      : type === 'InvalidRequestException'
        ? ': Secrets Manager refused it now (a rotation may still be running: `/opsbot secrets` shows its pending version; try again once it finished)'
        : ': try again in a minute; if it keeps failing, check Secrets Manager in the AWS console';
  return new UserFacingError(`Secrets Manager ${api} on \`${name}\` failed (${type})${hint}.`, {
    cause: error,
  });
}
