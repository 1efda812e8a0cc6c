import { ChainVerifier, chainRecord, GENESIS_HASH } from '../audit/chain.js';
import type { AuditEvent, AuditQuery, AuditRecord } from '../audit/records.js';
import type { SqliteDb } from './sqlite-db.js';
import type { AuditStore } from './state.js';

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
`;

const PAGE = 500;

type Pending = { record: AuditRecord; resolve: (r: AuditRecord) => void; reject: (e: unknown) => void };

/**
 * The audit trail in SQLite. The chain's tail is kept in memory (this process is the file's only
 * writer); records appended in the same turn of the event loop are committed in one transaction
 * (group commit), written through {@link SqliteDb.write} so a locked file never blocks for long.
 */
export function createSqliteAudit(sqlite: SqliteDb, now: () => number): AuditStore & { flush(): void } {
  const { db } = sqlite;
  db.exec(SCHEMA);
  const last = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
  const insert = db.prepare(
    'INSERT INTO audit (seq, at, actor, action, record, hash) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const page = db.prepare(
    'SELECT seq, at, actor, action, record FROM audit WHERE seq > ? ORDER BY seq LIMIT ?',
  );
  const readTail = () =>
    (last.get() as { seq: number; hash: string } | undefined) ?? { seq: 0, hash: GENESIS_HASH };
  let tail = readTail();
  let batch: Pending[] = [];
  const insertAll = (pending: Pending[]) => {
    for (const { record } of pending) {
      insert.run(record.seq, record.at, record.actor, record.action, JSON.stringify(record), record.hash);
    }
  };
  const settle = (pending: Pending[], error?: unknown) => {
    if (error === undefined) for (const p of pending) p.resolve(p.record);
    else {
      tail = readTail();
      for (const p of pending) p.reject(error);
    }
  };
  const flushAsync = () => {
    const pending = batch;
    batch = [];
    sqlite
      .write(() => insertAll(pending))
      .then(
        () => settle(pending),
        (error: unknown) => settle(pending, error),
      );
  };

  return {
    append(event: AuditEvent): Promise<AuditRecord> {
      const record = chainRecord(event, tail.seq + 1, event.at ?? new Date(now()).toISOString(), tail.hash);
      tail = { seq: record.seq, hash: record.hash };
      return new Promise((resolve, reject) => {
        if (batch.length === 0) setImmediate(flushAsync);
        batch.push({ record, resolve, reject });
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
      const sql = `SELECT record FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
      const rows = await sqlite.read(() => db.prepare(sql).all(...params, limit) as { record: string }[]);
      return rows.map((r) => JSON.parse(r.record) as AuditRecord);
    },
    async verify() {
      const verifier = new ChainVerifier();
      let after = 0;
      for (;;) {
        const rows = (await sqlite.read(() => page.all(after, PAGE))) as (Pick<
          AuditRecord,
          'seq' | 'at' | 'actor' | 'action'
        > & { record: string })[];
        if (rows.length === 0) break;
        for (const row of rows) {
          const record = JSON.parse(row.record) as AuditRecord;
          // The indexed columns must say what the hashed record says, or queries could hide records.
          const columns = { seq: row.seq, at: row.at, actor: row.actor, action: row.action };
          const forged = Object.entries(columns).some(([k, v]) => record[k as keyof typeof columns] !== v);
          if (!verifier.add(forged ? { ...record, hash: 'columns-differ' } : record))
            return verifier.result();
          after = record.seq;
        }
        // Yield between pages: a long trail must not hold the event loop.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return verifier.result();
    },
    /** Writes what is batched now, synchronously (on close). */
    flush() {
      const pending = batch;
      batch = [];
      if (pending.length === 0) return;
      try {
        db.exec('BEGIN IMMEDIATE');
        insertAll(pending);
        db.exec('COMMIT');
        settle(pending);
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK');
        settle(pending, error);
      }
    },
  };
}
