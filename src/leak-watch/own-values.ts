import type { CredentialProvider } from '../credentials/provider.js';
import type { SecretCatalog, SecretSpec } from '../credentials/secret-spec.js';
import { type OwnSecretHit, OwnSecretIndex } from '../leaks/own-secrets.js';
import type { LeakFinding } from '../leaks/scan.js';

/**
 * opsbot's own secret values as an {@link OwnSecretIndex} (keyed digests only), kept in step with
 * the credential provider: the sensitive fields (the spec's `sensitive`) of every version the bot
 * accepts now — CURRENT, PENDING, and PREVIOUS during its grace — re-indexed whenever that set of
 * versions changes (a load, a rotation, a grace ending, an emergency rotation dropping the old
 * ones). Values are read through the provider only while they are hashed; none is kept in clear.
 */
export class OwnValues {
  readonly #index = new OwnSecretIndex();
  /** secret name → the version ids indexed for it (`current,pending,previous`). */
  readonly #indexed = new Map<string, string>();
  readonly #provider: Pick<CredentialProvider, 'inboundCandidates' | 'onChange'>;
  readonly #specs: readonly SecretSpec[];

  constructor(provider: Pick<CredentialProvider, 'inboundCandidates' | 'onChange'>, catalog: SecretCatalog) {
    this.#provider = provider;
    this.#specs = [...catalog.values()].filter((spec) => spec.sensitive.length > 0);
    // A version change is indexed at once; loads, pending versions and graces are caught by `sync`.
    for (const spec of this.#specs) provider.onChange(spec, () => this.#syncOne(spec));
  }

  /** Brings the index up to date with the versions the provider accepts now (cheap when nothing moved). */
  sync(): void {
    for (const spec of this.#specs) this.#syncOne(spec);
  }

  /** opsbot's own values in `text` (after {@link sync}), with the scanner's findings compared whole first. */
  find(text: string, findings: readonly LeakFinding[]): OwnSecretHit[] {
    this.sync();
    return this.#index.find(text, findings);
  }

  /**
   * Whether a value found earlier (its hit's `digest`) is still one that opsbot accepts for
   * `secretName`, after bringing the index up to date: after an emergency rotation, only a value the
   * rotation could not change (one a person makes) still is.
   */
  stillAccepted(secretName: string, digest: string): boolean {
    this.sync();
    return this.#index.holds(secretName, digest);
  }

  /** How many digests are held (never a value). */
  get size(): number {
    return this.#index.size;
  }

  #syncOne(spec: SecretSpec): void {
    const credentials = this.#provider.inboundCandidates(spec);
    const versions = credentials.map((c) => c.versionId).join(',');
    if (this.#indexed.get(spec.name) === versions) return;
    this.#index.remove(spec.name);
    for (const credential of credentials) {
      const value = credential.value.reveal() as Record<string, unknown> | undefined;
      for (const field of spec.sensitive) {
        const text = value?.[field];
        if (typeof text === 'string') this.#index.add(spec.name, field, text);
      }
    }
    this.#indexed.set(spec.name, versions);
  }

  toJSON(): { values: number } {
    return { values: this.#index.size };
  }
}
