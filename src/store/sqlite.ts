import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { type AuditRecord, ChainVerifier, chainRecord, GENESIS_HASH } from '../audit/chain.js';
import type { AuditEvent } from '../audit/sink.js';
import type { AuditQuery, State } from './state.js';

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

/**
 * The embedded state store (`OPSBOT_STATE=sqlite:PATH`), on Node's built-in SQLite: nothing to
 * compile or download. One writer per file; scale-out deployments use DynamoDB.
 *
 * @example
 * const state = openSqliteState({ path: './data/opsbot.db', now: Date.now });
 * await state.appendAudit({ action: 'command.run', outcome: 'success', actor: 'U0DEV', details: {} });
 */
export function openSqliteState(options: { path: string; now?: () => number }): State {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new DatabaseSync(options.path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
  db.exec(SCHEMA);
  const now = options.now ?? Date.now;
  const last = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
  const insert = db.prepare(
    'INSERT INTO audit (seq, at, actor, action, record, hash) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const page = db.prepare(
    'SELECT seq, at, actor, action, record FROM audit WHERE seq > ? ORDER BY seq LIMIT ?',
  );
  // The chain's tail, kept in memory: this process is the file's only writer.
  let tail = (last.get() as { seq: number; hash: string } | undefined) ?? { seq: 0, hash: GENESIS_HASH };
  // Group commit: records appended in the same turn of the event loop go in one transaction.
  let batch: { record: AuditRecord; resolve: (r: AuditRecord) => void; reject: (e: unknown) => void }[] = [];
  const flush = () => {
    const pending = batch;
    batch = [];
    try {
      db.exec('BEGIN');
      for (const { record } of pending) {
        insert.run(record.seq, record.at, record.actor, record.action, JSON.stringify(record), record.hash);
      }
      db.exec('COMMIT');
      for (const p of pending) p.resolve(p.record);
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK');
      tail = (last.get() as { seq: number; hash: string } | undefined) ?? { seq: 0, hash: GENESIS_HASH };
      for (const p of pending) p.reject(error);
    }
  };

  return {
    appendAudit(event: AuditEvent): Promise<AuditRecord> {
      const record = chainRecord(event, tail.seq + 1, event.at ?? new Date(now()).toISOString(), tail.hash);
      tail = { seq: record.seq, hash: record.hash };
      return new Promise((resolve, reject) => {
        if (batch.length === 0) setImmediate(flush);
        batch.push({ record, resolve, reject });
      });
    },
    async queryAudit(query: AuditQuery): Promise<AuditRecord[]> {
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
      const rows = db.prepare(sql).all(...params, limit) as { record: string }[];
      return rows.map((r) => JSON.parse(r.record) as AuditRecord);
    },
    async verifyAudit() {
      const verifier = new ChainVerifier();
      let after = 0;
      for (;;) {
        const rows = page.all(after, PAGE) as (Pick<AuditRecord, 'seq' | 'at' | 'actor' | 'action'> & {
          record: string;
        })[];
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
      }
      return verifier.result();
    },
    async ping() {
      return (db.prepare('SELECT 1 AS one').get() as { one: number } | undefined)?.one === 1;
    },
    close() {
      if (batch.length > 0) flush();
      db.close();
    },
  };
}
