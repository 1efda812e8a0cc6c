import type { SimulatedSecretsManager } from './secrets-manager.js';
import type { SimulatedVault } from './vault.js';

const CURRENT = 'AWSCURRENT';
const EMERGENCY = 'OPSBOT_EMERGENCY';

/**
 * The sandbox on the `vault` source: the sandbox keeps making secret values where its tools work on
 * them (the simulated Secrets Manager: the console's rotators, the vendors' new tokens), and this
 * mirror writes each new `AWSCURRENT` value of an `opsbot/…` secret as a new KV v2 version in the
 * simulated Vault, as an operator's `vault kv put` or a pipeline would. An emergency (the version
 * labelled `OPSBOT_EMERGENCY`) destroys every earlier KV version, as an operator does in Vault when
 * old values leaked. The bot itself reads Vault only.
 *
 * @example
 * const mirror = new VaultMirror(secretsManager, vault, ['opsbot/slack', 'opsbot/github']);
 * mirror.sync(); // after every change, or on an interval
 */
export class VaultMirror {
  readonly #sm: SimulatedSecretsManager;
  readonly #vault: SimulatedVault;
  readonly #names: readonly string[];
  readonly #kvMount: string;
  /** name → the Secrets Manager version id last written to Vault, and its KV version. */
  readonly #mirrored = new Map<string, { versionId: string; kvVersion: number; emergency: boolean }>();

  constructor(
    sm: SimulatedSecretsManager,
    vault: SimulatedVault,
    names: readonly string[],
    kvMount = 'secret',
  ) {
    this.#sm = sm;
    this.#vault = vault;
    this.#names = names;
    this.#kvMount = kvMount;
  }

  /** The KV version last written for `name` (undefined before the first). */
  kvVersionOf(name: string): number | undefined {
    return this.#mirrored.get(name)?.kvVersion;
  }

  /** Writes what changed since the last sync; returns the KV versions written, by secret name. */
  sync(): Map<string, number> {
    const written = new Map<string, number>();
    for (const name of this.#names) {
      if (!this.#sm.store.names().includes(name)) continue;
      const current = [...this.#sm.store.find(name).versions.values()].find((v) => v.stages.has(CURRENT));
      if (!current || current.value === undefined) continue;
      const before = this.#mirrored.get(name);
      const emergency = current.stages.has(EMERGENCY);
      if (before?.versionId === current.id && before.emergency === emergency) continue;
      let kvVersion = before?.kvVersion ?? 0;
      if (before?.versionId !== current.id) {
        kvVersion = this.#vault.writeSecret(
          this.#kvMount,
          name,
          JSON.parse(current.value) as Record<string, unknown>,
        );
        written.set(name, kvVersion);
      }
      if (emergency && kvVersion > 1) {
        this.#vault.destroyVersions(
          this.#kvMount,
          name,
          Array.from({ length: kvVersion - 1 }, (_, i) => i + 1),
        );
      }
      this.#mirrored.set(name, { versionId: current.id, kvVersion, emergency });
    }
    return written;
  }
}
