import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { StateBusyError } from '../../src/store/errors.js';
import { DONE_RETENTION_MS } from '../../src/store/limits.js';
import { createSqliteAudit } from '../../src/store/sqlite-audit.js';
import { SqliteDb, type SqliteDbOptions } from '../../src/store/sqlite-db.js';
import { createSqliteDedupe } from '../../src/store/sqlite-dedupe.js';
import { createSqliteLeases } from '../../src/store/sqlite-leases.js';
import { createSqliteMessages } from '../../src/store/sqlite-messages.js';
import { createSqliteOutbox, INDEX_ONLY_SQL } from '../../src/store/sqlite-outbox.js';
import { createSqliteSignals } from '../../src/store/sqlite-signals.js';
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
    signals: createSqliteSignals(db),
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

describe('SQLite state: unrouted alerts and summaries', () => {
  const alertPayload = (monitorId: string, channel: string, at: number) =>
    JSON.stringify({
      alert: { id: '1', monitorId, transition: 'Triggered', title: `monitor ${monitorId}`, at },
      channel,
    });

  it('forgets an item enqueued done (an unrouted alert) after the retention: its row is purged', async () => {
    const path = freshPath();
    let t = Date.UTC(2026, 0, 1);
    const { db, state } = openStores(path, () => t);
    const rows = () =>
      (
        db.db.prepare("SELECT count(*) AS n FROM outbox WHERE topic = 'alerts:unrouted'").get() as {
          n: number;
        }
      ).n;
    const unrouted = (id: string) => ({
      id,
      topic: 'alerts:unrouted',
      payload: alertPayload('7', '', t),
      summary: { group: '7', kind: 'Triggered', title: 'monitor 7', at: t },
      done: true,
    });
    for (let i = 0; i < 3; i++) await state.outbox.enqueue(unrouted(`u${i}`));
    expect(rows()).toBe(3);
    expect((await state.outbox.tally('alerts:unrouted', 0, 100)).read).toBe(3);
    // A purge runs every 100th write: one just before the retention ends keeps them, one after it does not.
    t += DONE_RETENTION_MS - 1;
    for (let i = 0; i < 100; i++) await state.outbox.enqueue({ id: `f${i}`, topic: 'alerts', payload: '{}' });
    expect(rows()).toBe(3);
    t += 1;
    for (let i = 100; i < 200; i++)
      await state.outbox.enqueue({ id: `f${i}`, topic: 'alerts', payload: '{}' });
    expect(rows()).toBe(0);
    expect(await state.outbox.enqueue(unrouted('u0'))).toBe(true);
    db.close();
  });

  it('migrates a database from before summaries: alerts are tallied from their payloads, unrouted ones are done and then forgotten', async () => {
    const path = freshPath();
    const t0 = Date.UTC(2026, 0, 1);
    // The outbox table as opsbot created it before summaries, with rows of that time.
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE outbox (
      id TEXT PRIMARY KEY, topic TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL, available_at INTEGER NOT NULL, claim_owner TEXT, claim_expires_at INTEGER,
      done_at INTEGER)`);
    const insert = old.prepare(
      'INSERT INTO outbox (id, topic, payload, created_at, available_at, done_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    insert.run('routed-done', 'alerts:C0', alertPayload('1', 'C0', t0 + 5), t0, t0, t0 + 1);
    insert.run('routed-open', 'alerts:C0', alertPayload('1', 'C0', t0 + 9), t0 + 1, t0 + 1, null);
    insert.run('not-an-alert', 'alerts:C0', 'not json', t0 + 2, t0 + 2, null);
    insert.run('unrouted', 'alerts:unrouted', alertPayload('2', '', t0 + 3), t0 + 3, t0 + 3, null);
    old.close();

    let t = t0 + 10;
    const { db, state } = openStores(path, () => t);
    const routed = await state.outbox.tally('alerts:C0', 0, 100);
    expect(routed).toMatchObject({ read: 3, open: 1 });
    expect(routed.groups).toEqual([
      { group: '1', title: 'monitor 1', at: t0 + 9, kinds: new Map([['Triggered', 2]]) },
    ]);
    expect((await state.outbox.history('alerts:C0', '1', 0, 5)).map((i) => i.id)).toEqual([
      'routed-open',
      'routed-done',
    ]);
    expect(await state.outbox.tally('alerts:unrouted', 0, 100)).toMatchObject({ read: 1, open: 0 });
    expect(await state.outbox.pending('alerts:unrouted')).toBe(0);
    expect(await state.outbox.pending('alerts:C0')).toBe(2);
    db.close();

    // Opening it again migrates nothing twice; 30 days after it arrived, the unrouted alert is gone.
    t = t0 + 3 + DONE_RETENTION_MS + 1;
    const again = openStores(path, () => t);
    for (let i = 0; i < 100; i++)
      await again.state.outbox.enqueue({ id: `f${i}`, topic: 'alerts', payload: '{}' });
    const ids = (
      again.db.db.prepare('SELECT id FROM outbox WHERE topic != ? ORDER BY id').all('alerts') as Array<{
        id: string;
      }>
    ).map((r) => r.id);
    expect(ids).toEqual(['not-an-alert', 'routed-open']);
    again.db.close();
  });

  it('tallies and finds history from the indexes alone: no query plan reads the outbox table (or a payload)', () => {
    const { db } = openStores(freshPath(), Date.now);
    for (const [name, sql] of Object.entries(INDEX_ONLY_SQL)) {
      const plan = (db.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>)
        .map((r) => r.detail)
        .filter((detail) => /\boutbox\b/.test(detail));
      expect(plan.length, name).toBeGreaterThan(0);
      for (const detail of plan)
        expect(detail, name).toMatch(/USING COVERING INDEX outbox_(tally|history)\b/);
    }
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
