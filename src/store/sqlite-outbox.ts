import { checkClaim, checkKey, checkOutboxItem, checkTime, PURGE_BATCH } from './limits.js';
import { createSchema, purgeEvery, type SqliteDb } from './sqlite-db.js';
import type { OutboxItem, OutboxStore } from './state.js';

/** Largest payload, in bytes (UTF-8). */
export const MAX_OUTBOX_PAYLOAD_BYTES = 64 * 1024;
/** Most items one claim may take. */
export const MAX_CLAIM = 100;
/** Most items one `recent` may return. */
export const MAX_RECENT = 10_000;
/**
 * How long a done item is kept (30 days), so that enqueueing its id again is still refused. Older
 * done items are purged so the table does not grow with every item ever handled.
 */
export const DONE_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  id TEXT PRIMARY KEY,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  available_at INTEGER NOT NULL,
  claim_owner TEXT,
  claim_expires_at INTEGER,
  done_at INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (topic, done_at, available_at);
CREATE INDEX IF NOT EXISTS outbox_done ON outbox (done_at) WHERE done_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_recent ON outbox (topic, created_at);
`;

interface Row {
  id: string;
  topic: string;
  payload: string;
  attempts: number;
  created_at: number;
  available_at: number;
}

function toItem(row: Row): OutboxItem {
  return {
    id: row.id,
    topic: row.topic,
    payload: row.payload,
    attempts: row.attempts,
    createdAt: row.created_at,
    availableAt: row.available_at,
  };
}

/**
 * The outbox on SQLite. An item is due once `availableAt <= now()`; a claim is live while
 * `now() < claimExpiresAt`, and only then keeps other owners out. The last owner to claim an item
 * may still complete or release it after its claim expired, as long as nobody claimed it since
 * (finishing late beats delivering twice). Done items are kept {@link DONE_RETENTION_MS}.
 */
export function createSqliteOutbox(db: SqliteDb, now: () => number): OutboxStore {
  createSchema(db, SCHEMA);
  const insert = db.db.prepare(
    `INSERT INTO outbox (id, topic, payload, created_at, available_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (id) DO NOTHING`,
  );
  const due = db.db.prepare(
    `SELECT id, topic, payload, attempts, created_at, available_at FROM outbox
     WHERE topic = ? AND done_at IS NULL AND available_at <= ? AND (claim_expires_at IS NULL OR claim_expires_at <= ?)
     ORDER BY created_at, rowid LIMIT ?`,
  );
  const dueAny = db.db.prepare(
    `SELECT id, topic, payload, attempts, created_at, available_at FROM outbox
     WHERE topic = ? AND done_at IS NULL AND available_at <= ?
     ORDER BY created_at, rowid LIMIT ?`,
  );
  const take = db.db.prepare('UPDATE outbox SET claim_owner = ?, claim_expires_at = ? WHERE id = ?');
  const finish = db.db.prepare(
    'UPDATE outbox SET done_at = ?, claim_expires_at = NULL WHERE id = ? AND claim_owner = ? AND done_at IS NULL',
  );
  const giveBack = db.db.prepare(
    `UPDATE outbox SET attempts = attempts + 1, available_at = ?, claim_owner = NULL, claim_expires_at = NULL
     WHERE id = ? AND claim_owner = ? AND done_at IS NULL`,
  );
  const count = db.db.prepare('SELECT count(*) AS n FROM outbox WHERE topic = ? AND done_at IS NULL');
  const since = db.db.prepare(
    `SELECT id, topic, payload, attempts, created_at, available_at, done_at FROM outbox
     WHERE topic = ? AND created_at >= ? ORDER BY created_at DESC, rowid DESC LIMIT ?`,
  );
  const purge = db.db.prepare(
    'DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE done_at <= ? LIMIT ?)',
  );
  const maybePurge = purgeEvery(() => purge.run(now() - DONE_RETENTION_MS, PURGE_BATCH));

  return {
    /** Stores the item (due at `availableAt`, default now) unless its id is known; true when added. */
    async enqueue(item) {
      checkOutboxItem(item, MAX_OUTBOX_PAYLOAD_BYTES);
      return db.write(() => {
        maybePurge();
        const at = now();
        return (
          Number(insert.run(item.id, item.topic, item.payload, at, item.availableAt ?? at).changes) === 1
        );
      });
    },

    /** Atomic: select and mark happen in one transaction, so no item goes to two live claims. */
    async claim(topic, owner, limit, leaseMs, options) {
      checkClaim(topic, owner, limit, leaseMs, MAX_CLAIM);
      return db.write(() => {
        const at = now();
        const rows = (options?.takeOver
          ? dueAny.all(topic, at, limit)
          : due.all(topic, at, at, limit)) as unknown as Row[];
        for (const row of rows) take.run(owner, at + leaseMs, row.id);
        return rows.map(toItem);
      });
    },

    /** Marks the item done if `owner` made the latest claim on it and it is not done yet. */
    async complete(id, owner) {
      checkKey('outbox id', id);
      checkKey('outbox owner', owner);
      return db.write(() => Number(finish.run(now(), id, owner).changes) === 1);
    },

    /** Unclaims the item, due at `availableAt`, attempts + 1, if `owner` made the latest claim. */
    async release(id, owner, availableAt) {
      checkKey('outbox id', id);
      checkKey('outbox owner', owner);
      checkTime('outbox availableAt', availableAt);
      return db.write(() => Number(giveBack.run(availableAt, id, owner).changes) === 1);
    },

    /** Items of `topic` not done, claimed or not. */
    async pending(topic) {
      checkKey('outbox topic', topic);
      return db.read(() => Number((count.get(topic) as { n: number } | undefined)?.n ?? 0));
    },

    /** Items of `topic` enqueued since `sinceMs`, newest first. */
    async recent(topic, sinceMs, limit) {
      checkKey('outbox topic', topic);
      checkTime('outbox since', sinceMs);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RECENT)
        throw new RangeError(`outbox recent limit must be an integer from 1 to ${MAX_RECENT}`);
      return db.read(() =>
        (since.all(topic, sinceMs, limit) as unknown as Array<Row & { done_at: number | null }>).map(
          (row) => ({
            ...toItem(row),
            done: row.done_at !== null,
          }),
        ),
      );
    },
  };
}
