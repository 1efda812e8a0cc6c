import {
  checkClaim,
  checkKey,
  checkOutboxItem,
  checkTime,
  checkTopicQuery,
  DONE_RETENTION_MS,
  MAX_CLAIM,
  MAX_OUTBOX_PAYLOAD_BYTES,
  PURGE_BATCH,
  TALLY_PAGE,
} from './limits.js';
import { LEGACY_SUMMARY_SQL, LEGACY_UNROUTED_SQL } from './outbox-legacy.js';
import { checkOutboxMove } from './outbox-move.js';
import { TallyCounter, yieldToLoop } from './outbox-tally.js';
import { addColumns, createSchema, purgeEvery, type SqliteDb } from './sqlite-db.js';
import type { OutboxItem, OutboxStore } from './state.js';

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
  done_at INTEGER,
  grp TEXT,
  kind TEXT,
  title TEXT,
  at INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (topic, done_at, available_at);
CREATE INDEX IF NOT EXISTS outbox_done ON outbox (done_at) WHERE done_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_recent ON outbox (topic, created_at);
`;

/**
 * The summary columns (NULL: no summary), added to a table made before them, and the indexes that
 * answer tallies and histories on their own: neither ever reads a row's payload, which SQLite keeps
 * in overflow pages (and the columns after it too, which is why every column they read is here).
 */
const SUMMARY_COLUMNS = { grp: 'TEXT', kind: 'TEXT', title: 'TEXT', at: 'INTEGER' };
const SUMMARY_INDEXES = `
CREATE INDEX IF NOT EXISTS outbox_tally ON outbox (topic, created_at, grp, kind, at, done_at, title);
CREATE INDEX IF NOT EXISTS outbox_history ON outbox (topic, grp, created_at, at);
`;

const IN_PAGE = `FROM outbox INDEXED BY outbox_tally
     WHERE topic = ? AND created_at >= ? AND (created_at, rowid) < (?, ?) AND (created_at, rowid) >= (?, ?)`;

/**
 * The queries of tallies and histories, answered from an index alone (the tests check each plan).
 * A tally page: where it ends (the key of its last item; none when the rest fits), then its counts
 * by group and kind, and each group's title, between the previous page's end and its own. A
 * history: which items; then the payloads of those only.
 */
export const INDEX_ONLY_SQL = {
  pageEnd: `SELECT created_at AS c, rowid AS r FROM outbox INDEXED BY outbox_tally
     WHERE topic = ? AND created_at >= ? AND (created_at, rowid) < (?, ?)
     ORDER BY created_at DESC, rowid DESC LIMIT 1 OFFSET ?`,
  pageCounts: `SELECT grp, kind, count(*) AS n, sum(done_at IS NULL) AS open ${IN_PAGE} GROUP BY grp, kind`,
  pageTitles: `SELECT grp, title, at FROM (
       SELECT grp, title, at, row_number() OVER (PARTITION BY grp ORDER BY at DESC, created_at DESC, rowid DESC) AS k
       ${IN_PAGE} AND grp IS NOT NULL
     ) WHERE k = 1`,
  historyIds: `SELECT rowid AS r FROM outbox INDEXED BY outbox_history
     WHERE topic = ? AND grp = ? AND created_at >= ?
     ORDER BY at DESC, created_at DESC, rowid DESC LIMIT ?`,
} as const;

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
  addColumns(db, 'outbox', SUMMARY_COLUMNS, [LEGACY_SUMMARY_SQL, LEGACY_UNROUTED_SQL]);
  createSchema(db, SUMMARY_INDEXES);
  const insert = db.db.prepare(
    `INSERT INTO outbox (id, topic, payload, created_at, available_at, done_at, grp, kind, title, at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
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
  // The row stays (its rowid, enqueue time, attempts and summary columns): only where it is changes.
  const moveTo = db.db.prepare(
    `UPDATE outbox SET topic = ?, payload = ?, available_at = ?, done_at = ?, claim_owner = NULL, claim_expires_at = NULL
     WHERE id = ? AND claim_owner = ? AND done_at IS NULL`,
  );
  const count = db.db.prepare('SELECT count(*) AS n FROM outbox WHERE topic = ? AND done_at IS NULL');
  const since = db.db.prepare(
    `SELECT id, topic, payload, attempts, created_at, available_at, done_at FROM outbox
     WHERE topic = ? AND created_at >= ? ORDER BY created_at DESC, rowid DESC LIMIT ?`,
  );
  const pageEnd = db.db.prepare(INDEX_ONLY_SQL.pageEnd);
  const pageCounts = db.db.prepare(INDEX_ONLY_SQL.pageCounts);
  const pageTitles = db.db.prepare(INDEX_ONLY_SQL.pageTitles);
  const historyIds = db.db.prepare(INDEX_ONLY_SQL.historyIds);
  const byRowid = db.db.prepare(
    'SELECT id, topic, payload, attempts, created_at, available_at, done_at FROM outbox WHERE rowid = ?',
  );
  const purge = db.db.prepare(
    'DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE done_at <= ? LIMIT ?)',
  );
  const maybePurge = purgeEvery(() => purge.run(now() - DONE_RETENTION_MS, PURGE_BATCH));

  return {
    /** Stores the item (due at `availableAt`, default now) unless its id is known; true when added. */
    async enqueue(item) {
      checkOutboxItem(item, MAX_OUTBOX_PAYLOAD_BYTES);
      const s = item.summary;
      return db.write(() => {
        maybePurge();
        const at = now();
        const added = insert.run(
          item.id,
          item.topic,
          item.payload,
          at,
          item.availableAt ?? at,
          item.done ? at : null,
          s?.group ?? null,
          s?.kind ?? null,
          s?.title ?? null,
          s?.at ?? null,
        );
        return Number(added.changes) === 1;
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

    /** Moves the item, due now (or done now), if `owner` made the latest claim and it is not done. */
    async move(id, owner, to) {
      checkOutboxMove(id, owner, to);
      return db.write(() => {
        const at = now();
        return Number(moveTo.run(to.topic, to.payload, at, to.done ? at : null, id, owner).changes) === 1;
      });
    },

    /** Items of `topic` not done, claimed or not. */
    async pending(topic) {
      checkKey('outbox topic', topic);
      return db.read(() => Number((count.get(topic) as { n: number } | undefined)?.n ?? 0));
    },

    /** Items of `topic` enqueued since `sinceMs`, newest first. */
    async recent(topic, sinceMs, limit) {
      checkTopicQuery('recent', topic, sinceMs, limit);
      return db.read(() =>
        (since.all(topic, sinceMs, limit) as unknown as Array<Row & { done_at: number | null }>).map(
          (row) => ({
            ...toItem(row),
            done: row.done_at !== null,
          }),
        ),
      );
    },

    /**
     * A page of {@link TALLY_PAGE} items at a time, newest first, counted by SQL from the
     * `outbox_tally` index alone (no payload is read); the event loop turns between pages.
     */
    async tally(topic, sinceMs, limit) {
      checkTopicQuery('tally', topic, sinceMs, limit);
      const counter = new TallyCounter();
      // The key (created_at, rowid) the next page starts below: above every item at first.
      let from: [number, number] = [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
      while (counter.read < limit) {
        const size = Math.min(TALLY_PAGE, limit - counter.read);
        const end = await db.read(() => {
          const last = pageEnd.get(topic, sinceMs, ...from, size - 1) as { c: number; r: number } | undefined;
          // Without a last item of a full page, this page is the rest: down to the start of time.
          const to: [number, number] = last ? [last.c, last.r] : [Number.MIN_SAFE_INTEGER, 0];
          for (const row of pageCounts.all(topic, sinceMs, ...from, ...to) as Array<{
            grp: string | null;
            kind: string | null;
            n: number;
            open: number;
          }>) {
            if (row.grp === null || row.kind === null) counter.skip(row.n);
            else counter.count(row.grp, row.kind, row.n, row.open);
          }
          for (const row of pageTitles.all(topic, sinceMs, ...from, ...to) as Array<{
            grp: string;
            title: string | null;
            at: number | null;
          }>)
            counter.title(row.grp, row.title ?? '', row.at ?? 0);
          return last ? to : undefined;
        });
        if (!end) break;
        from = end;
        await yieldToLoop();
      }
      return counter.result();
    },

    /** The item keys from the `outbox_history` index, then one row read per item returned. */
    async history(topic, group, sinceMs, limit) {
      checkTopicQuery('history', topic, sinceMs, limit, group);
      return db.read(() =>
        (historyIds.all(topic, group, sinceMs, limit) as Array<{ r: number }>).flatMap(({ r }) => {
          const row = byRowid.get(r) as (Row & { done_at: number | null }) | undefined;
          return row ? [{ ...toItem(row), done: row.done_at !== null }] : [];
        }),
      );
    },
  };
}
