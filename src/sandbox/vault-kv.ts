/**
 * One KV v2 mount of the simulated Vault: versions with their metadata, as
 * vault-plugin-secrets-kv keeps them (`path_data.go`, `path_metadata.go`). A soft-deleted version
 * keeps its data but answers 404 with its metadata; a destroyed one loses its data; beyond
 * `max_versions` (the mount's default, 10, when the key sets 0) the oldest versions drop out and
 * `oldest_version` moves.
 */

/** Vault's default for a key with `max_versions` 0. */
export const KV_DEFAULT_MAX_VERSIONS = 10;
const MAX_KEYS = 10_000;

export class KvError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'KvError';
  }
}

interface KvVersion {
  createdAt: number;
  deletedAt: number | undefined;
  destroyed: boolean;
  data: Record<string, unknown> | undefined;
}

interface KvKey {
  versions: Map<number, KvVersion>;
  currentVersion: number;
  oldestVersion: number;
  createdAt: number;
  updatedAt: number;
}

/** KV v2's `metadata` of one version, as `data/<path>` answers it. */
export interface KvVersionMetadata {
  created_time: string;
  custom_metadata: null;
  deletion_time: string;
  destroyed: boolean;
  version: number;
}

export type KvRead =
  | { found: false }
  | { found: true; live: true; data: Record<string, unknown>; metadata: KvVersionMetadata }
  | { found: true; live: false; metadata: KvVersionMetadata };

/** Vault writes times as RFC 3339 in UTC. */
export function vaultTime(ms: number): string {
  return new Date(ms).toISOString();
}

export class KvMount {
  readonly #keys = new Map<string, KvKey>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  has(path: string): boolean {
    return this.#keys.has(path);
  }

  /** A new version (POST data). `cas`: 0 = only if the key has no version yet; N = only if N is current. */
  write(path: string, data: Record<string, unknown>, cas?: number): KvVersionMetadata {
    checkPath(path);
    const now = this.#now();
    let key = this.#keys.get(path);
    const current = key?.currentVersion ?? 0;
    if (cas !== undefined && cas !== current) {
      throw new KvError(400, 'check-and-set parameter did not match the current version');
    }
    if (!key) {
      if (this.#keys.size >= MAX_KEYS) throw new KvError(400, `at most ${MAX_KEYS} keys per mount`);
      key = { versions: new Map(), currentVersion: 0, oldestVersion: 0, createdAt: now, updatedAt: now };
      this.#keys.set(path, key);
    }
    const version = key.currentVersion + 1;
    key.versions.set(version, {
      createdAt: now,
      deletedAt: undefined,
      destroyed: false,
      data: structuredClone(data),
    });
    key.currentVersion = version;
    key.updatedAt = now;
    while (key.versions.size > KV_DEFAULT_MAX_VERSIONS) {
      const oldest = Math.min(...key.versions.keys());
      key.versions.delete(oldest);
      key.oldestVersion = Math.min(...key.versions.keys());
    }
    return versionMetadata(version, key.versions.get(version) as KvVersion);
  }

  /** GET data: the current version, or `version` (0 means current). */
  read(path: string, version = 0): KvRead {
    const key = this.#keys.get(path);
    if (!key) return { found: false };
    const wanted = version === 0 ? key.currentVersion : version;
    const entry = key.versions.get(wanted);
    if (!entry) return { found: false };
    const metadata = versionMetadata(wanted, entry);
    if (entry.deletedAt !== undefined || entry.destroyed || !entry.data) {
      return { found: true, live: false, metadata };
    }
    return { found: true, live: true, data: structuredClone(entry.data), metadata };
  }

  /** GET metadata, or undefined when the key does not exist. */
  metadata(path: string): Record<string, unknown> | undefined {
    const key = this.#keys.get(path);
    if (!key) return undefined;
    const versions: Record<string, unknown> = {};
    for (const [n, v] of [...key.versions.entries()].sort((a, b) => a[0] - b[0])) {
      versions[String(n)] = {
        created_time: vaultTime(v.createdAt),
        deletion_time: v.deletedAt === undefined ? '' : vaultTime(v.deletedAt),
        destroyed: v.destroyed,
      };
    }
    return {
      cas_required: false,
      created_time: vaultTime(key.createdAt),
      current_version: key.currentVersion,
      custom_metadata: null,
      delete_version_after: '0s',
      max_versions: 0,
      oldest_version: key.oldestVersion,
      updated_time: vaultTime(key.updatedAt),
      versions,
    };
  }

  /** Soft delete (POST delete, or DELETE data for the current version): data kept, reads answer 404. */
  deleteVersions(path: string, versions: number[]): void {
    const key = this.#needVersions(path, versions);
    if (!key) return;
    const now = this.#now();
    for (const n of versions) {
      const v = key.versions.get(n);
      if (v && !v.destroyed && v.deletedAt === undefined) v.deletedAt = now;
    }
    key.updatedAt = now;
  }

  /** DELETE data: soft-deletes the current version. */
  deleteLatest(path: string): void {
    const key = this.#keys.get(path);
    if (key) this.deleteVersions(path, [key.currentVersion]);
  }

  /** POST destroy: the data is gone for good. */
  destroyVersions(path: string, versions: number[]): void {
    const key = this.#needVersions(path, versions);
    if (!key) return;
    for (const n of versions) {
      const v = key.versions.get(n);
      if (v) {
        v.destroyed = true;
        v.data = undefined;
      }
    }
    key.updatedAt = this.#now();
  }

  /** DELETE metadata: the key and every version. */
  deleteMetadata(path: string): void {
    this.#keys.delete(path);
  }

  #needVersions(path: string, versions: number[]): KvKey | undefined {
    if (versions.length === 0) throw new KvError(400, 'no version number provided');
    if (versions.some((n) => !Number.isInteger(n) || n < 0)) {
      throw new KvError(400, 'version number must be a non-negative integer');
    }
    return this.#keys.get(path);
  }
}

function versionMetadata(version: number, v: KvVersion): KvVersionMetadata {
  return {
    created_time: vaultTime(v.createdAt),
    custom_metadata: null,
    deletion_time: v.deletedAt === undefined ? '' : vaultTime(v.deletedAt),
    destroyed: v.destroyed,
    version,
  };
}

function checkPath(path: string): void {
  if (path.length === 0 || path.length > 1_024 || path.endsWith('/')) {
    throw new KvError(400, `invalid key ${JSON.stringify(path.slice(0, 64))}`);
  }
}
