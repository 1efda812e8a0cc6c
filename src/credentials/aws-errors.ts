import type { Env } from '../config.js';
import { SecretSourceError, type SecretSourceErrorKind } from './source.js';

/** Secrets Manager's own refusals: a decision an operator made (IAM policy, KMS key policy). Fail closed. */
const DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'DecryptionFailure']);
const NOT_FOUND = new Set(['ResourceNotFoundException']);
/** The SDK found no credentials anywhere in its default chain. */
const NO_CREDENTIALS = new Set(['CredentialsProviderError']);
/**
 * opsbot's own AWS credentials were refused: expired (ECS rotates them before they do, so a retry
 * picks up fresh ones), unknown, or signed with a clock more than 5 minutes off. Not a decision
 * about this secret: the last good value keeps being served, within OPSBOT_SECRET_MAX_STALE_SECONDS.
 */
const OWN_CREDENTIALS_REFUSED = new Set([
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
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

/** Where the SDK's default credential chain looks, in its order, with the variables that steer it. */
const CREDENTIAL_CHAIN: readonly { where: string; variables: readonly string[] }[] = [
  {
    where: 'the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)',
    variables: ['AWS_ACCESS_KEY_ID'],
  },
  {
    where: 'the shared config and credentials files (~/.aws/config, ~/.aws/credentials; AWS_PROFILE)',
    variables: ['AWS_PROFILE', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE'],
  },
  { where: 'a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)', variables: ['AWS_WEB_IDENTITY_TOKEN_FILE'] },
  {
    where:
      'ECS container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, which ECS sets when the task definition has a task role)',
    variables: ['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI'],
  },
  { where: 'EC2 instance metadata', variables: [] },
];

interface SdkErrorLike {
  name?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

type Cause = SecretSourceErrorKind | 'no_credentials' | 'own_credentials';

/**
 * Maps an SDK error to what the provider acts on. The message keeps the AWS error name and request
 * id only, and says what to do next. `env` (names only, never values) lets the message say which
 * credential variables are set when none were found.
 */
export function toSourceError(secretName: string, api: string, error: unknown, env?: Env): SecretSourceError {
  const e = (error ?? {}) as SdkErrorLike;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const status = e.$metadata?.httpStatusCode;
  const cause = classify(name, e.code, status, e.$fault);
  const requestId = e.$metadata?.requestId ? `, request id ${e.$metadata.requestId}` : '';
  const what = status ? `${name} (HTTP ${status}${requestId})` : `${name}${e.code ? ` ${e.code}` : ''}`;
  const kind: SecretSourceErrorKind =
    cause === 'no_credentials' || cause === 'own_credentials' ? 'transient' : cause;
  const message =
    cause === 'no_credentials'
      ? `${api} ${secretName}: no AWS credentials found (${what}). ${noCredentialsAdvice(env)}`
      : `${api} ${secretName}: ${what}: ${advice(cause, secretName, api)}`;
  // No cause: SDK errors carry request headers and bodies; the name, status and request id are enough.
  return new SecretSourceError(kind, secretName, message);
}

function advice(cause: Exclude<Cause, 'no_credentials'>, secretName: string, api: string): string {
  switch (cause) {
    case 'not_found':
      return `the secret ${secretName} does not exist; create it (README.md, "Secrets") or fix OPSBOT_SECRET_PREFIX`;
    case 'access_denied':
      return `the task role may not call secretsmanager:${api} on ${secretName} (or KMS refused); check its IAM policy`;
    case 'own_credentials':
      return (
        "opsbot's own AWS credentials were refused (expired, unknown, or signed by a clock more than 5 minutes " +
        'off); serving the last good value and retrying with backoff. If it persists, check the task role ' +
        "and the host's clock (NTP)"
      );
    case 'transient':
      return 'Secrets Manager is throttling, failing or unreachable; retrying with backoff';
    case 'invalid':
      return 'Secrets Manager rejected the request';
  }
}

function noCredentialsAdvice(env: Env | undefined): string {
  const places = CREDENTIAL_CHAIN.map((step) => step.where).join(', ');
  const set = env
    ? CREDENTIAL_CHAIN.flatMap((step) => step.variables).filter((v) => (env[v] ?? '').trim() !== '')
    : undefined;
  const here =
    set === undefined ? '' : ` Set here: ${set.length > 0 ? set.join(', ') : 'none of those variables'}.`;
  return (
    `The SDK's default credential chain looked in ${places}.${here} On ECS, give the task definition a ` +
    'task role; elsewhere set AWS_PROFILE or the variables. Retrying with backoff.'
  );
}

function classify(
  name: string,
  code: string | undefined,
  status: number | undefined,
  fault: string | undefined,
): Cause {
  if (NOT_FOUND.has(name)) return 'not_found';
  if (DENIED.has(name)) return 'access_denied';
  if (NO_CREDENTIALS.has(name)) return 'no_credentials';
  if (OWN_CREDENTIALS_REFUSED.has(name) || status === 401 || status === 403) return 'own_credentials';
  if (TRANSIENT.has(name) || (status !== undefined && status >= 500) || status === 429) return 'transient';
  if (code && NETWORK_CODES.has(code)) return 'transient';
  if (fault === 'server') return 'transient';
  if (status !== undefined && status >= 400) return 'invalid';
  // No HTTP status at all: the request never got an answer (socket errors, timeouts).
  return 'transient';
}
