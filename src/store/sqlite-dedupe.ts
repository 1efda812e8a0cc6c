import { checkDuration, checkKey, PURGE_BATCH } from './limits.js';
import { createSchema, purgeEvery, type SqliteDb } from './sqlite-db.js';
import type { DedupeStore } from './state.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS dedupe (
  key TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dedupe_expires ON dedupe (expires_at);
`;

/**
 * The dedupe store on SQLite. A key is live while `now() < expiresAt`; an expired key counts as
 * absent and is overwritten by the next put. A put that finds a live key leaves its expiry alone.
 */
export function createSqliteDedupe(db: SqliteDb, now: () => number): DedupeStore {
  createSchema(db, SCHEMA);
  // Insert, or take over the row only when it has expired: `changes` is 1 exactly when we won.
  const put = db.db.prepare(
    `INSERT INTO dedupe (key, expires_at) VALUES (?, ?)
     ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE dedupe.expires_at <= ?`,
  );
  const purge = db.db.prepare(
    'DELETE FROM dedupe WHERE key IN (SELECT key FROM dedupe WHERE expires_at <= ? LIMIT ?)',
  );
  const maybePurge = purgeEvery(() => purge.run(now(), PURGE_BATCH));

  return {
    /** True for exactly one of any number of puts of a key until it expires; writes are atomic. */
    async putIfAbsent(key, ttlMs) {
      checkKey('dedupe key', key);
      checkDuration('dedupe ttlMs', ttlMs);
      return db.write(() => {
        maybePurge();
        const at = now();
        return Number(put.run(key, at + ttlMs, at).changes) === 1;
      });
    },
  };
}
