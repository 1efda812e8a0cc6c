import type { Logger } from '../log.js';
import { noteCredentialUse, type RequestScope } from '../request-scope.js';
import { CredentialRejectedError } from './errors.js';
import type { CredentialMetrics } from './metrics.js';
import type { Credential, CredentialProvider } from './provider.js';

/** How to build and judge the client of one secret (from the integration module). */
export interface ClientFactory {
  name: string;
  title: string;
  createClient(secret: unknown, credential: Credential): unknown;
  isAuthFailure(error: unknown): boolean;
  closeClient?(client: unknown): void;
}

export interface FreshCredentialsOptions {
  provider: CredentialProvider;
  factories: readonly ClientFactory[];
  metrics: CredentialMetrics;
  log: Logger;
}

/**
 * Runs integration calls with a client built from the current secret, and survives rotation: when
 * the service rejects the credential, it asks the provider to check the source once, then retries
 * once with the new AWSCURRENT, or with AWSPENDING if CURRENT did not move. Clients are cached per
 * secret version and rebuilt when the version changes.
 *
 * @example
 * const clients = new FreshCredentials({ provider, factories: [github], metrics, log });
 * const pulls = await clients.withFreshCredentials<Octokit, Pulls>('github', (gh) => gh.rest.pulls.list({ owner, repo }));
 */
export class FreshCredentials {
  readonly #o: FreshCredentialsOptions;
  readonly #factories = new Map<string, ClientFactory>();
  readonly #clients = new Map<string, Map<string, unknown>>();
  readonly #unsubscribe: (() => void)[] = [];

  constructor(options: FreshCredentialsOptions) {
    this.#o = options;
    for (const factory of options.factories) {
      const { name } = factory;
      this.#factories.set(name, factory);
      this.#unsubscribe.push(
        options.provider.onChange(name, ({ previous }) => {
          if (previous) this.#retire(name, previous.versionId);
        }),
      );
    }
  }

  /**
   * Runs `fn` with the integration's client. An auth failure triggers one refresh and one retry;
   * if the credential is still rejected, a {@link CredentialRejectedError} (safe for Slack) is thrown
   * with the service's error as its cause. Other errors pass through untouched.
   */
  async withFreshCredentials<C, R>(
    integration: string,
    fn: (client: C, credential: Credential) => Promise<R>,
    /** The request to note the credential versions on, for its audit record. */
    scope?: RequestScope,
  ): Promise<R> {
    const spec = this.#spec(integration);
    const { provider, metrics } = this.#o;
    const first = await provider.get(integration);
    noteCredentialUse(scope, integration, first.versionId);
    try {
      return await fn(this.#clientFor(spec, first) as C, first);
    } catch (error) {
      if (!spec.isAuthFailure(error)) throw error;
      await provider.refreshAfterAuthFailure(integration, first.versionId);
      const next = this.#retryCandidate(integration, first.versionId);
      if (!next) {
        metrics.authFailureRetry(integration, 'rejected');
        throw new CredentialRejectedError(spec.title, first.name, { cause: error });
      }
      noteCredentialUse(scope, integration, next.versionId);
      try {
        const result = await fn(this.#clientFor(spec, next) as C, next);
        metrics.authFailureRetry(integration, 'recovered');
        return result;
      } catch (retryError) {
        if (!spec.isAuthFailure(retryError)) throw retryError;
        metrics.authFailureRetry(integration, 'rejected');
        throw new CredentialRejectedError(spec.title, first.name, { cause: retryError });
      }
    }
  }

  /** Stops listening for changes and closes every cached client. */
  close(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    for (const [integration, byVersion] of this.#clients) {
      for (const versionId of [...byVersion.keys()]) this.#retire(integration, versionId);
    }
  }

  #retryCandidate(integration: string, rejected: string): Credential | undefined {
    const { provider } = this.#o;
    const current = provider.current(integration);
    if (current.versionId !== rejected) return current;
    const pending = provider.pending(integration);
    return pending && pending.versionId !== rejected ? pending : undefined;
  }

  #spec(integration: string): ClientFactory {
    const spec = this.#factories.get(integration);
    if (!spec) throw new Error(`no integration registered for ${integration}`);
    return spec;
  }

  #clientFor(spec: ClientFactory, credential: Credential): unknown {
    let byVersion = this.#clients.get(spec.name);
    if (!byVersion) {
      byVersion = new Map();
      this.#clients.set(spec.name, byVersion);
    }
    if (!byVersion.has(credential.versionId)) {
      byVersion.set(credential.versionId, spec.createClient(credential.value.reveal(), credential));
      // CURRENT, PENDING and a retiring one at most; anything older is dropped.
      while (byVersion.size > 3) this.#retire(spec.name, byVersion.keys().next().value as string);
    }
    return byVersion.get(credential.versionId);
  }

  #retire(integration: string, versionId: string): void {
    const byVersion = this.#clients.get(integration);
    const client = byVersion?.get(versionId);
    if (!byVersion || client === undefined) return;
    byVersion.delete(versionId);
    const spec = this.#factories.get(integration);
    try {
      spec?.closeClient?.(client);
    } catch (error) {
      this.#o.log.warn({ integration, err: error }, 'closing a retired client failed');
    }
  }
}
