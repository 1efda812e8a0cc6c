import { isBusy, type SqliteDb } from './sqlite-db.js';
import type { DedupeStore } from './state.js';

/** Longest key (dedupe key, message key, outbox id, topic, owner, lease name), in characters. */
export const MAX_KEY_CHARS = 512;
/** Longest time-to-live, lease or claim: 30 days. */
export const MAX_DURATION_MS = 30 * 24 * 60 * 60 * 1000;
/** Expired rows a store deletes per purge, and how many of its writes pass between purges. */
export const PURGE_BATCH = 500;
export const PURGE_EVERY = 100;

/** Throws a RangeError unless `value` is a non-empty string of at most {@link MAX_KEY_CHARS}. */
export function checkKey(what: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_KEY_CHARS)
    throw new RangeError(`${what} must be a non-empty string of at most ${MAX_KEY_CHARS} characters`);
}

/** Throws a RangeError unless `ms` is a finite duration above 0 and at most 30 days. */
export function checkDuration(what: string, ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || ms > MAX_DURATION_MS)
    throw new RangeError(`${what} must be a number of milliseconds above 0 and at most ${MAX_DURATION_MS}`);
}

/** Throws a RangeError unless `value` is a string of at most `maxBytes` bytes in UTF-8. */
export function checkBytes(what: string, value: string, maxBytes: number): void {
  if (typeof value !== 'string' || Buffer.byteLength(value, 'utf8') > maxBytes)
    throw new RangeError(`${what} must be a string of at most ${maxBytes} bytes (UTF-8)`);
}

/** Throws a RangeError unless `ms` is a finite epoch-milliseconds time. */
export function checkTime(what: string, ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms))
    throw new RangeError(`${what} must be a finite time in epoch milliseconds`);
}

/**
 * Creates a store's tables at start-up, synchronously. Another process writing the file at that
 * moment makes SQLite answer busy after its short busy timeout, so this retries for up to 2 s.
 */
export function createSchema(db: SqliteDb, sql: string): void {
  const started = Date.now();
  for (;;) {
    try {
      db.db.exec(sql);
      return;
    } catch (error) {
      if (!isBusy(error) || Date.now() - started >= 2_000) throw error;
    }
  }
}

/**
 * Returns a function to call inside each write: it runs `purge` on the first call and then once
 * every {@link PURGE_EVERY} calls, so deleting expired rows stays bounded and off most writes.
 */
export function purgeEvery(purge: () => void): () => void {
  let writes = 0;
  return () => {
    if (writes++ % PURGE_EVERY === 0) purge();
  };
}

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
