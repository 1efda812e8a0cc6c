import { createSqliteAudit } from './sqlite-audit.js';
import { SqliteDb } from './sqlite-db.js';
import { createSqliteDedupe } from './sqlite-dedupe.js';
import { createSqliteLeases } from './sqlite-leases.js';
import { createSqliteMessages } from './sqlite-messages.js';
import { createSqliteOutbox } from './sqlite-outbox.js';
import { createSqliteSignals } from './sqlite-signals.js';
import type { State } from './state.js';

export interface SqliteStateOptions {
  path: string;
  now?: () => number;
  /** Longest total wait on a database locked by another process (default 2 s, asynchronous). */
  deadlineMs?: number;
}

/**
 * The embedded state store (`OPSBOT_STATE=sqlite:PATH`), on Node's built-in SQLite: nothing to
 * compile or download. One writer process per file; scale-out deployments use DynamoDB.
 *
 * @example
 * const state = openSqliteState({ path: './data/opsbot.db' });
 * await state.audit.append({ action: 'gh:pr list', outcome: 'success', actor: 'U0DEV', details: {} });
 */
export function openSqliteState(options: SqliteStateOptions): State {
  const db = new SqliteDb({
    path: options.path,
    ...(options.deadlineMs ? { deadlineMs: options.deadlineMs } : {}),
  });
  const now = options.now ?? Date.now;
  const audit = createSqliteAudit(db, now);
  const ping = db.db.prepare('SELECT 1 AS one');
  return {
    audit,
    dedupe: createSqliteDedupe(db, now),
    messages: createSqliteMessages(db, now),
    outbox: createSqliteOutbox(db, now),
    leases: createSqliteLeases(db, now),
    signals: createSqliteSignals(db),
    shared: false,
    async ping() {
      return ((await db.read(() => ping.get())) as { one: number } | undefined)?.one === 1;
    },
    close() {
      audit.flush();
      db.close();
    },
  };
}
