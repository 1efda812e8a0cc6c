import { checkDuration, checkKey, checkMessageRef, MAX_MESSAGE_DATA_BYTES, PURGE_BATCH } from './limits.js';
import { createSchema, purgeEvery, type SqliteDb } from './sqlite-db.js';
import type { MessageRef, MessageRefStore } from './state.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS message_refs (
  key TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  ts TEXT NOT NULL,
  data TEXT,
  version INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS message_refs_expires ON message_refs (expires_at);
`;

interface Row {
  channel: string;
  ts: string;
  data: string | null;
  version: number;
}

type NewRef = Omit<MessageRef, 'version'>;

/** Throws a RangeError unless the ref has a channel and ts and at most 32 KiB of string `data`. */
const checkRef = (ref: NewRef): void => checkMessageRef(ref, MAX_MESSAGE_DATA_BYTES);

function toRef(row: Row): MessageRef {
  const ref: MessageRef = { channel: row.channel, ts: row.ts, version: row.version };
  if (row.data !== null) ref.data = row.data;
  return ref;
}

/**
 * The message-ref store on SQLite. A ref is live while `now() < expiresAt`, with `expiresAt` set by
 * the put that created it; compare-and-set replaces the ref but keeps its expiry. An expired ref
 * counts as absent: `get` and `compareAndSet` miss it and `putIfAbsent` replaces it (version 1).
 */
export function createSqliteMessages(db: SqliteDb, now: () => number): MessageRefStore {
  createSchema(db, SCHEMA);
  const select = db.db.prepare(
    'SELECT channel, ts, data, version FROM message_refs WHERE key = ? AND expires_at > ?',
  );
  // Insert, or take over the row only when it has expired: `changes` is 1 exactly when we created it.
  const insert = db.db.prepare(
    `INSERT INTO message_refs (key, channel, ts, data, version, expires_at) VALUES (?, ?, ?, ?, 1, ?)
     ON CONFLICT (key) DO UPDATE SET channel = excluded.channel, ts = excluded.ts, data = excluded.data,
       version = 1, expires_at = excluded.expires_at
     WHERE message_refs.expires_at <= ?`,
  );
  const swap = db.db.prepare(
    `UPDATE message_refs SET channel = ?, ts = ?, data = ?, version = version + 1
     WHERE key = ? AND version = ? AND expires_at > ?
     RETURNING channel, ts, data, version`,
  );
  const purge = db.db.prepare(
    'DELETE FROM message_refs WHERE key IN (SELECT key FROM message_refs WHERE expires_at <= ? LIMIT ?)',
  );
  const maybePurge = purgeEvery(() => purge.run(now(), PURGE_BATCH));

  return {
    /** The live ref under `key`, or undefined when there is none or it has expired. */
    async get(key) {
      checkKey('message key', key);
      return db.read(() => {
        const row = select.get(key, now()) as Row | undefined;
        return row && toRef(row);
      });
    },

    /** Atomic: of concurrent callers for one key, exactly one creates; the others get its ref. */
    async putIfAbsent(key, ref, ttlMs) {
      checkKey('message key', key);
      checkRef(ref);
      checkDuration('message ttlMs', ttlMs);
      return db.write(() => {
        maybePurge();
        const at = now();
        const created =
          Number(insert.run(key, ref.channel, ref.ts, ref.data ?? null, at + ttlMs, at).changes) === 1;
        const row = select.get(key, at) as Row | undefined;
        if (!row) throw new Error(`message ref ${key} vanished inside its own transaction`);
        return { created, ref: toRef(row) };
      });
    },

    /** Atomic: of concurrent callers with the same `expectedVersion`, at most one succeeds. */
    async compareAndSet(key, expectedVersion, ref) {
      checkKey('message key', key);
      checkRef(ref);
      if (!Number.isSafeInteger(expectedVersion))
        throw new RangeError('message expectedVersion must be an integer');
      return db.write(() => {
        maybePurge();
        const row = swap.get(ref.channel, ref.ts, ref.data ?? null, key, expectedVersion, now()) as
          | Row
          | undefined;
        return row && toRef(row);
      });
    },
  };
}
