import type { Clock, Random } from '../clock.js';
import { SecretValue } from '../log/secret-value.js';
import type { Logger, SecretMasker } from '../log.js';
import { type BackoffPolicy, DEFAULT_BACKOFF, fullJitterDelay, jitteredInterval } from '../time/backoff.js';
import { abortable, deadlineSignal, waitAtMost, within } from '../time/deadline.js';
import { CredentialUnavailableError } from './errors.js';
import type { CredentialEvents } from './events.js';
import type { CredentialMetrics, RefreshOutcome } from './metrics.js';
import {
  type Credential,
  type CredentialChange,
  type SecretEntry as Entry,
  MalformedSecretError,
  newEntry,
  overdueSince,
  summarize,
  toFailure,
  unusableReason,
  versionWithStage,
} from './secret-entry.js';
import { parseSecret, type SecretCatalog, type SecretSpec, sensitiveValues } from './secret-spec.js';
import { type SecretDescription, type SecretSource, SecretSourceError, STAGE } from './source.js';
import { sourceWords } from './source-words.js';

/** At most one check of the source per second per secret after opsbot rotated it. */
const CHECK_NOW_INTERVAL_MS = 1_000;

export type { Credential, CredentialChange } from './secret-entry.js';

export interface CredentialProviderOptions {
  source: SecretSource;
  /** Every secret opsbot knows, with its shape (from the integration registry). */
  catalog: SecretCatalog;
  prefix: string;
  /** Seconds between DescribeSecret polls per secret (spread ±20%). */
  pollSeconds: number;
  /** How long a last-known-good value is served while the source fails; then reads fail closed. */
  maxStaleSeconds: number;
  log: Logger;
  /** Values are registered the moment they are loaded, and retired when their version is evicted. */
  redactor: SecretMasker;
  /** Loads, version changes and emergency rotations, as they happen (the app audits them). */
  events: CredentialEvents;
  metrics: CredentialMetrics;
  clock: Clock;
  random?: Random;
  /** The first read of a secret waits at most this long (default 3 s). */
  firstReadTimeoutMs?: number;
  /** Each source call (DescribeSecret, GetSecretValue) is abandoned after this long (default 2.5 s). */
  callTimeoutMs?: number;
  /** A whole refresh (describe, load CURRENT, prefetch PENDING) is abandoned after this long (default 5 s). */
  refreshTimeoutMs?: number;
  /** A request waits at most this long for the refresh its auth failure asked for (default 1 s). */
  authFailureWaitMs?: number;
  /** Auth-failure refreshes of one secret version: at most one per this many ms (default 5 s). */
  forcedRefreshIntervalMs?: number;
  /**
   * PREVIOUS verifies inbound requests for this long after a change (default 5 minutes,
   * OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS); never once AWSCURRENT carries OPSBOT_EMERGENCY.
   */
  previousGraceMs?: number;
  backoff?: BackoffPolicy;
}

/** Default of OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS: Slack switches signing secrets within seconds. */
export const DEFAULT_PREVIOUS_GRACE_SECONDS = 300;
/** An evicted version's values stay masked this long (clients built from it may still be logging). */
const EVICTED_MASK_GRACE_MS = 10 * 60_000;

/**
 * Caches each integration's secret and keeps it fresh (README.md, "How secrets stay fresh"):
 * - polls DescribeSecret every `pollSeconds` ±20% and calls GetSecretValue only for a version id it
 *   has not loaded (a new AWSCURRENT, or an AWSPENDING to prefetch);
 * - every source call has a deadline (2.5 s) and so has every refresh (5 s), on the injected clock and
 *   tied to `stop()`; concurrent cold reads share one load (3 s first-read deadline); warm reads never
 *   wait on a refresh, and a request waits at most 1 s for the refresh its auth failure asked for;
 * - on throttling, 5xx, timeouts, network errors and failures of opsbot's own AWS credentials it
 *   serves the last good value for up to `maxStaleSeconds` (counted from the last confirmation, also
 *   while a refresh hangs), retrying with full-jitter backoff; AccessDenied and ResourceNotFound fail
 *   at once;
 * - on a version change it registers the new values with the log redactor, writes an audit event and
 *   tells subscribers, so clients built from the old secret are rebuilt; values of evicted versions
 *   are retired from the redactor;
 * - when AWSCURRENT carries OPSBOT_EMERGENCY, PREVIOUS and PENDING are dropped at once.
 *
 * @example
 * const provider = new CredentialProvider({ source, prefix: 'opsbot/', pollSeconds: 60, ... });
 * await provider.start(['slack', 'github']);
 * const { value } = provider.current('github');
 */
