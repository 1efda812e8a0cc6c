import type { Logger } from '../log.js';
import { noteCredentialUse, type RequestScope } from '../request-scope.js';
import { CredentialExpiredError, CredentialRejectedError, CredentialUnavailableError } from './errors.js';
import type { CredentialMetrics } from './metrics.js';
import type { Credential, CredentialProvider } from './provider.js';
import type { SecretSpec } from './secret-spec.js';

/**
 * How to build and judge the client of one secret (from the integration module). The credential is
 * read through `secret`, the catalog's own spec, so `createClient` gets the type its schema parses to.
 */
export interface ClientFactory<S, C> {
  secret: SecretSpec<S>;
  createClient(secret: S, credential: Credential<S>): C;
  isAuthFailure(error: unknown): boolean;
  closeClient?(client: C): void;
  /** When the credential itself expires (epoch ms), if the secret says (Slack's rotating bot token). */
  expiresAt?(secret: S): number | undefined;
}

export interface FreshCredentialsOptions<S, C> {
  provider: Pick<
    CredentialProvider,
    'get' | 'current' | 'pending' | 'onChange' | 'refreshAfterAuthFailure' | 'checkNow'
  >;
  factory: ClientFactory<S, C>;
  metrics: CredentialMetrics;
  log: Logger;
  /** The app's clock, for credentials that expire; `Date.now` by default. */
  now?: () => number;
}

/**
 * Runs one integration's calls with a client built from its current secret, and survives rotation:
 * when the service rejects the credential, it asks the provider to check the source once, then
 * retries once with the new AWSCURRENT, or with AWSPENDING if CURRENT did not move. Clients are
 * cached per secret version and rebuilt when the version changes. Typed end to end: `S` is what the
 * secret's schema parses to, `C` what its factory builds.
 *
 * @example
 * const clients = new FreshCredentials({ provider, factory: { secret: github.secret, createClient, isAuthFailure }, metrics, log });
 * const pulls = await clients.withFreshCredentials((gh) => gh.rest.pulls.list({ owner, repo }));
 */
export class FreshCredentials<S, C> {
  readonly #o: FreshCredentialsOptions<S, C>;
  readonly #name: string;
  /** Clients by secret version id. */
  readonly #clients = new Map<string, { client: C }>();
  #unsubscribe: (() => void) | undefined;

  constructor(options: FreshCredentialsOptions<S, C>) {
    this.#o = options;
    this.#name = options.factory.secret.name;
    this.#unsubscribe = options.provider.onChange(this.#name, ({ previous }) => {
      if (previous) this.#retire(previous.versionId);
    });
  }

  /**
   * Runs `fn` with the integration's client. An auth failure triggers one refresh and one retry;
   * if the credential is still rejected, a {@link CredentialRejectedError} (safe for Slack) is thrown
   * with the service's error as its cause. Other errors pass through untouched.
   */
  async withFreshCredentials<R>(
    fn: (client: C, credential: Credential<S>) => Promise<R>,
    /** The request to note the credential versions on, for its audit record. */
    scope?: RequestScope,
  ): Promise<R> {
    const { provider, metrics, factory } = this.#o;
    const integration = this.#name;
    const first = await this.#unexpired(await this.#confirmed());
    noteCredentialUse(scope, integration, first.versionId);
    try {
      return await fn(this.#clientFor(first), first);
    } catch (error) {
      if (!factory.isAuthFailure(error)) throw error;
      await provider.refreshAfterAuthFailure(integration, first.versionId);
      const next = this.#retryCandidate(first.versionId);
      if (!next) {
        metrics.authFailureRetry(integration, 'rejected');
        throw new CredentialRejectedError(factory.secret.title, first.name, { cause: error });
      }
      noteCredentialUse(scope, integration, next.versionId);
      try {
        const result = await fn(this.#clientFor(next), next);
        metrics.authFailureRetry(integration, 'recovered');
        return result;
      } catch (retryError) {
        if (!factory.isAuthFailure(retryError)) throw retryError;
        metrics.authFailureRetry(integration, 'rejected');
        throw new CredentialRejectedError(factory.secret.title, first.name, { cause: retryError });
      }
    }
  }

  /** Stops listening for changes and closes every cached client. */
  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const versionId of [...this.#clients.keys()]) this.#retire(versionId);
  }

  /**
   * The current credential. One the source has not confirmed for longer than allowed (the machine
   * slept, a clock moved, polls failed) gets one check of the source first (at most one a second),
   * and is refused only if that does not confirm it.
   */
  async #confirmed(): Promise<Credential<S>> {
    const { provider, factory } = this.#o;
    try {
      return await provider.get(factory.secret);
    } catch (error) {
      if (!(error instanceof CredentialUnavailableError)) throw error;
      await provider.checkNow(this.#name);
      return provider.get(factory.secret);
    }
  }

  /**
   * The credential, unless its own expiry has passed: then the source is checked once (the rotation
   * function may have stored a new version since the last poll) and a newer, unexpired version is
   * used; with none, a {@link CredentialExpiredError} is thrown and nothing is sent.
   */
  async #unexpired(credential: Credential<S>): Promise<Credential<S>> {
    const { factory, provider } = this.#o;
    const now = (this.#o.now ?? Date.now)();
    const expiry = (c: Credential<S>) => factory.expiresAt?.(c.value.reveal());
    const expiredAt = expiry(credential);
    if (expiredAt === undefined || expiredAt > now) return credential;
    await provider.refreshAfterAuthFailure(this.#name, credential.versionId);
    const next = this.#retryCandidate(credential.versionId);
    const nextExpiry = next ? expiry(next) : undefined;
    if (next && (nextExpiry === undefined || nextExpiry > now)) return next;
    this.#o.log.error(
      {
        integration: this.#name,
        versionId: credential.versionId,
        expiredAt: new Date(expiredAt).toISOString(),
      },
      'the credential has expired and the secret store has no newer version; not sending it',
    );
    throw new CredentialExpiredError(factory.secret.title, credential.name, expiredAt);
  }

  #retryCandidate(rejected: string): Credential<S> | undefined {
    const { provider, factory } = this.#o;
    const current = provider.current(factory.secret);
    if (current.versionId !== rejected) return current;
    const pending = provider.pending(factory.secret);
    return pending && pending.versionId !== rejected ? pending : undefined;
  }

  #clientFor(credential: Credential<S>): C {
    const cached = this.#clients.get(credential.versionId);
    if (cached) return cached.client;
    const client = this.#o.factory.createClient(credential.value.reveal(), credential);
    this.#clients.set(credential.versionId, { client });
    // CURRENT, PENDING and a retiring one at most; anything older is dropped.
    while (this.#clients.size > 3) this.#retire(this.#clients.keys().next().value as string);
    return client;
  }

  #retire(versionId: string): void {
    const cached = this.#clients.get(versionId);
    if (!cached) return;
    this.#clients.delete(versionId);
    try {
      this.#o.factory.closeClient?.(cached.client);
    } catch (error) {
      this.#o.log.warn({ integration: this.#name, err: error }, 'closing a retired client failed');
    }
  }
}
