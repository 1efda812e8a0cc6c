import { type ChainTail, EMPTY_TAIL, linkEvents, recordJson } from '../audit/chain.js';
import type {
  AuditAnchor,
  AuditBrief,
  AuditEvent,
  AuditQuery,
  AuditRecord,
  ChainCheck,
  VerifyOptions,
} from '../audit/records.js';
import { OUTCOMES, readStoredRow, type StoredRow, unreadableAsRecord } from '../audit/stored-record.js';
import { type ChainExpectation, ChainVerifier } from '../audit/verifier.js';
import { isoTime } from '../time/iso-time.js';
import { createSchema, type SqliteDb } from './sqlite-db.js';
import type { AuditStore, AuditStoreWiring } from './state.js';

/** The row counts of the multi-row INSERTs a batch is cut into (largest first; 1 ends any batch). */
const INSERT_CHUNKS = [64, 16, 4, 1];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  record TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_actor ON audit (actor, seq);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE TABLE IF NOT EXISTS audit_probe (id INTEGER PRIMARY KEY, at TEXT NOT NULL);
`;

/**
 * Where a SQLite audit store keeps its connection: tests reach the store's own connection through
 * {@link sqliteOf} (e.g. `PRAGMA max_page_count`, to play a full disk), which no other connection can.
 */
const SQLITE_DB = Symbol('opsbot.sqlite');

/** The connection of a SQLite audit store (tests and tooling), or undefined for any other store. */
/** `readAfter` returns at most this many records per call. */
const MAX_READ_AFTER = 1_000;

export function sqliteOf(store: object): SqliteDb | undefined {
  return (store as { [SQLITE_DB]?: SqliteDb })[SQLITE_DB];
}

/** Rows read per page when verifying; the walk yields to the event loop between pages and slices. */
const PAGE = 500;
/** Longest the verification works before it yields to the event loop. */
const SLICE_MS = 8;
/** Most events committed in one transaction. */
const MAX_BATCH = 500;
/** The readiness probe gives up after this long (a locked database is "not ready", quickly). */
const PROBE_DEADLINE_MS = 250;
/**
 * The rehearsed record's size, in database pages: it needs new pages (overflow pages) whatever room
 * is left in the table's last page, so a database that cannot grow (disk full) shows at once.
 */
const REHEARSAL_PAGES = 2;

/** A row of {@link createSqliteAudit}'s brief query: seq, at, actor, action, outcome (null: not valid JSON). */
type BriefRow = [seq: number, at: string, actor: string, action: string, outcome: unknown];
/** The same row as an object (Node before 22.16, without `setReturnArrays`). */
type BriefObject = { seq: number; at: string; actor: string; action: string; outcome: unknown };

/** A brief row as a brief: one whose outcome is not one opsbot writes is marked, to be read whole. */
function briefOf(seq: number, at: string, actor: string, action: string, outcome: unknown): AuditBrief {
  if (OUTCOMES.has(outcome)) return { seq, at, actor, action, outcome: outcome as AuditBrief['outcome'] };
  return {
    seq,
    at,
    actor,
    action,
    outcome: 'error',
    unreadable: outcome === null ? 'its record is not valid JSON' : 'its outcome is not one opsbot writes',
  };
}

type Pending = {
  event: AuditEvent & { at: string };
  resolve: (r: AuditRecord) => void;
  reject: (e: unknown) => void;
};
type Batch = { records: AuditRecord[]; pending: Pending[]; settled: boolean };

/**
 * The audit trail in SQLite. The chain's tail is kept in memory (this process is the file's only
 * writer). Events appended while nothing is being written are committed together in one
 * transaction (group commit); batches are chained and written one at a time, each right before its
 * write, through {@link SqliteDb.write}, so a locked file never blocks the event loop and a failed
 * batch never leaves a later one linked to records that were not stored.
 */
export function createSqliteAudit(
  sqlite: SqliteDb,
  now: () => number,
): AuditStore & { flush(): void; [SQLITE_DB]: SqliteDb } {
  const { db } = sqlite;
  createSchema(sqlite, SCHEMA);
  const last = db.prepare(
    `SELECT seq, hash, CASE WHEN json_valid(record) THEN json_extract(record, '$.keyVersion') END AS keyVersion
     FROM audit ORDER BY seq DESC LIMIT 1`,
  );
  // Rows go in as multi-row INSERTs of a few fixed sizes (64, 16, 4, 1): one statement per chunk
  // instead of one per record, with at most four prepared statements.
  const inserts = new Map(
    INSERT_CHUNKS.map((rows) => [
      rows,
      db.prepare(
        `INSERT INTO audit (seq, at, actor, action, record, hash) VALUES ${Array(rows).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`,
      ),
    ]),
  );
  const page = db.prepare(
    'SELECT seq, at, actor, action, record FROM audit WHERE seq > ? ORDER BY seq LIMIT ?',
  );
  // The brief of a row: its indexed columns and the record's outcome, read by SQLite from the JSON
  // text (no record crosses into JavaScript). NULL when the text is not valid JSON (`->>` would fail).
  // Rows come as arrays where Node can (22.16+): a third cheaper than objects, per row.
  const briefPage = db.prepare(
    `SELECT seq, at, actor, action, CASE WHEN json_valid(record) THEN coalesce(record->>'$.outcome', '') END AS outcome
     FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`,
  );
  const briefArrays = typeof briefPage.setReturnArrays === 'function';
  if (briefArrays) briefPage.setReturnArrays(true);
  const firstSince = db.prepare('SELECT min(seq) AS seq FROM audit WHERE at >= ?');
  const probe = db.prepare('INSERT OR REPLACE INTO audit_probe (id, at) VALUES (1, ?)');
  const pageSize = Number((db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size) || 4_096;
  const readTail = (): ChainTail => {
    const row = last.get() as { seq: number; hash: string; keyVersion: unknown } | undefined;
    if (!row) return EMPTY_TAIL;
    return {
      seq: Number(row.seq),
      hash: String(row.hash),
      keyVersion: typeof row.keyVersion === 'string' ? row.keyVersion : undefined,
    };
  };
  let tail = readTail();
  let committed: AuditAnchor | undefined = tail.seq > 0 ? { seq: tail.seq, hash: tail.hash } : undefined;
  let wiring: AuditStoreWiring = {};
  let queue: Pending[] = [];
  let scheduled = false;
  let inFlight: Batch | undefined;

  const insertOf = (rows: number) => {
    const statement = inserts.get(rows);
    if (!statement) throw new Error(`no INSERT prepared for ${rows} rows`);
    return statement;
  };
  const insertAll = (records: readonly AuditRecord[]) => {
    let i = 0;
    while (i < records.length) {
      const rows = INSERT_CHUNKS.find((n) => n <= records.length - i) as number;
      const values: (string | number)[] = [];
      for (const r of records.slice(i, i + rows))
        values.push(r.seq, r.at, r.actor, r.action, recordJson(r), r.hash);
      insertOf(rows).run(...values);
      i += rows;
    }
  };
  const chain = (pending: Pending[]): Batch => ({
    records: linkEvents(
      tail,
      pending.map((p) => p.event),
      wiring.keys,
    ),
    pending,
    settled: false,
  });
  const succeed = (batch: Batch) => {
    if (batch.settled) return;
    batch.settled = true;
    const end = batch.records.at(-1) as AuditRecord;
    tail = { seq: end.seq, hash: end.hash, keyVersion: end.keyVersion };
    committed = { seq: end.seq, hash: end.hash };
    // A key rotation record, when there is one, comes first and answers no caller.
    const offset = batch.records.length - batch.pending.length;
    for (const [i, p] of batch.pending.entries()) p.resolve(batch.records[offset + i] as AuditRecord);
    try {
      wiring.onCommit?.(committed);
    } catch {
      // The anchor is a log line; failing to write it must not fail the records.
    }
  };
  const fail = (batch: Batch, error: unknown) => {
    if (batch.settled) return;
    batch.settled = true;
    try {
      // Another writer may have changed the file; start again from what is stored.
      if (db.isOpen) tail = readTail();
    } catch {
      // Keep the tail we had.
    }
    for (const p of batch.pending) p.reject(error);
  };
  const schedule = () => {
    if (scheduled || inFlight || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => void writeNext());
  };
  const writeNext = async () => {
    scheduled = false;
    if (inFlight || queue.length === 0) return;
    const marker: Batch = { records: [], pending: [], settled: false };
    inFlight = marker;
    try {
      // Until the chain key's first load is over, records wait (bounded by the keyring).
      const keysReady = wiring.keys?.ready?.();
      if (keysReady) await keysReady;
      const pending = queue.splice(0, MAX_BATCH);
      if (pending.length === 0) return;
      let batch: Batch;
      try {
        batch = chain(pending);
      } catch (error) {
        for (const p of pending) p.reject(error);
        return;
      }
      inFlight = batch;
      await sqlite
        .write(() => {
          if (!batch.settled) insertAll(batch.records);
        })
        .then(
          () => succeed(batch),
          (error: unknown) => fail(batch, error),
        );
    } finally {
      inFlight = undefined;
      schedule();
    }
  };

  return {
    [SQLITE_DB]: sqlite,
    append(event: AuditEvent): Promise<AuditRecord> {
      return new Promise((resolve, reject) => {
        if (!db.isOpen) {
          reject(new Error('the audit trail is closed (opsbot is stopping); the event was not stored'));
          return;
        }
        queue.push({ event: { ...event, at: event.at ?? isoTime(now()) }, resolve, reject });
        schedule();
      });
    },
    async query(query: AuditQuery): Promise<AuditRecord[]> {
      const limit = Math.min(Math.max(1, Math.floor(query.limit ?? 50)), 200);
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (query.actor) {
        where.push('actor = ?');
        params.push(query.actor);
      }
      if (query.command) {
        where.push("(action = ? OR action LIKE ? ESCAPE '\\')");
        params.push(query.command, `${query.command.replace(/[\\%_]/g, (c) => `\\${c}`)}:%`);
      }
      if (query.since) {
        where.push('at >= ?');
        params.push(query.since);
      }
      const sql = `SELECT seq, at, actor, action, record FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
      const rows = await sqlite.read(() => db.prepare(sql).all(...params, limit) as unknown as StoredRow[]);
      return rows.map((row) => {
        const read = readStoredRow(row);
        return 'unreadable' in read ? unreadableAsRecord(read) : read.record;
      });
    },
    async readAfter(afterSeq: number, limit: number): Promise<AuditRecord[]> {
      const bounded = Math.min(Math.max(1, Math.floor(limit)), MAX_READ_AFTER);
      const rows = (await sqlite.read(() => page.all(afterSeq, bounded))) as unknown as StoredRow[];
      return rows.map((row) => {
        const read = readStoredRow(row);
        return 'unreadable' in read ? unreadableAsRecord(read) : read.record;
      });
    },
    async readBriefAfter(afterSeq: number, limit: number): Promise<AuditBrief[]> {
      const bounded = Math.min(Math.max(1, Math.floor(limit)), MAX_READ_AFTER);
      const rows = await sqlite.read(() => briefPage.all(afterSeq, bounded));
      return briefArrays
        ? (rows as unknown as BriefRow[]).map((r) => briefOf(r[0], r[1], r[2], r[3], r[4]))
        : (rows as unknown as BriefObject[]).map((r) => briefOf(r.seq, r.at, r.actor, r.action, r.outcome));
    },
    async firstSeqSince(iso: string): Promise<number | undefined> {
      const row = (await sqlite.read(() => firstSince.get(iso))) as { seq: number | null } | undefined;
      return row?.seq === null || row?.seq === undefined ? undefined : Number(row.seq);
    },
    async verify(options: VerifyOptions = {}): Promise<ChainCheck> {
      const keys = wiring.keys;
      const keyed = keys?.current() !== undefined; // also learns the provider's latest key
      const expect: ChainExpectation[] = [];
      if (options.anchor) expect.push({ anchor: options.anchor, source: 'the anchor you gave' });
      if (committed) expect.push({ anchor: committed, source: 'the last record opsbot stored' });
      const verifier = new ChainVerifier({ ...(keys ? { keys } : {}), keyed, expect });
      let after = Number.MIN_SAFE_INTEGER;
      let sliceStarted = performance.now();
      for (;;) {
        const rows = (await sqlite.read(() => page.all(after, PAGE))) as unknown as StoredRow[];
        if (rows.length === 0) break;
        for (const row of rows) {
          const read = readStoredRow(row);
          const ok = 'unreadable' in read ? verifier.add(read) : verifier.add(read.record, read.mismatch);
          if (!ok) return verifier.result();
          after = Number(row.seq);
          if (performance.now() - sliceStarted > SLICE_MS) {
            // A long trail must not hold the event loop: yield, then carry on.
            await new Promise((resolve) => setImmediate(resolve));
            sliceStarted = performance.now();
          }
        }
        await new Promise((resolve) => setImmediate(resolve));
        sliceStarted = performance.now();
      }
      return verifier.result();
    },
    head() {
      return committed && { ...committed, ...(tail.keyVersion ? { keyVersion: tail.keyVersion } : {}) };
    },
    async writable() {
      try {
        await sqlite.write(
          () => {
            probe.run(new Date(now()).toISOString());
            // Rehearse the next record where it would go, then take it back: a database that cannot
            // grow (disk full, page limit) or cannot take the row fails here, not on a user's action.
            db.exec('SAVEPOINT audit_rehearsal');
            try {
              insertOf(1).run(
                tail.seq + 1,
                '',
                '',
                '',
                'x'.repeat(REHEARSAL_PAGES * pageSize),
                '0'.repeat(64),
              );
            } finally {
              db.exec('ROLLBACK TO audit_rehearsal');
              db.exec('RELEASE audit_rehearsal');
            }
          },
          { deadlineMs: PROBE_DEADLINE_MS },
        );
        return true;
      } catch {
        return false;
      }
    },
    attach(next: AuditStoreWiring) {
      wiring = { ...wiring, ...next };
    },
    /** Writes what is waiting (and a batch still retrying on a lock) now, synchronously (on close). */
    flush() {
      const retrying = inFlight && inFlight.records.length > 0 && !inFlight.settled ? inFlight : undefined;
      const pending = queue;
      queue = [];
      if (!retrying && pending.length === 0) return;
      if (!db.isOpen) return;
      const batch = pending.length > 0 ? chainAfter(retrying, pending) : undefined;
      try {
        db.exec('BEGIN IMMEDIATE');
        if (retrying) insertAll(retrying.records);
        if (batch) insertAll(batch.records);
        db.exec('COMMIT');
        if (retrying) succeed(retrying);
        if (batch) succeed(batch);
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK');
        if (retrying) fail(retrying, error);
        if (batch) fail(batch, error);
      }
    },
  };

  /** Chains `pending` after a batch not yet stored (or after the tail). */
  function chainAfter(before: Batch | undefined, pending: Pending[]): Batch {
    const end = before?.records.at(-1);
    const saved = tail;
    if (end) tail = { seq: end.seq, hash: end.hash, keyVersion: end.keyVersion };
    try {
      return chain(pending);
    } finally {
      tail = saved;
    }
  }
}
