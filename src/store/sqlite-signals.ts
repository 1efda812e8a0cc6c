import { checkKey } from './limits.js';
import { createSchema, type SqliteDb } from './sqlite-db.js';
import { MAX_SIGNAL_KEYS, type SignalStore } from './state.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS signals (
  key TEXT PRIMARY KEY,
  n INTEGER NOT NULL
);
`;

/** Work signals on SQLite: one row per key, incremented in place. */
export function createSqliteSignals(db: SqliteDb): SignalStore {
  createSchema(db, SCHEMA);
  const increment = db.db.prepare('UPDATE signals SET n = n + 1 WHERE key = ?');
  const insert = db.db.prepare(
    `INSERT INTO signals (key, n) SELECT ?, 1 WHERE (SELECT count(*) FROM signals) < ${MAX_SIGNAL_KEYS}`,
  );
  const all = db.db.prepare(`SELECT key, n FROM signals LIMIT ${MAX_SIGNAL_KEYS}`);
  return {
    async bump(key) {
      checkKey('signal key', key);
      const changed = await db.write(
        () => Number(increment.run(key).changes) || Number(insert.run(key).changes),
      );
      if (changed !== 1) throw new RangeError(`the signal store holds ${MAX_SIGNAL_KEYS} keys already`);
    },
    async read() {
      const rows = (await db.read(() => all.all())) as unknown as Array<{ key: string; n: number }>;
      return new Map(rows.map((r) => [r.key, Number(r.n)]));
    },
  };
}
