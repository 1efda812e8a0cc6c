import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteAudit } from '../../src/store/sqlite-audit.js';
import { SqliteDb, type SqliteDbOptions, StateBusyError } from '../../src/store/sqlite-db.js';
import { createSqliteDedupe } from '../../src/store/sqlite-dedupe.js';
import { createSqliteLeases } from '../../src/store/sqlite-leases.js';
import { createSqliteMessages } from '../../src/store/sqlite-messages.js';
import { createSqliteOutbox, DONE_RETENTION_MS } from '../../src/store/sqlite-outbox.js';
import { holdWriteLock, longestStall } from '../helpers/sqlite-lock.js';
import { type ContractState, describeStateContract } from './state-contract.js';

const MINUTE = 60_000;
const root = mkdtempSync(join(tmpdir(), 'opsbot-contract-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A path for a new database file, in a directory of its own. */
function freshPath(): string {
  return join(mkdtempSync(join(root, 'db-')), 'state.db');
}

/** The SQLite stores on one file, as `openSqliteState` composes them. */
function openStores(path: string, now: () => number, options: Partial<SqliteDbOptions> = {}) {
  const db = new SqliteDb({ path, ...options });
  const state: ContractState = {
    audit: createSqliteAudit(db, now),
    dedupe: createSqliteDedupe(db, now),
    messages: createSqliteMessages(db, now),
    outbox: createSqliteOutbox(db, now),
    leases: createSqliteLeases(db, now),
  };
  return { db, state };
}

describeStateContract('SQLite', async (now) => {
  const path = freshPath();
  const { db, state } = openStores(path, now);
  return { state, close: () => db.close() };
});

describe('SQLite state: the file', () => {
  it('keeps every store across closing and reopening the file', async () => {
    const path = freshPath();
    let t = Date.UTC(2026, 0, 1);
    const now = () => t;
    const first = openStores(path, now);
    await first.state.dedupe.putIfAbsent('webhook:1', MINUTE);
    await first.state.messages.putIfAbsent('cycle:1', { channel: 'C0', ts: '1.0', data: '{}' }, MINUTE);
    await first.state.messages.compareAndSet('cycle:1', 1, { channel: 'C0', ts: '1.0', data: '{"n":2}' });
    await first.state.outbox.enqueue({ id: 'a', topic: 'alerts', payload: '{"a":1}' });
    await first.state.outbox.enqueue({ id: 'b', topic: 'alerts', payload: '{"b":1}' });
    await first.state.outbox.claim('alerts', 'w1', 1, MINUTE);
    await first.state.leases.acquire('poller', 'r1', MINUTE);
    first.db.close();

    t += 1_000;
    const second = openStores(path, now);
    expect(await second.state.dedupe.putIfAbsent('webhook:1', MINUTE)).toBe(false);
    expect(await second.state.messages.get('cycle:1')).toEqual({
      channel: 'C0',
      ts: '1.0',
      data: '{"n":2}',
      version: 2,
    });
    expect(await second.state.outbox.pending('alerts')).toBe(2);
    expect((await second.state.outbox.claim('alerts', 'w2', 10, MINUTE)).map((i) => i.id)).toEqual(['b']);
    expect(await second.state.outbox.complete('a', 'w1')).toBe(true);
    expect(await second.state.leases.acquire('poller', 'r2', MINUTE)).toBeUndefined();
    second.db.close();
  });

  it('purges expired dedupe keys and message refs a bounded batch at a time', async () => {
    const path = freshPath();
    let t = Date.UTC(2026, 0, 1);
    const { db, state } = openStores(path, () => t);
    const count = (table: string) =>
      (db.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    for (let i = 0; i < 600; i++) {
      await state.dedupe.putIfAbsent(`old${i}`, 1_000);
      await state.messages.putIfAbsent(`old${i}`, { channel: 'C0', ts: `${i}.0` }, 1_000);
    }
    expect(count('dedupe')).toBe(600);
    t += 1_000;
    for (let i = 0; i < 100; i++) {
      await state.dedupe.putIfAbsent(`new${i}`, 1_000);
      await state.messages.putIfAbsent(`new${i}`, { channel: 'C0', ts: `${i}.0` }, 1_000);
    }
    // One purge of at most 500 rows ran (at the 601st write); the next runs at the 701st.
    expect(count('dedupe')).toBe(200);
    expect(count('message_refs')).toBe(200);
    await state.dedupe.putIfAbsent('next', 1_000);
    await state.messages.putIfAbsent('next', { channel: 'C0', ts: '1.0' }, 1_000);
    expect(count('dedupe')).toBe(101);
    expect(count('message_refs')).toBe(101);
    db.close();
  });

  it('forgets a done outbox item after the retention period, so its id may be enqueued again', async () => {
    const path = freshPath();
    let t = Date.UTC(2026, 0, 1);
    const { db, state } = openStores(path, () => t);
    await state.outbox.enqueue({ id: 'a', topic: 'alerts', payload: '{}' });
    await state.outbox.claim('alerts', 'w1', 1, MINUTE);
    await state.outbox.complete('a', 'w1');
    t += DONE_RETENTION_MS;
    expect(await state.outbox.enqueue({ id: 'a', topic: 'alerts', payload: '{}' })).toBe(false);
    t += 1;
    for (let i = 0; i < 99; i++) await state.outbox.enqueue({ id: `f${i}`, topic: 'alerts', payload: '{}' });
    expect(await state.outbox.enqueue({ id: 'a', topic: 'alerts', payload: '{}' })).toBe(true);
    db.close();
  });
});

describe('SQLite state: another process holding the lock', () => {
  it('waits out a 1.5 s lock without blocking the event loop, then writes', async () => {
    const path = freshPath();
    const { db, state } = openStores(path, Date.now);
    const lock = holdWriteLock(path);
    const releasedAt = new Promise<number>((resolve) =>
      setTimeout(() => {
        lock.release();
        resolve(performance.now());
      }, 1_500),
    );
    try {
      const { stallMs, value: wroteAt } = await longestStall(async () => {
        expect(await state.dedupe.putIfAbsent('webhook:1', MINUTE)).toBe(true);
        return performance.now();
      });
      expect(wroteAt).toBeGreaterThanOrEqual(await releasedAt);
      expect(stallMs).toBeLessThan(500);
    } finally {
      lock.release();
      db.close();
    }
  });

  it('gives up with StateBusyError when the lock outlasts the deadline, and did not write', async () => {
    const path = freshPath();
    const { db, state } = openStores(path, Date.now, { deadlineMs: 300 });
    const lock = holdWriteLock(path);
    const started = performance.now();
    try {
      await expect(state.dedupe.putIfAbsent('webhook:1', MINUTE)).rejects.toBeInstanceOf(StateBusyError);
      expect(performance.now() - started).toBeLessThan(1_500);
    } finally {
      lock.release();
    }
    expect(await state.dedupe.putIfAbsent('webhook:1', MINUTE)).toBe(true);
    db.close();
  });
});
