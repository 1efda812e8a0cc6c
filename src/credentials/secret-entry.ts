import type { SecretValue } from '../log/secret-value.js';
import { CredentialUnavailableError, IntegrationNotConfiguredError } from './errors.js';
import type { RefreshOutcome } from './metrics.js';
import type { SecretSpec } from './secret-spec.js';
import { SecretSourceError } from './source.js';
import type { SourceWords } from './source-words.js';

/** One loaded version of a secret. The value is wrapped: it prints as `[REDACTED]`. */
export interface Credential<S = unknown> {
  /** The catalog name: `github`. */
  integration: string;
  /** The secret's name, `<prefix><integration>`. */
  name: string;
  arn: string;
  versionId: string;
  value: SecretValue<S>;
}

export interface CredentialChange<S = unknown> {
  integration: string;
  previous: Credential<S> | undefined;
  current: Credential<S>;
}

export type Failure = { kind: SecretSourceError['kind']; message: string; problems?: readonly string[] };

/** What the provider knows about one integration's secret. */
export interface SecretEntry {
  integration: string;
  spec: SecretSpec;
  name: string;
  arn: string;
  /** At most three: CURRENT, PENDING and PREVIOUS, keyed by version id. */
  versions: Map<string, Credential>;
  /** Staging labels, kept apart from the versions they point at. */
  labels: { current?: string; pending?: string; previous?: string };
  /** PREVIOUS verifies inbound requests until then (OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS after a change). */
  previousUntil: number;
  /** The AWSCURRENT version seen carrying OPSBOT_EMERGENCY: no other version is accepted. */
  emergencyVersionId: string | undefined;
  /** Last time the source confirmed CURRENT. */
  confirmedAt: number;
  /** Last time a refresh started (rate limit for cold reads of a missing secret). */
  checkedAt: number;
  /** Set while the source fails; reads of a cached value stay allowed until the staleness bound. */
  failingSince: number | undefined;
  failure: Failure | undefined;
  attempt: number;
  refreshing: Promise<RefreshOutcome> | undefined;
  /** When the refresh in flight started. */
  refreshStartedAt: number | undefined;
  lastForced: { at: number; versionId: string | undefined } | undefined;
  /** When `checkNow` last checked the source (opsbot rotated the secret, or a credential went unconfirmed too long). */
  lastCheckNow: number | undefined;
  cancelTimer: (() => void) | undefined;
  listeners: Set<(change: CredentialChange) => void>;
}

export function newEntry(spec: SecretSpec, name: string): SecretEntry {
  return {
    integration: spec.name,
    spec,
    name,
    arn: name,
    versions: new Map(),
    labels: {},
    previousUntil: 0,
    emergencyVersionId: undefined,
    confirmedAt: 0,
    checkedAt: Number.NEGATIVE_INFINITY,
    failingSince: undefined,
    failure: undefined,
    attempt: 0,
    refreshing: undefined,
    refreshStartedAt: undefined,
    lastForced: undefined,
    lastCheckNow: undefined,
    cancelTimer: undefined,
    listeners: new Set(),
  };
}

const MAX_PROBLEMS_SHOWN = 3;

/** A refresh still running after this long counts as the source failing (staleness, max-stale). */
export const SLOW_REFRESH_MS = 1_000;

/**
 * Since when the cached value has been going unconfirmed: the first failure of the source, or the
 * start of a refresh that has now run for more than {@link SLOW_REFRESH_MS}. Undefined when healthy.
 */
export function overdueSince(entry: SecretEntry, now: number): number | undefined {
  if (entry.failingSince !== undefined) return entry.failingSince;
  const started = entry.refreshStartedAt;
  return started !== undefined && now - started > SLOW_REFRESH_MS ? started : undefined;
}

/**
 * Why CURRENT may not be served, as the error a reader gets (safe for Slack), or undefined when it
 * may. Missing and access-denied secrets fail at once; a source that merely fails (throttling, 5xx,
 * network) is tolerated until the value has gone unconfirmed for longer than `maxStaleMs`.
 */
export function unusableReason(
  entry: SecretEntry,
  now: number,
  maxStaleMs: number,
  words: SourceWords,
): Error | undefined {
  const { failure } = entry;
  const integration = entry.spec.title;
  if (failure?.kind === 'not_found') return new IntegrationNotConfiguredError(integration, entry.name);
  if (failure?.kind === 'access_denied') {
    return new CredentialUnavailableError(
      integration,
      `${words.store} refused access to \`${entry.name}\`. Ask an opsbot admin to check ${words.access}.`,
    );
  }
  if (entry.labels.current === undefined) {
    if (failure?.kind === 'invalid') {
      const shown = failure.problems?.slice(0, MAX_PROBLEMS_SHOWN).join('; ') ?? 'it could not be read';
      return new CredentialUnavailableError(
        integration,
        `the secret \`${entry.name}\` is malformed (${shown}). Ask an opsbot admin to fix it (README.md, "Secret shapes").`,
      );
    }
    return new CredentialUnavailableError(
      integration,
      'it has not been loaded from the secret store yet. Try again in a minute.',
    );
  }
  if (overdueSince(entry, now) !== undefined && now - entry.confirmedAt > maxStaleMs) {
    return new CredentialUnavailableError(
      integration,
      `the secret store has not confirmed it for ${Math.round((now - entry.confirmedAt) / 1_000)} s, longer ` +
        `than OPSBOT_SECRET_MAX_STALE_SECONDS allows. Ask an opsbot admin to check ${words.store}.`,
    );
  }
  return undefined;
}

/** A version whose SecretString does not match the integration's schema; `problems` never quote it. */
export class MalformedSecretError extends Error {
  constructor(
    readonly secretName: string,
    readonly versionId: string,
    readonly problems: readonly string[],
  ) {
    super(`${secretName} version ${versionId} is malformed: ${problems.join('; ')}`);
    this.name = 'MalformedSecretError';
  }
}

export function versionWithStage(
  versions: ReadonlyMap<string, readonly string[]>,
  stage: string,
): string | undefined {
  for (const [id, stages] of versions) if (stages.includes(stage)) return id;
  return undefined;
}

export function toFailure(secretName: string, error: unknown): Failure {
  if (error instanceof SecretSourceError) return { kind: error.kind, message: error.message };
  if (error instanceof MalformedSecretError) {
    return { kind: 'invalid', message: error.message, problems: error.problems };
  }
  // Anything else (a bug, an abort) is retried like a transient failure.
  return { kind: 'transient', message: `unexpected error reading ${secretName}: ${summarize(error)}` };
}

export function summarize(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
}
