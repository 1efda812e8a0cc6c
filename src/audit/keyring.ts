import { type Clock, systemClock } from '../clock.js';
import type { Credential } from '../credentials/secret-entry.js';
import { type AuditSecret, auditSecret, chainKeyBytes } from './audit-secret.js';
import type { ChainKey, ChainKeys } from './chain.js';

/** What the keyring needs of the credential provider. */
export interface AuditKeySource {
  isLoaded(name: string): boolean;
  current<S>(name: string): Credential<S>;
  pending<S>(name: string): Credential<S> | undefined;
}

export interface AuditKeyringOptions {
  /** Key versions remembered for verification (default 8); the current one is never dropped. */
  maxVersions?: number;
  /** Appends wait at most this long for {@link AuditKeyring.settle} (default 10 s). */
  settleTimeoutMs?: number;
  /** Times `settleTimeoutMs`; the system clock by default. */
  clock?: Clock;
}

/**
 * The chain keys of this process, from the `audit` secret. The key new records use is read from the
 * provider on each use (a warm read), so a rotation takes effect with the next batch of records,
 * with no restart. Every version seen (CURRENT, a prefetched PENDING) is remembered, at most
 * `maxVersions`, to verify the records it chained; older ones are forgotten, and so are all of
 * them at a restart, except those the provider loads again: records chained with a forgotten
 * version are reported as unverifiable, not as tampered with. While the provider cannot serve the
 * secret (Secrets Manager down for longer than the staleness bound), the last key keeps chaining.
 */
export class AuditKeyring implements ChainKeys {
  readonly #source: AuditKeySource | undefined;
  readonly #maxVersions: number;
  readonly #keys = new Map<string, Uint8Array>();
  #current: ChainKey | undefined;
  #settled = false;
  #ready: Promise<void> | undefined;
  #resolve: () => void = () => {};
  #cancelSettleTimer: () => void = () => {};

  constructor(source?: AuditKeySource, options: AuditKeyringOptions = {}) {
    this.#source = source;
    this.#maxVersions = Math.max(1, options.maxVersions ?? 8);
    if (!source) {
      this.#settled = true;
      return;
    }
    this.#ready = new Promise((resolve) => {
      this.#resolve = resolve;
      // The clock's timers never keep the process alive (as this one never did).
      const clock = options.clock ?? systemClock;
      this.#cancelSettleTimer = clock.schedule(() => this.settle(), options.settleTimeoutMs ?? 10_000);
    });
  }

  /** Until the provider's first load of the secret is over, appends wait (undefined once it is). */
  ready(): Promise<void> | undefined {
    return this.#settled ? undefined : this.#ready;
  }

  /** Called once the provider's first load of every secret has finished or failed. */
  settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#cancelSettleTimer();
    this.#resolve();
  }

  current(): ChainKey | undefined {
    const source = this.#source;
    if (source?.isLoaded(auditSecret.name)) {
      const credential = source.current<AuditSecret>(auditSecret.name);
      if (credential.versionId !== this.#current?.version) {
        this.#current = { version: credential.versionId, key: this.#remember(credential) };
      }
      const pending = source.pending<AuditSecret>(auditSecret.name);
      if (pending && !this.#keys.has(pending.versionId)) this.#remember(pending);
    }
    return this.#current;
  }

  /** A remembered version's key (call {@link current} first to learn the provider's latest). */
  get(version: string): Uint8Array | undefined {
    return this.#keys.get(version);
  }

  /** The key versions it holds (never the keys), newest last. */
  versions(): string[] {
    return [...this.#keys.keys()];
  }

  #remember(credential: Credential<AuditSecret>): Uint8Array {
    const known = this.#keys.get(credential.versionId);
    if (known) return known;
    const key = chainKeyBytes(credential.value.reveal());
    this.#keys.set(credential.versionId, key);
    for (const version of this.#keys.keys()) {
      if (this.#keys.size <= this.#maxVersions) break;
      if (version !== this.#current?.version && version !== credential.versionId) this.#keys.delete(version);
    }
    return key;
  }
}
