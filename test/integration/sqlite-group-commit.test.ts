import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteState } from '../../src/store/sqlite.js';
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

describe('SQLite audit batches', () => {
  it('stores batches of any size through multi-row inserts: every record, in order, and the chain verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-audit-batch-'));
    const state = openSqliteState({ path: join(dir, 'a.db'), now: () => Date.parse('2026-12-06T12:00:00Z') });
    // Batch sizes that exercise every chunk size (64, 16, 4, 1) and their sums.
    let n = 0;
    for (const size of [1, 3, 4, 5, 17, 64, 85, 150]) {
      const appended = await Promise.all(
        Array.from({ length: size }, () =>
          state.audit.append({ action: 'bench:ping', actor: 'U1', outcome: 'success', details: { n: ++n } }),
        ),
      );
      expect(appended.map((r) => r.details.n)).toEqual(
        Array.from({ length: size }, (_, i) => n - size + i + 1),
      );
    }
    const stored = await state.audit.query({ limit: 200 });
    expect(stored).toHaveLength(200);
    expect(stored[0]?.seq).toBe(n);
    const check = await state.audit.verify();
    expect(check.ok).toBe(true);
    expect(check.checked).toBe(n);
    state.close();
  });
});
