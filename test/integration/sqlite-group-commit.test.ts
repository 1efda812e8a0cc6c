import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteDb } from '../../src/store/sqlite-db.js';

const open = () => new SqliteDb({ path: join(mkdtempSync(join(tmpdir(), 'opsbot-group-')), 'g.db') });

describe('SqliteDb group commit', () => {
  it('commits the writes of one event-loop turn in one transaction, in order, isolating failures', async () => {
    const db = open();
    db.db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY)');
    const insert = db.db.prepare('INSERT INTO t (n) VALUES (?)');
    const order: number[] = [];
    const writes = [1, 2, 2, 3].map((n) =>
      db.write(() => {
        order.push(n);
        insert.run(n); // the second 2 violates the primary key: only it fails
        return n;
      }),
    );
    const results = await Promise.allSettled(writes);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(order).toEqual([1, 2, 2, 3]);
    expect(
      db.db
        .prepare('SELECT n FROM t ORDER BY n')
        .all()
        .map((r) => (r as { n: number }).n),
    ).toEqual([1, 2, 3]);
    // A second connection sees one commit for the whole batch (data_version counts others' commits).
    const other = new SqliteDb({ path: db.db.location() as string });
    const before = (other.db.prepare('PRAGMA data_version').get() as { data_version: number }).data_version;
    await Promise.all([4, 5, 6].map((n) => db.write(() => insert.run(n))));
    const after = (other.db.prepare('PRAGMA data_version').get() as { data_version: number }).data_version;
    expect(after - before).toBe(1);
    other.close();
    db.close();
  });

  it('writes what is still batched when closed', async () => {
    const db = open();
    db.db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY)');
    const path = db.db.location() as string;
    const pending = db.write(() => db.db.prepare('INSERT INTO t (n) VALUES (7)').run());
    db.close();
    await pending;
    const reopened = new SqliteDb({ path });
    expect(reopened.db.prepare('SELECT count(*) AS c FROM t').get()).toEqual({ c: 1 });
    reopened.close();
  });
});
