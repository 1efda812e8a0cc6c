import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { SecretValue } from '../log/secret-value.js';
import { RotationStepError } from './errors.js';

/** What DescribeSecret tells the rotation function. */
export interface RotatingSecret {
  arn: string;
  /** The full name (`opsbot/github`), also when the event named the secret by ARN. */
  name: string;
  rotationEnabled: boolean;
  /** version id → staging labels. */
  versions: ReadonlyMap<string, readonly string[]>;
  tags: ReadonlyMap<string, string>;
}

/** The version that holds `stage`, if any. */
export function versionWith(secret: RotatingSecret, stage: string): string | undefined {
  for (const [id, stages] of secret.versions) if (stages.includes(stage)) return id;
  return undefined;
}

/**
 * The Secrets Manager calls of a rotation, over the SDK v3 client it is given (the Lambda's: default
 * credential chain, `AWS_ENDPOINT_URL_SECRETS_MANAGER` honoured by the SDK). Values come back
 * wrapped in {@link SecretValue}; an SDK error becomes a {@link RotationStepError} naming the call,
 * the AWS error and its request id, never a value.
 */
export class RotationSecretStore {
  readonly #client: SecretsManagerClient;

  constructor(client: SecretsManagerClient) {
    this.#client = client;
  }

  async describe(secretId: string): Promise<RotatingSecret> {
    const out = await this.#call('DescribeSecret', secretId, () =>
      this.#client.send(new DescribeSecretCommand({ SecretId: secretId })),
    );
    const versions = new Map<string, readonly string[]>();
    for (const [id, stages] of Object.entries(out.VersionIdsToStages ?? {})) versions.set(id, stages);
    const tags = new Map<string, string>();
    for (const tag of out.Tags ?? []) if (tag.Key !== undefined) tags.set(tag.Key, tag.Value ?? '');
    return {
      arn: out.ARN ?? secretId,
      name: out.Name ?? secretId,
      rotationEnabled: out.RotationEnabled === true,
      versions,
      tags,
    };
  }

  /**
   * One version's SecretString, by stage and optionally version id (both given: the version must
   * hold the stage). Undefined when there is no such value: AWS's ResourceNotFoundException, which
   * is also its answer for the version RotateSecret made before createSecret stored a value.
   */
  async value(
    secretId: string,
    which: { stage: string; versionId?: string },
  ): Promise<SecretValue<string> | undefined> {
    try {
      const out = await this.#client.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          VersionStage: which.stage,
          ...(which.versionId ? { VersionId: which.versionId } : {}),
        }),
      );
      if (typeof out.SecretString !== 'string') {
        throw new RotationStepError(
          `${secretId} ${which.stage} has no SecretString (binary secrets are not supported): store the JSON as a string`,
        );
      }
      return new SecretValue(out.SecretString);
    } catch (error) {
      if (error instanceof RotationStepError) throw error;
      const name = (error as { name?: unknown }).name;
      if (name === 'ResourceNotFoundException' || name === 'SecretHasNoValueException') return undefined;
      throw awsFailure('GetSecretValue', secretId, error);
    }
  }

  async put(secretId: string, token: string, value: SecretValue<string>, stages: string[]): Promise<void> {
    await this.#call('PutSecretValue', secretId, () =>
      this.#client.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          SecretString: value.reveal(),
          VersionStages: stages,
        }),
      ),
    );
  }

  /** UpdateSecretVersionStage: `stage` onto `to`, off `from` (either may be left out). */
  async moveStage(secretId: string, stage: string, move: { to?: string; from?: string }): Promise<void> {
    await this.#call('UpdateSecretVersionStage', secretId, () =>
      this.#client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: stage,
          ...(move.to ? { MoveToVersionId: move.to } : {}),
          ...(move.from ? { RemoveFromVersionId: move.from } : {}),
        }),
      ),
    );
  }

  /** Sets tags on the secret (the failure tags: its role may set those keys only). */
  async tag(secretId: string, tags: Readonly<Record<string, string>>): Promise<void> {
    await this.#call('TagResource', secretId, () =>
      this.#client.send(
        new TagResourceCommand({
          SecretId: secretId,
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      ),
    );
  }

  async #call<T>(api: string, secretId: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw awsFailure(api, secretId, error);
    }
  }
}

/** An SDK error as a sentence: the call, AWS's error name, status and request id; nothing it was sent. */
function awsFailure(api: string, secretId: string, error: unknown): RotationStepError {
  const e = (error ?? {}) as { name?: unknown; $metadata?: { httpStatusCode?: number; requestId?: string } };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const status = e.$metadata?.httpStatusCode;
  const requestId = e.$metadata?.requestId ? `, request id ${e.$metadata.requestId}` : '';
  const what = status ? `${name} (HTTP ${status}${requestId})` : name;
  const hint =
    name === 'AccessDeniedException'
      ? `: the rotation function's role needs secretsmanager:${api} on ${secretId}`
      : name === 'ResourceNotFoundException'
        ? `: check that ${secretId} exists in this account and region`
        : '';
  return new RotationStepError(`Secrets Manager ${api} on ${secretId} failed: ${what}${hint}`);
}
