import { checkDuration, checkKey } from './limits.js';
import { createSchema, type SqliteDb } from './sqlite-db.js';
import type { Lease, LeaseStore } from './state.js';

// Lease names are few and fixed (one per singleton job), and acquire overwrites an expired row, so
// this table needs no purge.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
`;

/**
 * Named leases on SQLite. A lease is held while `now() < expiresAt`; once expired it is free, and
 * its former owner no longer holds it (release returns false) unless it acquires it again.
 */
export function createSqliteLeases(db: SqliteDb, now: () => number): LeaseStore {
  createSchema(db, SCHEMA);
  // Insert, or overwrite the row when it is ours or has expired: `changes` is 1 exactly when we hold it.
  const take = db.db.prepare(
    `INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
     WHERE leases.owner = excluded.owner OR leases.expires_at <= ?`,
  );
  const drop = db.db.prepare('DELETE FROM leases WHERE name = ? AND owner = ? AND expires_at > ?');

  return {
    /**
     * Atomic: of concurrent acquires of a free lease exactly one succeeds. A renewal by the holder
     * sets `expiresAt` to now + `ttlMs` (which may shorten it).
     */
    async acquire(name, owner, ttlMs) {
      checkKey('lease name', name);
      checkKey('lease owner', owner);
      checkDuration('lease ttlMs', ttlMs);
      return db.write((): Lease | undefined => {
        const at = now();
        const expiresAt = at + ttlMs;
        return Number(take.run(name, owner, expiresAt, at).changes) === 1
          ? { name, owner, expiresAt }
          : undefined;
      });
    },

    /** Frees the lease if `owner` holds it now (not expired); true when it did. */
    async release(name, owner) {
      checkKey('lease name', name);
      checkKey('lease owner', owner);
      return db.write(() => Number(drop.run(name, owner, now()).changes) === 1);
    },
  };
}
