import type { SecretSourceKind } from '../config.js';
import type { SecretValue } from '../log/secret-value.js';

/**
 * The staging labels opsbot acts on; Secrets Manager allows others, which are ignored.
 * `OPSBOT_EMERGENCY` is an operator's: on the AWSCURRENT version it means "the versions before this
 * one leaked", and opsbot stops accepting any other version at once (README.md, "Emergency rotation").
 */
export const STAGE = {
  current: 'AWSCURRENT',
  pending: 'AWSPENDING',
  previous: 'AWSPREVIOUS',
  emergency: 'OPSBOT_EMERGENCY',
} as const;

/** What DescribeSecret tells: the secret's ARN and the staging labels on each version id. */
export interface SecretDescription {
  name: string;
  arn: string;
  /** version id → staging labels (only versions that carry at least one label need be listed). */
  versions: ReadonlyMap<string, readonly string[]>;
  /**
   * Versions the source says must never be accepted again (Vault's deleted or destroyed KV
   * versions): a previous version among them loses its grace at once.
   */
  revoked?: ReadonlySet<string>;
}

/** One version of a secret, as GetSecretValue returns it. The string is wrapped: never print it. */
export interface SecretVersion {
  name: string;
  arn: string;
  versionId: string;
  stages: readonly string[];
  secretString: SecretValue<string>;
}

/**
 * Where secret values come from: AWS Secrets Manager, HashiCorp Vault / OpenBao (KV v2), the
 * local encrypted file, or environment variables. Every source speaks in Secrets Manager's terms (names, version ids, staging labels) so
 * one provider caches, polls and rotates them all alike.
 *
 * Implementations throw {@link SecretSourceError} and nothing else, and never put a secret value in
 * an error message.
 */
export interface SecretSource {
  readonly kind: SecretSourceKind;
  /** The version ids and their labels (DescribeSecret). Cheap: called on every poll. */
  describe(name: string, options?: { signal?: AbortSignal }): Promise<SecretDescription>;
  /** One version's value by id (GetSecretValue with VersionId). */
  getVersion(name: string, versionId: string, options?: { signal?: AbortSignal }): Promise<SecretVersion>;
  /**
   * Resolves once the source's own background work is done (Vault's token renewal or a new login):
   * tests and benchmarks step a fake clock with it.
   */
  settled?(): Promise<void>;
  /** Releases sockets or file handles (and, for Vault, revokes opsbot's token). */
  close?(): void | Promise<void>;
}

/**
 * Why a source call failed, in the terms the provider acts on:
 * - `not_found`: the secret does not exist (the integration is not configured). Never hidden.
 * - `access_denied`: the task role may not read it (or the key is wrong, or KMS refused). Never hidden.
 * - `transient`: throttling, 5xx, timeouts, network errors, and opsbot's own AWS credentials failing
 *   (none found yet, expired, a skewed clock); the last good value keeps being served.
 * - `invalid`: the source answered but the answer is unusable (a tampered file, a binary-only secret).
 */
export type SecretSourceErrorKind = 'not_found' | 'access_denied' | 'transient' | 'invalid';

export class SecretSourceError extends Error {
  readonly kind: SecretSourceErrorKind;
  readonly secretName: string;

  constructor(
    kind: SecretSourceErrorKind,
    secretName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SecretSourceError';
    this.kind = kind;
    this.secretName = secretName;
  }
}

/** The known secret a name `<prefix><integration>` stands for, or undefined. */
export function integrationOfSecretName(
  name: string,
  prefix: string,
  known: readonly string[],
): string | undefined {
  const rest = name.startsWith(prefix) ? name.slice(prefix.length) : undefined;
  return known.find((i) => i === rest);
}