export class CredentialProvider {
  readonly #o: Required<Omit<CredentialProviderOptions, 'random' | 'backoff'>> & {
    random: Random;
    backoff: BackoffPolicy;
  };
  readonly #entries = new Map<string, Entry>();
  readonly #abort = new AbortController();

  constructor(options: CredentialProviderOptions) {
    this.#o = {
      firstReadTimeoutMs: 3_000,
      callTimeoutMs: 2_500,
      refreshTimeoutMs: 5_000,
      authFailureWaitMs: 1_000,
      forcedRefreshIntervalMs: 5_000,
      previousGraceMs: DEFAULT_PREVIOUS_GRACE_SECONDS * 1_000,
      random: Math.random,
      backoff: DEFAULT_BACKOFF,
      ...options,
    };
  }

  /**
   * Starts polling `integrations` and waits for each first load to finish or fail (never longer than
   * the first-read deadline). Failures are logged and retried in the background; see {@link isLoaded}.
   */
  async start(integrations: readonly string[] = [...this.#o.catalog.keys()]): Promise<void> {
    const loads = integrations.map((integration) => {
      const entry = this.#entry(integration);
      return this.#withDeadline(entry, this.#refresh(entry)).catch(() => undefined);
    });
    await Promise.all(loads);
  }

  /** Stops polling and aborts source calls in flight. */
  stop(): void {
    this.#abort.abort();
    for (const entry of this.#entries.values()) entry.cancelTimer?.();
  }

  /** Stops, then lets the source go (sockets; Vault's token is revoked). The process is shutting down. */
  async close(): Promise<void> {
    this.stop();
    await this.#o.source.close?.();
  }

  /** Resolves once no refresh is in flight (tests and benchmarks step a fake clock with it). */
  async settled(): Promise<void> {
    for (;;) {
      const running = [...this.#entries.values()].map((e) => e.refreshing).filter(Boolean);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** Whether a usable CURRENT value is cached (what `/readyz` checks for required secrets). */
  isLoaded(integration: string): boolean {
    const entry = this.#entries.get(integration);
    return entry !== undefined && this.#usable(entry) === undefined;
  }

  /** Whether the integration's secret exists (false only once the source said it does not). */
  isConfigured(integration: string): boolean {
    return this.#entries.get(integration)?.failure?.kind !== 'not_found';
  }

  /**
   * The cached CURRENT credential, synchronously: the warm path of every call. Throws a
   * UserFacingError when there is none, or when it may no longer be used.
   */
  current<S>(secret: SecretSpec<S>): Credential<S>;
  current(integration: string): Credential;
  current(secret: string | SecretSpec): Credential {
    const integration = this.#named(secret);
    const entry = this.#entry(integration);
    const problem = this.#usable(entry);
    if (problem) {
      this.#o.metrics.read(integration, 'unavailable');
      throw problem;
    }
    this.#o.metrics.read(integration, 'hit');
    return entry.versions.get(entry.labels.current as string) as Credential;
  }

  /**
   * The CURRENT credential; on a cold cache, loads it (one source call however many readers wait)
   * within the first-read deadline. Never waits on a refresh once a value is cached. Asked for by
   * its spec (`get(slack.secret)`), the value has the type the spec's schema parses to; by name,
   * it is `unknown` (the spec must be the catalog's own: the value was parsed with its schema).
   */
  get<S>(secret: SecretSpec<S>): Promise<Credential<S>>;
  get(integration: string): Promise<Credential>;
  async get(secret: string | SecretSpec): Promise<Credential> {
    const integration = this.#named(secret);
    const entry = this.#entry(integration);
    if (this.#usable(entry) === undefined) return this.current(integration);
    const cold = entry.labels.current === undefined;
    const coolingDown = this.#o.clock.now() - entry.checkedAt < this.#o.forcedRefreshIntervalMs;
    if (cold && (entry.refreshing || !coolingDown)) {
      this.#o.metrics.read(integration, 'miss');
      await this.#withDeadline(entry, this.#refresh(entry));
    }
    return this.current(integration);
  }

  /** The pending credential (AWSPENDING), if one is loaded and differs from CURRENT. */
  pending<S>(secret: SecretSpec<S>): Credential<S> | undefined;
  pending(integration: string): Credential | undefined;
  pending(secret: string | SecretSpec): Credential | undefined {
    const entry = this.#entries.get(this.#named(secret));
    const id = entry?.labels.pending;
    return id ? entry?.versions.get(id) : undefined;
  }

  /**
   * The catalog name of a secret asked for by name or by spec. A spec must carry the catalog's own
   * schema: the value it types was parsed with that one, not with a look-alike.
   */
  #named(secret: string | SecretSpec): string {
    if (typeof secret === 'string') return secret;
    const registered = this.#o.catalog.get(secret.name);
    if (registered && registered.schema !== secret.schema) {
      throw new Error(
        `the secret "${secret.name}" was asked for with a spec the provider was not built with: read it through the integration's own spec`,
      );
    }
    return secret.name;
  }

  /**
   * Credentials an inbound request may be signed with, in order: CURRENT, PENDING, then PREVIOUS
   * for `previousGraceMs` after a change; CURRENT alone once it carries OPSBOT_EMERGENCY. Empty when
   * CURRENT may not be used.
   */
  inboundCandidates<S>(secret: SecretSpec<S>): Credential<S>[];
  inboundCandidates(integration: string): Credential[];
  inboundCandidates(secret: string | SecretSpec): Credential[] {
    const entry = this.#entries.get(this.#named(secret));
    if (!entry || this.#usable(entry)) return [];
    const ids = [entry.labels.current, entry.labels.pending];
    if (this.#o.clock.now() < entry.previousUntil) ids.push(entry.labels.previous);
    return ids
      .filter((id): id is string => id !== undefined)
      .map((id) => entry.versions.get(id))
      .filter((c): c is Credential => c !== undefined);
  }

  /**
   * After `integration` rejected version `rejectedVersionId`: check the source at once (one call
   * however many callers fail together), unless CURRENT has already moved on. Rate-limited to one
   * check per 5 s per rejected version, so a revoked credential cannot turn traffic into a storm of
   * DescribeSecret calls, while each new rotation is still picked up within one request. A forced
   * check starts the backoff over. The caller waits for it at most `authFailureWaitMs` (1 s): a slow
   * source never holds a request longer; the check goes on in the background.
   */
  async refreshAfterAuthFailure(integration: string, rejectedVersionId: string): Promise<void> {
    const entry = this.#entry(integration);
    if (entry.labels.current !== rejectedVersionId) return;
    if (!entry.refreshing) {
      const now = this.#o.clock.now();
      const last = entry.lastForced;
      if (last && last.versionId === rejectedVersionId && now - last.at < this.#o.forcedRefreshIntervalMs)
        return;
      entry.lastForced = { at: now, versionId: rejectedVersionId };
      entry.attempt = 0;
    }
    await waitAtMost(this.#o.clock, this.#refresh(entry), this.#o.authFailureWaitMs);
  }

  /**
   * Check the source at once because opsbot knows it should: it has just rotated this secret itself
   * (`/opsbot rotate` sees AWSCURRENT move), or a call found the credential unconfirmed for too
   * long. Its own limit, one check per second per secret, apart from the auth-failure one: a
   * webhook that presented the new value a moment earlier must not delay this check by 5 s.
   */
  async checkNow(integration: string): Promise<void> {
    const entry = this.#entry(integration);
    if (!entry.refreshing) {
      const now = this.#o.clock.now();
      if (entry.lastCheckNow !== undefined && now - entry.lastCheckNow < CHECK_NOW_INTERVAL_MS) return;
      entry.lastCheckNow = now;
      entry.attempt = 0;
    }
    await waitAtMost(this.#o.clock, this.#refresh(entry), this.#o.authFailureWaitMs);
  }

  /** Subscribes to CURRENT changes of one integration; returns the unsubscribe function. */
  onChange<S>(secret: SecretSpec<S>, listener: (change: CredentialChange<S>) => void): () => void;
  onChange(integration: string, listener: (change: CredentialChange) => void): () => void;
  onChange(secret: string | SecretSpec, listener: (change: CredentialChange) => void): () => void {
    const entry = this.#entry(this.#named(secret));
    entry.listeners.add(listener);
    return () => entry.listeners.delete(listener);
  }

  /** The secret's name for an integration (`<prefix><integration>`). */
  secretName(integration: string): string {
    return `${this.#o.prefix}${integration}`;
  }

  /** The secrets this provider knows (the catalog's names). */
  names(): string[] {
    return [...this.#o.catalog.keys()];
  }

  /** The field of a secret that verifies inbound requests (`signingSecret`), if it has one. */
  inboundField(integration: string): string | undefined {
    return this.#o.catalog.get(integration)?.inbound;
  }

  #entry(integration: string): Entry {
    let entry = this.#entries.get(integration);
    if (!entry) {
      const spec = this.#o.catalog.get(integration);
      if (!spec) throw new Error(`no secret named "${integration}" is registered`);
      entry = newEntry(spec, this.secretName(integration));
      this.#entries.set(integration, entry);
    }
    return entry;
  }

  /** Undefined when CURRENT may be served; otherwise the error a reader gets. */
  #usable(entry: Entry): Error | undefined {
    return unusableReason(
      entry,
      this.#o.clock.now(),
      this.#o.maxStaleSeconds * 1_000,
      sourceWords(this.#o.source.kind),
    );
  }

  /**
   * Seconds each cached secret has gone unconfirmed while its source fails, or while a refresh has
   * been running for more than a second (0 when healthy).
   */
  *staleness(): Iterable<[string, number]> {
    const now = this.#o.clock.now();
    for (const entry of this.#entries.values()) {
      const overdue = overdueSince(entry, now) !== undefined;
      const stale = !overdue || entry.confirmedAt === 0 ? 0 : now - entry.confirmedAt;
      yield [entry.integration, Math.round(stale / 1_000)];
    }
  }

  /**
   * What is wrong with the source while values are still served (for `/readyz`'s `degraded`): one
   * line per secret whose source fails, with how long its value has gone unconfirmed. Never a value,
   * and not the source's error either (`/readyz` may be reachable from outside): the logs have it.
   */
  troubles(): string[] {
    const now = this.#o.clock.now();
    const lines: string[] = [];
    for (const entry of this.#entries.values()) {
      const { failure } = entry;
      if (!failure || failure.kind === 'not_found' || entry.labels.current === undefined) continue;
      const stale = entry.confirmedAt === 0 ? 0 : Math.round((now - entry.confirmedAt) / 1_000);
      lines.push(
        failure.kind === 'transient'
          ? `${entry.integration}: the ${this.#o.source.kind} secret source is failing; serving the last good value, unconfirmed for ${stale} s (at most ${this.#o.maxStaleSeconds} s)`
          : `${entry.integration}: the ${this.#o.source.kind} secret source refused or returned an unusable value (${failure.kind}); serving the last good value (see the logs)`,
      );
    }
    return lines;
  }

  #withDeadline<T>(entry: Entry, work: Promise<T>): Promise<T> {
    const seconds = this.#o.firstReadTimeoutMs / 1_000;
    return within(
      this.#o.clock,
      work,
      this.#o.firstReadTimeoutMs,
      () =>
        new CredentialUnavailableError(
          entry.spec.title,
          `the secret store did not answer within ${seconds} s. Try again in a minute; if it keeps ` +
            'happening, ask an opsbot admin to check /readyz and the logs.',
        ),
    );
  }

  /** One refresh per secret at a time: callers that arrive while one runs share it. */
  #refresh(entry: Entry): Promise<RefreshOutcome> {
    entry.refreshing ??= this.#runRefresh(entry).finally(() => {
      entry.refreshing = undefined;
    });
    return entry.refreshing;
  }

  async #runRefresh(entry: Entry): Promise<RefreshOutcome> {
    const { clock } = this.#o;
    entry.checkedAt = clock.now();
    entry.refreshStartedAt = entry.checkedAt;
    entry.cancelTimer?.();
    const seconds = this.#o.refreshTimeoutMs / 1_000;
    const deadline = deadlineSignal(
      clock,
      this.#o.refreshTimeoutMs,
      this.#abort.signal,
      () =>
        new SecretSourceError(
          'transient',
          entry.name,
          `refreshing ${entry.name} took longer than ${seconds} s: ${sourceWords(this.#o.source.kind).store} is slow or unreachable; ` +
            'serving the last good value and retrying with backoff',
        ),
    );
    let outcome: RefreshOutcome;
    try {
      outcome = await this.#check(entry, deadline.signal);
      this.#recordSuccess(entry);
    } catch (error) {
      outcome = this.#recordFailure(entry, error);
    } finally {
      deadline.cancel();
      entry.refreshStartedAt = undefined;
    }
    this.#o.metrics.refresh(entry.integration, outcome);
    this.#scheduleNext(entry, outcome);
    return outcome;
  }

  /**
   * One source call, abandoned at its own deadline or the refresh's, whichever comes first, even if
   * the source ignores the signal.
   */
  async #call<T>(
    entry: Entry,
    api: 'DescribeSecret' | 'GetSecretValue',
    refresh: AbortSignal,
    call: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const seconds = this.#o.callTimeoutMs / 1_000;
    const deadline = deadlineSignal(
      this.#o.clock,
      this.#o.callTimeoutMs,
      refresh,
      () =>
        new SecretSourceError(
          'transient',
          entry.name,
          `${api} ${entry.name}: no answer within ${seconds} s: ${sourceWords(this.#o.source.kind).store} is slow or unreachable; ` +
            'serving the last good value and retrying with backoff',
        ),
    );
    this.#o.metrics.sourceCall(api);
    try {
      return await abortable(call(deadline.signal), deadline.signal);
    } finally {
      deadline.cancel();
    }
  }

  async #check(entry: Entry, signal: AbortSignal): Promise<RefreshOutcome> {
    const { source } = this.#o;
    const description = await this.#call(entry, 'DescribeSecret', signal, (s) =>
      source.describe(entry.name, { signal: s }),
    );
    const currentId = versionWithStage(description.versions, STAGE.current);
    if (!currentId) {
      // Created empty (as the CDK app does) and not set yet: the integration is simply not configured.
      if (entry.labels.current === undefined)
        throw new SecretSourceError(
          'not_found',
          entry.name,
          `${entry.name} has no value yet (no AWSCURRENT version)`,
        );
      throw new SecretSourceError('invalid', entry.name, `${entry.name} has no AWSCURRENT version`);
    }
    const emergency = description.versions.get(currentId)?.includes(STAGE.emergency) === true;
    const pendingCandidate = versionWithStage(description.versions, STAGE.pending);
    const pendingId = emergency || pendingCandidate === currentId ? undefined : pendingCandidate;
    entry.arn = description.arn;

    const current = entry.versions.get(currentId) ?? (await this.#load(entry, currentId, signal));
    let pending = pendingId ? entry.versions.get(pendingId) : undefined;
    if (pendingId && !pending) {
      // Prefetch: a failed or malformed pending version must not block CURRENT; next poll retries.
      pending = await this.#load(entry, pendingId, signal).catch((error: unknown) => {
        this.#o.log.warn(
          { integration: entry.integration, versionId: pendingId, err: summarize(error) },
          'could not prefetch the pending secret version',
        );
        return undefined;
      });
    }

    const before = entry.labels.current;
    const previous = before === undefined ? undefined : entry.versions.get(before);
    const changed = before !== currentId;
    if (changed && before !== undefined) {
      entry.labels.previous = before;
      entry.previousUntil = this.#o.clock.now() + this.#o.previousGraceMs;
    }
    const revokedPrevious = revokedVersion(description, entry.labels.previous);
    if (revokedPrevious) this.#endGraceOfRevoked(entry, revokedPrevious);
    const newlyEmergency = emergency && entry.emergencyVersionId !== currentId;
    const dropped = emergency ? this.#dropAllButCurrent(entry, currentId) : [];
    entry.emergencyVersionId = emergency ? currentId : undefined;
    entry.labels.current = currentId;
    entry.labels.pending = pending ? pendingId : undefined;
    this.#evict(entry);
    if (changed) this.#announce(entry, previous, current);
    if (newlyEmergency || dropped.length > 0) this.#announceEmergency(entry, current, dropped);
    return changed ? 'changed' : 'unchanged';
  }

  /** The source revoked the previous version (deleted or destroyed in Vault): its grace ends now. */
  #endGraceOfRevoked(entry: Entry, versionId: string): void {
    entry.labels.previous = undefined;
    entry.previousUntil = 0;
    const details = { integration: entry.integration, versionId };
    this.#o.log.warn(
      details,
      'the previous secret version was deleted or destroyed at the source: no longer accepted',
    );
    this.#o.events.emit({ action: 'secret.previous_revoked', details });
  }

  /** Emergency rotation: forgets PREVIOUS and PENDING; returns the version ids it dropped. */
  #dropAllButCurrent(entry: Entry, currentId: string): string[] {
    const dropped = [entry.labels.previous, entry.labels.pending].filter(
      (id): id is string => id !== undefined && id !== currentId,
    );
    entry.labels.previous = undefined;
    entry.labels.pending = undefined;
    entry.previousUntil = 0;
    return dropped;
  }

  async #load(entry: Entry, versionId: string, signal: AbortSignal): Promise<Credential> {
    const version = await this.#call(entry, 'GetSecretValue', signal, (s) =>
      this.#o.source.getVersion(entry.name, versionId, { signal: s }),
    );
    const text = version.secretString.reveal();
    const parsed = parseSecret(entry.spec, text);
    if (!parsed.ok) throw new MalformedSecretError(entry.name, versionId, parsed.problems);
    // Register before anything can log it.
    for (const value of sensitiveValues(entry.spec, parsed.value)) this.#o.redactor.register(value);
    const credential: Credential = {
      integration: entry.integration,
      name: entry.name,
      arn: version.arn,
      versionId,
      value: new SecretValue(parsed.value),
    };
    entry.versions.set(versionId, credential);
    return credential;
  }

  /**
   * Keeps only the versions a label points at (at most three); the values of the others are retired
   * from the redactor after a grace (a value another kept version shares stays masked).
   */
  #evict(entry: Entry): void {
    const keep = new Set([entry.labels.current, entry.labels.pending, entry.labels.previous]);
    for (const [id, credential] of entry.versions) {
      if (keep.has(id)) continue;
      entry.versions.delete(id);
      for (const value of sensitiveValues(entry.spec, credential.value.reveal()))
        this.#o.redactor.retire(value, { after: EVICTED_MASK_GRACE_MS });
    }
  }

  #announceEmergency(entry: Entry, current: Credential, dropped: readonly string[]): void {
    const details = {
      integration: entry.integration,
      arn: current.arn,
      versionId: current.versionId,
      droppedVersionIds: dropped.join(','),
    };
    this.#o.log.warn(details, 'emergency rotation: only AWSCURRENT is accepted');
    this.#o.events.emit({ action: 'secret.emergency_rotation', details });
  }

  #announce(entry: Entry, previous: Credential | undefined, current: Credential): void {
    const { integration } = entry;
    const details = { integration, arn: current.arn, versionId: current.versionId };
    if (previous) {
      this.#o.metrics.versionChange(integration);
      this.#o.log.info({ ...details, previousVersionId: previous.versionId }, 'secret version changed');
    } else {
      this.#o.log.info(details, 'secret loaded');
    }
    this.#o.events.emit({
      action: previous ? 'secret.version_changed' : 'secret.loaded',
      details: { ...details, previousVersionId: previous?.versionId },
    });
    if (!previous) return;
    for (const listener of entry.listeners) {
      try {
        listener({ integration, previous, current });
      } catch (error) {
        this.#o.log.error({ integration, err: error }, 'a secret change subscriber failed');
      }
    }
  }

  #recordSuccess(entry: Entry): void {
    if (entry.failure) {
      this.#o.log.info({ integration: entry.integration }, 'secret store reachable again');
    }
    entry.confirmedAt = this.#o.clock.now();
    entry.failingSince = undefined;
    entry.failure = undefined;
    entry.attempt = 0;
  }

  #recordFailure(entry: Entry, error: unknown): RefreshOutcome {
    const failure = toFailure(entry.name, error);
    const kindChanged = entry.failure?.kind !== failure.kind;
    entry.failure = failure;
    entry.failingSince ??= this.#o.clock.now();
    entry.attempt += 1;
    if (this.#abort.signal.aborted) return 'transient_error';
    const fields = { integration: entry.integration, secret: entry.name, reason: failure.message };
    if (failure.kind === 'not_found') {
      if (kindChanged)
        this.#o.log.info(fields, 'integration not configured: its secret does not exist or has no value yet');
      return 'not_found';
    }
    if (failure.kind === 'transient') {
      // Nothing to serve yet (start-up): an error, so that "no AWS credentials found" stands out.
      if (entry.labels.current === undefined)
        this.#o.log.error(
          { ...fields, attempt: entry.attempt },
          'secret store failing; nothing loaded yet, retrying',
        );
      else
        this.#o.log.warn(
          { ...fields, attempt: entry.attempt },
          'secret store failing; serving the last good value',
        );
      return 'transient_error';
    }
    this.#o.log.error({ ...fields, problems: failure.problems }, 'secret unusable');
    return failure.kind === 'access_denied' ? 'access_denied' : 'invalid';
  }

  #scheduleNext(entry: Entry, outcome: RefreshOutcome): void {
    if (this.#abort.signal.aborted) return;
    const { random } = this.#o;
    const pollMs = jitteredInterval(this.#o.pollSeconds * 1_000, 0.2, random);
    const healthy = outcome === 'changed' || outcome === 'unchanged' || outcome === 'not_found';
    const delay = healthy ? pollMs : Math.max(1, fullJitterDelay(entry.attempt - 1, this.#o.backoff, random));
    entry.cancelTimer?.();
    entry.cancelTimer = this.#o.clock.schedule(() => {
      entry.cancelTimer = undefined;
      void this.#refresh(entry);
    }, delay);
  }
}

/** `versionId` when the source lists it as revoked. */
function revokedVersion(description: SecretDescription, versionId: string | undefined): string | undefined {
  return versionId !== undefined && description.revoked?.has(versionId) ? versionId : undefined;
}
