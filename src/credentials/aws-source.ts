import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import type { Env } from '../config.js';
import { SecretValue } from '../log/secret-value.js';
import type { Logger } from '../log.js';
import { toSourceError } from './aws-errors.js';
import {
  type SecretDescription,
  type SecretSource,
  SecretSourceError,
  type SecretVersion,
} from './source.js';

export { toSourceError } from './aws-errors.js';

export interface AwsSourceOptions {
  /** AWS_REGION; ECS sets it. */
  region?: string;
  /**
   * Extra client settings (tests: `endpoint`, fake `credentials`). In production leave it out: the
   * SDK's default credential chain finds the ECS task role, and `AWS_ENDPOINT_URL_SECRETS_MANAGER`
   * is honoured by the SDK itself.
   */
  clientConfig?: SecretsManagerClientConfig;
  /** Each HTTP attempt fails (TimeoutError) after this long; default 2.5 s. */
  requestTimeoutMs?: number;
  /** Where the SDK's HTTP handler reports (instead of the console). */
  log?: Logger;
  /** The environment, to say which credential variables are set when none were found (names only). */
  env?: Env;
}

/**
 * Per-attempt limits: a hung connection must not hold a poll (or the first read's 3 s deadline). The
 * provider also puts its own deadline on every call (the SDK's only covers one attempt).
 */
const REQUEST_TIMEOUT_MS = 2_500;
const CONNECTION_TIMEOUT_MS = 1_000;

/**
 * Secrets Manager under the container's IAM role: DescribeSecret for version polling,
 * GetSecretValue by version id. SDK errors are mapped to {@link SecretSourceError} kinds and stripped
 * of request details.
 *
 * @example
 * const source = createAwsSource({ region: 'eu-west-1' });
 * const { versions } = await source.describe('opsbot/github');
 */
export function createAwsSource(options: AwsSourceOptions = {}): SecretSource {
  const client = new SecretsManagerClient({
    ...(options.region ? { region: options.region } : {}),
    maxAttempts: 2,
    requestHandler: {
      requestTimeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      // Without it a request past its requestTimeout only prints a warning and goes on waiting.
      throwOnRequestTimeout: true,
      logger: sdkLogger(options.log),
    },
    ...options.clientConfig,
  });
  const { env } = options;

  return {
    kind: 'aws',
    async describe(name, { signal } = {}): Promise<SecretDescription> {
      try {
        const out = await client.send(new DescribeSecretCommand({ SecretId: name }), { abortSignal: signal });
        const versions = new Map<string, readonly string[]>();
        for (const [id, stages] of Object.entries(out.VersionIdsToStages ?? {})) {
          if (stages.length > 0) versions.set(id, stages);
        }
        return { name, arn: out.ARN ?? name, versions };
      } catch (error) {
        throw toSourceError(name, 'DescribeSecret', error, env);
      }
    },
    async getVersion(name, versionId, { signal } = {}): Promise<SecretVersion> {
      let out: GetSecretValueCommandOutput;
      try {
        out = await client.send(new GetSecretValueCommand({ SecretId: name, VersionId: versionId }), {
          abortSignal: signal,
        });
      } catch (error) {
        throw toSourceError(name, 'GetSecretValue', error, env);
      }
      if (typeof out.SecretString !== 'string') {
        throw new SecretSourceError(
          'invalid',
          name,
          `${name} has no SecretString (binary secrets are not supported); store the JSON as a string`,
        );
      }
      return {
        name,
        arn: out.ARN ?? name,
        versionId: out.VersionId ?? versionId,
        stages: out.VersionStages ?? [],
        secretString: new SecretValue(out.SecretString),
      };
    },
    close() {
      client.destroy();
    },
  };
}

/** The SDK's HTTP handler logs through pino (redacted, JSON), never the console. */
function sdkLogger(log: Logger | undefined) {
  const child = log?.child({ component: 'aws-sdk' });
  const to = (level: 'debug' | 'info' | 'warn' | 'error') => (message: unknown) =>
    child?.[level]({ sdk: String(message).slice(0, 500) }, 'AWS SDK message');
  return { debug: to('debug'), info: to('info'), warn: to('warn'), error: to('error') };
}
