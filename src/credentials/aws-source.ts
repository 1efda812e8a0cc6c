import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { SecretValue } from './secret-value.js';
import {
  type SecretDescription,
  type SecretSource,
  SecretSourceError,
  type SecretSourceErrorKind,
  type SecretVersion,
} from './source.js';

export interface AwsSourceOptions {
  /** AWS_REGION; ECS sets it. */
  region?: string;
  /**
   * Extra client settings (tests: `endpoint`, fake `credentials`). In production leave it out: the
   * SDK's default credential chain finds the ECS task role, and `AWS_ENDPOINT_URL_SECRETS_MANAGER`
   * is honoured by the SDK itself.
   */
  clientConfig?: SecretsManagerClientConfig;
}

/** Per-attempt limits: a hung connection must not hold a poll (or the first read's 3 s deadline). */
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
    requestHandler: { requestTimeout: REQUEST_TIMEOUT_MS, connectionTimeout: CONNECTION_TIMEOUT_MS },
    ...options.clientConfig,
  });

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
        throw toSourceError(name, 'DescribeSecret', error);
      }
    },
    async getVersion(name, versionId, { signal } = {}): Promise<SecretVersion> {
      let out: GetSecretValueCommandOutput;
      try {
        out = await client.send(new GetSecretValueCommand({ SecretId: name, VersionId: versionId }), {
          abortSignal: signal,
        });
      } catch (error) {
        throw toSourceError(name, 'GetSecretValue', error);
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

const NOT_FOUND = new Set(['ResourceNotFoundException']);
const DENIED = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'DecryptionFailure',
  'CredentialsProviderError',
]);
const TRANSIENT = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'InternalServiceError',
  'InternalFailure',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
  'AbortError',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

interface SdkErrorLike {
  name?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** Maps an SDK error to what the provider acts on. The message keeps the AWS error name and request id only. */
export function toSourceError(secretName: string, api: string, error: unknown): SecretSourceError {
  const e = (error ?? {}) as SdkErrorLike;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const status = e.$metadata?.httpStatusCode;
  const kind = classify(name, e.code, status, e.$fault);
  const requestId = e.$metadata?.requestId ? `, request id ${e.$metadata.requestId}` : '';
  const what = status ? `${name} (HTTP ${status}${requestId})` : `${name}${e.code ? ` ${e.code}` : ''}`;
  const advice: Record<SecretSourceErrorKind, string> = {
    not_found: `the secret ${secretName} does not exist; create it (README.md, "Secrets") or fix OPSBOT_SECRET_PREFIX`,
    access_denied: `the task role may not call secretsmanager:${api} on ${secretName} (or KMS refused); check its IAM policy`,
    transient: 'Secrets Manager is throttling, failing or unreachable; retrying with backoff',
    invalid: 'Secrets Manager rejected the request',
  };
  // No cause: SDK errors carry request headers and bodies; the name, status and request id are enough.
  return new SecretSourceError(kind, secretName, `${api} ${secretName}: ${what}: ${advice[kind]}`);
}

function classify(
  name: string,
  code: string | undefined,
  status: number | undefined,
  fault: string | undefined,
): SecretSourceErrorKind {
  if (NOT_FOUND.has(name)) return 'not_found';
  if (DENIED.has(name) || status === 401 || status === 403) return 'access_denied';
  if (TRANSIENT.has(name) || (status !== undefined && status >= 500) || status === 429) return 'transient';
  if (code && NETWORK_CODES.has(code)) return 'transient';
  if (fault === 'server') return 'transient';
  if (status !== undefined && status >= 400) return 'invalid';
  // No HTTP status at all: the request never got an answer (socket errors, timeouts).
  return 'transient';
}
