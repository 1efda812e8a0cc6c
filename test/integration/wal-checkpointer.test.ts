import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { CHECKPOINTER_AFTER_COMMITS, SqliteDb } from '../../src/store/sqlite-db.js';
import { FALLBACK_AUTOCHECKPOINT_PAGES, WalCheckpointer } from '../../src/store/wal-checkpointer.js';

const fresh = (name: string) => join(mkdtempSync(join(tmpdir(), 'opsbot-ckpt-')), name);

async function until(done: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WalCheckpointer', () => {
  it('copies the write-ahead log into the database file from its own thread', async () => {
    const path = fresh('c.db');
    const db = new DatabaseSync(path);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (v TEXT)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    for (let i = 0; i < 200; i++) insert.run('x'.repeat(2_000));
    const before = statSync(path).size;
    // Nothing checkpoints on this connection: the rows are in the WAL only.
    expect(before).toBeLessThan(100_000);
    const checkpointer = WalCheckpointer.start(path, 20);
    try {
      await until(() => statSync(path).size > 300_000, 'the database file to receive the logged pages');
    } finally {
      checkpointer.stop();
    }
    expect((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).toBe(200);
    db.close();
  });

  it('a busy SqliteDb hands its checkpoints to the worker; closing stops it, and the file reopens whole', async () => {
    const path = fresh('s.db');
    const db = new SqliteDb({ path });
    db.db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)');
    const insert = db.db.prepare('INSERT INTO t (n, v) VALUES (?, ?)');
    const autocheckpoint = () =>
      Number(
        (db.db.prepare('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number })
          .wal_autocheckpoint,
      );
    expect(autocheckpoint()).toBe(1_000); // SQLite's own, until the file is busy
    for (let n = 1; n <= CHECKPOINTER_AFTER_COMMITS; n++)
      await db.write(() => insert.run(n, 'x'.repeat(500)));
    expect(autocheckpoint()).toBe(FALLBACK_AUTOCHECKPOINT_PAGES);
    // From now on only the worker copies the log into the file (SQLite's threshold is far off).
    const before = statSync(path).size;
    for (let n = CHECKPOINTER_AFTER_COMMITS + 1; n <= CHECKPOINTER_AFTER_COMMITS + 100; n++)
      await db.write(() => insert.run(n, 'y'.repeat(4_000)));
    await until(() => statSync(path).size >= before + 300_000, 'the worker to checkpoint the logged pages');
    db.close();
    const reopened = new DatabaseSync(path);
    expect((reopened.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).toBe(
      CHECKPOINTER_AFTER_COMMITS + 100,
    );
    reopened.close();
  });

  it('a database in memory never starts one', async () => {
    const db = new SqliteDb({ path: ':memory:' });
    db.db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY)');
    const insert = db.db.prepare('INSERT INTO t (n) VALUES (?)');
    for (let n = 1; n <= CHECKPOINTER_AFTER_COMMITS + 1; n++) await db.write(() => insert.run(n));
    expect(
      (db.db.prepare('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint,
    ).toBe(1_000);
    db.close();
  });
});
