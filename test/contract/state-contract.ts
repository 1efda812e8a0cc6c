import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/records.js';
import type { Lease, OutboxTally, State } from '../../src/store/state.js';
import { auditCases } from './audit-contract.js';

/**
 * The behaviour every State implementation must show (SQLite and DynamoDB), checked only
 * through the store interfaces. Time is a fake `now` the suite moves; an expiry time `T` (of a
 * dedupe key, message ref, claim or lease) means "live while now < T".
 *
 * @example
 * describeStateContract('SQLite', async (now) => {
 *   const db = new SqliteDb({ path });
 *   return { state: { dedupe: createSqliteDedupe(db, now), ... }, close: () => db.close() };
 * });
 */

export type ContractState = Pick<State, 'audit' | 'dedupe' | 'messages' | 'outbox' | 'leases' | 'signals'>;
export type OpenContractState = (
  now: () => number,
) => Promise<{ state: ContractState; close(): Promise<void> | void }>;

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** The suite's clock: starts at a fixed time and moves only when a test advances it. */
class FakeNow {
  t = Date.UTC(2026, 0, 1, 12, 0, 0);
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

type WithState = <T>(fn: (state: ContractState, clock: FakeNow) => Promise<T>) => Promise<T>;

/** Registers the contract suite for the implementation `open` creates (fresh and empty each call). */
export function describeStateContract(
  name: string,
  open: OpenContractState,
  /** Random runs per property (100; fewer for a store behind a slow emulator, so CI stays in time). */
  options: { propertyRuns?: number } = {},
): void {
  const withState: WithState = async (fn) => {
    const clock = new FakeNow();
    const opened = await open(clock.now);
    try {
      return await fn(opened.state, clock);
    } finally {
      await opened.close();
    }
  };

  describe(`State contract: ${name}`, () => {
    describe('audit', () => auditCases((fn) => withState(({ audit }, clock) => fn(audit, clock))));
    describe('audit briefs', () => auditBriefCases(withState));
    describe('dedupe', () => dedupeCases(withState));
    describe('messages', () => messageCases(withState));
    describe('outbox', () => outboxCases(withState));
    describe('outbox tallies and histories', () => tallyCases(withState));
    describe('leases', () => leaseCases(withState));
    describe('signals', () => signalCases(withState));
    describe('input limits', () => limitCases(withState));
    describe('properties', () => propertyCases(withState, options.propertyRuns ?? 100));
  });
}

function exactlyOne(results: boolean[]): void {
  expect(results.filter(Boolean)).toHaveLength(1);
}

/** The fields a brief carries: the whole record's, picked. */
const briefOfRecord = ({ seq, at, actor, action, outcome }: AuditRecord) => ({
  seq,
  at,
  actor,
  action,
  outcome,
});

function auditBriefCases(withState: WithState): void {
  it('reads briefs after a seq as readAfter reads records: the same records, fields, order and bounds', () =>
    withState(async ({ audit }, clock) => {
      expect(await audit.readBriefAfter(0, 10)).toEqual([]);
      const outcomes = ['success', 'denied', 'intent', 'error'] as const;
      for (let i = 0; i < 30; i++) {
        await audit.append({
          action: i % 4 === 2 ? 'devenv:down' : 'gh:pr list',
          outcome: outcomes[i % 4] as AuditRecord['outcome'],
          actor: i % 5 === 0 ? 'opsbot' : `U0USER${i % 3}`,
          details: { kind: 'command', args: `n=${i}`, channel: 'C0DEV' },
        });
        clock.advance(1_000);
      }
      for (const [after, limit] of [
        [0, 10],
        [7, 5],
        [25, 10],
        [30, 10],
        [0, 1_000],
      ] as const) {
        const briefs = await audit.readBriefAfter(after, limit);
        expect(briefs).toEqual((await audit.readAfter(after, limit)).map(briefOfRecord));
        for (const brief of briefs)
          expect(Object.keys(brief).sort()).toEqual(['action', 'actor', 'at', 'outcome', 'seq']);
      }
      // The bound: at least 1, whatever is asked.
      expect((await audit.readBriefAfter(0, 0)).map((b) => b.seq)).toEqual([1]);
      expect((await audit.readBriefAfter(3, 1)).map((b) => b.seq)).toEqual([4]);
    }));
}

function dedupeCases(withState: WithState): void {
  it('puts a key once: true the first time, false while it lives, true again once it expired', () =>
    withState(async ({ dedupe }, clock) => {
      expect(await dedupe.putIfAbsent('webhook:1', MINUTE)).toBe(true);
      expect(await dedupe.putIfAbsent('webhook:1', MINUTE)).toBe(false);
      expect(await dedupe.putIfAbsent('webhook:2', MINUTE)).toBe(true);
      clock.advance(MINUTE - 1);
      expect(await dedupe.putIfAbsent('webhook:1', MINUTE)).toBe(false);
      clock.advance(1);
      expect(await dedupe.putIfAbsent('webhook:1', MINUTE)).toBe(true);
      expect(await dedupe.putIfAbsent('webhook:1', MINUTE)).toBe(false);
    }));

  it('does not extend a live key when a repeated put is refused', () =>
    withState(async ({ dedupe }, clock) => {
      expect(await dedupe.putIfAbsent('sig', 1_000)).toBe(true);
      clock.advance(600);
      expect(await dedupe.putIfAbsent('sig', 1_000)).toBe(false);
      clock.advance(400);
      expect(await dedupe.putIfAbsent('sig', 1_000)).toBe(true);
    }));

  it('of 50 concurrent puts of one key, exactly one returns true', () =>
    withState(async ({ dedupe }) => {
      exactlyOne(await Promise.all(Array.from({ length: 50 }, () => dedupe.putIfAbsent('race', MINUTE))));
    }));
}

function messageCases(withState: WithState): void {
  const root = { channel: 'C0ALERTS', ts: '1700000000.000100', data: '{"last":"triggered"}' };

  it('answers undefined for an absent key', () =>
    withState(async ({ messages }) => {
      expect(await messages.get('cycle:1')).toBeUndefined();
    }));

  it('putIfAbsent creates once and then returns the first ref', () =>
    withState(async ({ messages }) => {
      expect(await messages.putIfAbsent('cycle:1', root, MINUTE)).toEqual({
        created: true,
        ref: { ...root, version: 1 },
      });
      const again = await messages.putIfAbsent('cycle:1', { channel: 'C0OTHER', ts: '2.0' }, MINUTE);
      expect(again).toEqual({ created: false, ref: { ...root, version: 1 } });
      expect(await messages.get('cycle:1')).toEqual({ ...root, version: 1 });
    }));

  it('keeps a ref without data as one without data', () =>
    withState(async ({ messages }) => {
      await messages.putIfAbsent('cycle:2', { channel: 'C0', ts: '1.0' }, MINUTE);
      const ref = await messages.get('cycle:2');
      expect(ref).toEqual({ channel: 'C0', ts: '1.0', version: 1 });
      expect(ref?.data).toBeUndefined();
    }));

  it('of 20 concurrent putIfAbsent calls exactly one creates, and all see its ref', () =>
    withState(async ({ messages }) => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          messages.putIfAbsent('cycle:1', { channel: 'C0', ts: `${i}.0` }, MINUTE),
        ),
      );
      exactlyOne(results.map((r) => r.created));
      const winner = results.find((r) => r.created)?.ref;
      for (const r of results) expect(r.ref).toEqual(winner);
      expect(await messages.get('cycle:1')).toEqual(winner);
    }));

  it('compareAndSet succeeds with the stored version and adds 1, fails with a stale one or no key', () =>
    withState(async ({ messages }) => {
      await messages.putIfAbsent('cycle:1', root, MINUTE);
      const next = { channel: root.channel, ts: root.ts, data: '{"last":"recovered"}' };
      expect(await messages.compareAndSet('cycle:1', 1, next)).toEqual({ ...next, version: 2 });
      expect(await messages.get('cycle:1')).toEqual({ ...next, version: 2 });
      expect(await messages.compareAndSet('cycle:1', 1, root)).toBeUndefined();
      expect(await messages.get('cycle:1')).toEqual({ ...next, version: 2 });
      expect(await messages.compareAndSet('cycle:1', 2, { channel: 'C0', ts: '9.0' })).toEqual({
        channel: 'C0',
        ts: '9.0',
        version: 3,
      });
      expect(await messages.compareAndSet('cycle:absent', 1, root)).toBeUndefined();
      expect(await messages.get('cycle:absent')).toBeUndefined();
    }));

  it('of concurrent compareAndSets with the same expected version exactly one wins', () =>
    withState(async ({ messages }) => {
      await messages.putIfAbsent('cycle:1', root, MINUTE);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          messages.compareAndSet('cycle:1', 1, { ...root, data: `{"n":${i}}` }),
        ),
      );
      exactlyOne(results.map((r) => r !== undefined));
      const winner = results.find((r) => r !== undefined);
      expect(winner?.version).toBe(2);
      expect(await messages.get('cycle:1')).toEqual(winner);
    }));

  it('an expired ref is absent: get misses it, compareAndSet fails, putIfAbsent creates anew', () =>
    withState(async ({ messages }, clock) => {
      await messages.putIfAbsent('cycle:1', root, MINUTE);
      await messages.compareAndSet('cycle:1', 1, root);
      clock.advance(MINUTE - 1);
      expect((await messages.get('cycle:1'))?.version).toBe(2);
      clock.advance(1);
      expect(await messages.get('cycle:1')).toBeUndefined();
      expect(await messages.compareAndSet('cycle:1', 2, root)).toBeUndefined();
      const fresh = { channel: 'C0NEW', ts: '3.0' };
      expect(await messages.putIfAbsent('cycle:1', fresh, MINUTE)).toEqual({
        created: true,
        ref: { ...fresh, version: 1 },
      });
    }));
}

function outboxCases(withState: WithState): void {
  const alert = (id: string, availableAt?: number) => ({
    id,
    topic: 'alerts',
    payload: `{"id":"${id}"}`,
    availableAt,
  });

  it('enqueues an id once, even after the item was done', () =>
    withState(async ({ outbox }) => {
      expect(await outbox.enqueue(alert('a'))).toBe(true);
      expect(await outbox.enqueue(alert('a'))).toBe(false);
      expect(await outbox.pending('alerts')).toBe(1);
      expect((await outbox.claim('alerts', 'w1', 10, MINUTE)).map((i) => i.id)).toEqual(['a']);
      expect(await outbox.complete('a', 'w1')).toBe(true);
      expect(await outbox.enqueue(alert('a'))).toBe(false);
      expect(await outbox.pending('alerts')).toBe(0);
      expect(await outbox.claim('alerts', 'w1', 10, MINUTE)).toEqual([]);
    }));

  it('claims due items of its topic oldest first, up to the limit, and not future ones', () =>
    withState(async ({ outbox }, clock) => {
      const start = clock.now();
      await outbox.enqueue(alert('a'));
      clock.advance(1);
      await outbox.enqueue({ id: 'other', topic: 'reports', payload: '{}' });
      await outbox.enqueue(alert('b'));
      clock.advance(1);
      await outbox.enqueue(alert('later', clock.now() + MINUTE));
      clock.advance(1);
      await outbox.enqueue(alert('c'));
      const first = await outbox.claim('alerts', 'w1', 2, MINUTE);
      expect(first).toEqual([
        {
          id: 'a',
          topic: 'alerts',
          payload: '{"id":"a"}',
          attempts: 0,
          createdAt: start,
          availableAt: start,
        },
        {
          id: 'b',
          topic: 'alerts',
          payload: '{"id":"b"}',
          attempts: 0,
          createdAt: start + 1,
          availableAt: start + 1,
        },
      ]);
      expect((await outbox.claim('alerts', 'w1', 100, MINUTE)).map((i) => i.id)).toEqual(['c']);
      clock.advance(MINUTE - 2);
      expect(await outbox.claim('alerts', 'w2', 100, 10 * MINUTE)).toEqual([]);
      clock.advance(1);
      expect((await outbox.claim('alerts', 'w2', 100, 10 * MINUTE)).map((i) => i.id)).toEqual(['later']);
    }));

  it('keeps a claimed item from other owners until the claim expires, then lets one take it', () =>
    withState(async ({ outbox }, clock) => {
      await outbox.enqueue(alert('a'));
      expect(await outbox.claim('alerts', 'w1', 10, 1_000)).toHaveLength(1);
      expect(await outbox.claim('alerts', 'w2', 10, 1_000)).toEqual([]);
      expect(await outbox.claim('alerts', 'w1', 10, 1_000)).toEqual([]);
      clock.advance(999);
      expect(await outbox.claim('alerts', 'w2', 10, 1_000)).toEqual([]);
      clock.advance(1);
      expect((await outbox.claim('alerts', 'w2', 10, 1_000)).map((i) => i.id)).toEqual(['a']);
      expect(await outbox.claim('alerts', 'w3', 10, 1_000)).toEqual([]);
      expect(await outbox.complete('a', 'w1')).toBe(false);
      expect(await outbox.release('a', 'w1', clock.now())).toBe(false);
      expect(await outbox.complete('a', 'w2')).toBe(true);
    }));

  it('lists the items of a topic enqueued since a time, done or not, newest first', () =>
    withState(async ({ outbox }, clock) => {
      await outbox.enqueue(alert('old'));
      clock.advance(10);
      const since = clock.now();
      await outbox.enqueue(alert('a'));
      await outbox.enqueue({ id: 'other', topic: 'reports', payload: '{}' });
      clock.advance(1);
      await outbox.enqueue(alert('b'));
      await outbox.claim('alerts', 'w1', 10, MINUTE);
      expect(await outbox.complete('a', 'w1')).toBe(true);
      const recent = await outbox.recent('alerts', since, 10);
      expect(recent.map((i) => [i.id, i.done])).toEqual([
        ['b', false],
        ['a', true],
      ]);
      expect((await outbox.recent('alerts', since, 1)).map((i) => i.id)).toEqual(['b']);
      expect((await outbox.recent('alerts', 0, 10)).map((i) => i.id)).toEqual(['b', 'a', 'old']);
      await expect(outbox.recent('alerts', since, 0)).rejects.toThrow(RangeError);
      await expect(outbox.recent('alerts', since, 10_001)).rejects.toThrow(RangeError);
    }));

  it('takes over items another owner still holds when asked to (the holder of the topic lease), oldest first', () =>
    withState(async ({ outbox }, clock) => {
      await outbox.enqueue(alert('a'));
      clock.advance(1);
      await outbox.enqueue(alert('b'));
      expect((await outbox.claim('alerts', 'dead', 1, MINUTE)).map((i) => i.id)).toEqual(['a']);
      expect((await outbox.claim('alerts', 'next', 10, MINUTE)).map((i) => i.id)).toEqual(['b']);
      expect(await outbox.release('b', 'next', clock.now())).toBe(true);
      const taken = await outbox.claim('alerts', 'next', 10, MINUTE, { takeOver: true });
      expect(taken.map((i) => i.id)).toEqual(['a', 'b']);
      expect(await outbox.complete('a', 'dead')).toBe(false);
      expect(await outbox.complete('a', 'next')).toBe(true);
    }));

  it('of concurrent claims by several owners, each item goes to one of them', () =>
    withState(async ({ outbox }) => {
      for (let i = 0; i < 10; i++) await outbox.enqueue(alert(`i${i}`));
      const claims = await Promise.all(
        Array.from({ length: 5 }, (_, w) => outbox.claim('alerts', `w${w}`, 3, MINUTE)),
      );
      const ids = claims.flat().map((i) => i.id);
      expect(ids).toHaveLength(10);
      expect(new Set(ids).size).toBe(10);
    }));

  it('completes an item only for its owner, and a done item is never claimed again', () =>
    withState(async ({ outbox }, clock) => {
      await outbox.enqueue(alert('a'));
      expect(await outbox.complete('a', 'w1')).toBe(false);
      await outbox.claim('alerts', 'w1', 10, 1_000);
      expect(await outbox.complete('a', 'w2')).toBe(false);
      expect(await outbox.complete('absent', 'w1')).toBe(false);
      expect(await outbox.complete('a', 'w1')).toBe(true);
      clock.advance(DAY);
      expect(await outbox.claim('alerts', 'w2', 10, 1_000)).toEqual([]);
      expect(await outbox.pending('alerts')).toBe(0);
    }));

  it('release by the owner counts an attempt and makes the item due again at availableAt', () =>
    withState(async ({ outbox }, clock) => {
      const createdAt = clock.now();
      await outbox.enqueue(alert('a'));
      await outbox.claim('alerts', 'w1', 10, MINUTE);
      const retryAt = clock.now() + 5_000;
      expect(await outbox.release('a', 'w2', retryAt)).toBe(false);
      expect(await outbox.release('a', 'w1', retryAt)).toBe(true);
      expect(await outbox.release('a', 'w1', retryAt)).toBe(false);
      expect(await outbox.claim('alerts', 'w2', 10, MINUTE)).toEqual([]);
      clock.advance(4_999);
      expect(await outbox.claim('alerts', 'w2', 10, MINUTE)).toEqual([]);
      clock.advance(1);
      expect(await outbox.claim('alerts', 'w2', 10, MINUTE)).toEqual([
        { id: 'a', topic: 'alerts', payload: '{"id":"a"}', attempts: 1, createdAt, availableAt: retryAt },
      ]);
      expect(await outbox.release('a', 'w2', clock.now())).toBe(true);
      expect((await outbox.claim('alerts', 'w3', 10, MINUTE))[0]?.attempts).toBe(2);
    }));

  it('moves a claimed item to another topic with a new payload, unclaimed and due now, keeping its id, age, attempts and summary', () =>
    withState(async ({ outbox }, clock) => {
      const summary = { group: '77', kind: 'Triggered', title: 'disk full', at: 5 };
      await outbox.enqueue({ id: 'a', topic: 'intake', payload: '{"v":1}', summary });
      const enqueuedAt = clock.now();
      clock.advance(1_000);
      await outbox.enqueue({ id: 'b', topic: 'intake', payload: '{"v":1}' });
      expect(await outbox.move('a', 'router', { topic: 'alerts:C1', payload: '{"v":2}' })).toBe(false);
      await outbox.claim('intake', 'router', 1, MINUTE);
      expect(await outbox.release('a', 'router', clock.now())).toBe(true);
      clock.advance(1_000);
      await outbox.claim('intake', 'router', 2, MINUTE);
      expect(await outbox.move('a', 'other', { topic: 'alerts:C1', payload: '{"v":2}' })).toBe(false);
      expect(await outbox.move('a', 'router', { topic: 'alerts:C1', payload: '{"v":2}' })).toBe(true);
      // It is no longer the router's: neither moved again nor completed nor released by it.
      expect(await outbox.move('a', 'router', { topic: 'alerts:C2', payload: '{}' })).toBe(false);
      expect(await outbox.complete('a', 'router')).toBe(false);
      expect(await outbox.release('a', 'router', clock.now())).toBe(false);
      expect(await outbox.pending('intake')).toBe(1);
      expect(await outbox.pending('alerts:C1')).toBe(1);
      expect(await outbox.enqueue({ id: 'a', topic: 'intake', payload: '{}' })).toBe(false);
      const [taken, ...more] = await outbox.claim('alerts:C1', 'dispatcher', 10, MINUTE);
      expect(more).toEqual([]);
      expect(taken).toEqual({
        id: 'a',
        topic: 'alerts:C1',
        payload: '{"v":2}',
        attempts: 1,
        createdAt: enqueuedAt,
        availableAt: clock.now(),
      });
      expect(await outbox.complete('a', 'dispatcher')).toBe(true);
      expect(await outbox.pending('alerts:C1')).toBe(0);
      const tally = await outbox.tally('alerts:C1', 0, 10);
      expect(tally).toMatchObject({ read: 1, open: 0, groups: [{ group: '77', title: 'disk full' }] });
      expect((await outbox.recent('intake', 0, 10)).map((i) => i.id)).toEqual(['b']);
      expect(await outbox.enqueue({ id: 'a', topic: 'alerts:C1', payload: '{}' })).toBe(false);
    }));

  it('moves an item done: a record under its new topic, never claimed, its id still refused', () =>
    withState(async ({ outbox }) => {
      await outbox.enqueue({ id: 'a', topic: 'intake', payload: '{}' });
      await outbox.claim('intake', 'router', 1, MINUTE);
      expect(await outbox.move('a', 'router', { topic: 'unrouted', payload: '{"c":""}', done: true })).toBe(
        true,
      );
      expect(await outbox.pending('intake')).toBe(0);
      expect(await outbox.pending('unrouted')).toBe(0);
      expect(await outbox.claim('unrouted', 'w', 10, MINUTE, { takeOver: true })).toEqual([]);
      expect(await outbox.claim('intake', 'w', 10, MINUTE, { takeOver: true })).toEqual([]);
      expect((await outbox.recent('unrouted', 0, 10)).map((i) => [i.id, i.topic, i.payload, i.done])).toEqual(
        [['a', 'unrouted', '{"c":""}', true]],
      );
      expect(await outbox.enqueue({ id: 'a', topic: 'intake', payload: '{}' })).toBe(false);
      expect(await outbox.move('a', 'router', { topic: 'x', payload: '{}' })).toBe(false);
    }));

  it('of concurrent moves and completions of one item, exactly one succeeds; a move checks its input', () =>
    withState(async ({ outbox }, clock) => {
      await outbox.enqueue({ id: 'a', topic: 'intake', payload: '{}' });
      await outbox.claim('intake', 'r1', 1, 1_000);
      // The claim expired and another replica's router took the item: the first may no longer move it.
      clock.advance(1_000);
      await outbox.claim('intake', 'r2', 1, MINUTE);
      const outcomes = await Promise.all([
        outbox.move('a', 'r1', { topic: 'alerts:C1', payload: '{}' }),
        outbox.move('a', 'r2', { topic: 'alerts:C1', payload: '{}' }),
        outbox.move('a', 'r2', { topic: 'alerts:C2', payload: '{}' }),
        outbox.complete('a', 'r2'),
      ]);
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      expect(outcomes[0]).toBe(false);
      const pending = (await outbox.pending('alerts:C1')) + (await outbox.pending('alerts:C2'));
      expect(pending).toBe(outcomes[3] ? 0 : 1);
      await expect(outbox.move('a', 'r2', { topic: '', payload: '{}' })).rejects.toThrow(RangeError);
      await expect(
        outbox.move('a', 'r2', { topic: 't', payload: 'x'.repeat(64 * 1024 + 1) }),
      ).rejects.toThrow(RangeError);
    }));

  it('counts pending items per topic, claimed or not, until they are done', () =>
    withState(async ({ outbox }) => {
      expect(await outbox.pending('alerts')).toBe(0);
      for (const id of ['a', 'b', 'c']) await outbox.enqueue(alert(id));
      await outbox.enqueue({ id: 'r', topic: 'reports', payload: '{}' });
      expect(await outbox.pending('alerts')).toBe(3);
      await outbox.claim('alerts', 'w1', 1, MINUTE);
      expect(await outbox.pending('alerts')).toBe(3);
      await outbox.complete('a', 'w1');
      expect(await outbox.pending('alerts')).toBe(2);
      expect(await outbox.pending('reports')).toBe(1);
    }));
}

function tallyCases(withState: WithState): void {
  const summary = (group: string, kind: string, title: string, at: number) => ({ group, kind, title, at });
  const sorted = (tally: OutboxTally) =>
    tally.groups
      .map((g) => ({ ...g, kinds: Object.fromEntries([...g.kinds].sort()) }))
      .sort((a, b) => a.group.localeCompare(b.group));

  it('tallies the newest items of a topic since a time by summary, done or not, counting those without one as read only', () =>
    withState(async ({ outbox }, clock) => {
      const enqueue = async (id: string, s?: ReturnType<typeof summary>, done?: boolean) => {
        clock.advance(1);
        await outbox.enqueue({
          id,
          topic: 'alerts',
          payload: '{}',
          ...(s ? { summary: s } : {}),
          ...(done === undefined ? {} : { done }),
        });
      };
      await enqueue('before', summary('9', 'Triggered', 'too old', 1));
      const since = clock.now() + 1;
      await enqueue('a', summary('1', 'Triggered', 'one: first', 100));
      await enqueue('b', summary('1', 'Recovered', 'one: latest', 300), true);
      await enqueue('c', summary('1', 'Triggered', 'one: late but older', 200));
      await enqueue('d', summary('2', 'Warn', 'two', 50));
      await enqueue('e');
      await outbox.enqueue({
        id: 'x',
        topic: 'other',
        payload: '{}',
        summary: summary('1', 'Warn', 'x', 999),
      });
      await outbox.claim('alerts', 'w1', 100, MINUTE);
      expect(await outbox.complete('a', 'w1')).toBe(true);

      const tally = await outbox.tally('alerts', since, 100);
      expect(tally).toMatchObject({ read: 5, open: 2 });
      expect(sorted(tally)).toEqual([
        { group: '1', title: 'one: latest', at: 300, kinds: { Recovered: 1, Triggered: 2 } },
        { group: '2', title: 'two', at: 50, kinds: { Warn: 1 } },
      ]);
      // The newest 2 only: e (no summary) and d.
      const newest = await outbox.tally('alerts', since, 2);
      expect(newest).toMatchObject({ read: 2, open: 1 });
      expect(sorted(newest)).toEqual([{ group: '2', title: 'two', at: 50, kinds: { Warn: 1 } }]);
      expect(await outbox.tally('nothing', 0, 10)).toEqual({ read: 0, open: 0, groups: [] });
      await expect(outbox.tally('alerts', since, 0)).rejects.toThrow(RangeError);
      await expect(outbox.tally('alerts', since, 10_001)).rejects.toThrow(RangeError);
    }));

  it('of equal times, a tally shows the title of the newest enqueued; pages add up to the same counts', () =>
    withState(async ({ outbox }, clock) => {
      for (let i = 0; i < 25; i++) {
        clock.advance(1);
        await outbox.enqueue({
          id: `i${i}`,
          topic: 'alerts',
          payload: '{}',
          summary: summary(String(i % 3), i % 2 ? 'Warn' : 'Triggered', `title ${i}`, 7),
        });
      }
      const tally = await outbox.tally('alerts', 0, 10_000);
      expect(tally.read).toBe(25);
      expect(sorted(tally).map((g) => [g.group, g.title])).toEqual([
        ['0', 'title 24'],
        ['1', 'title 22'],
        ['2', 'title 23'],
      ]);
      expect(sorted(tally).reduce((n, g) => n + Object.values(g.kinds).reduce((a, b) => a + b, 0), 0)).toBe(
        25,
      );
    }));

  it('finds the items of one group since a time, the latest `at` first, at most the limit, with payloads', () =>
    withState(async ({ outbox }, clock) => {
      await outbox.enqueue({
        id: 'old',
        topic: 'alerts',
        payload: '"old"',
        summary: summary('1', 'Warn', 't', 999),
      });
      clock.advance(1);
      const since = clock.now();
      for (const [id, group, at] of [
        ['a', '1', 10],
        ['b', '2', 50],
        ['c', '1', 30],
        ['d', '1', 20],
        ['e', '1', 30],
      ] as const) {
        clock.advance(1);
        await outbox.enqueue({
          id,
          topic: 'alerts',
          payload: `"${id}"`,
          summary: summary(group, 'Warn', id, at),
        });
      }
      await outbox.enqueue({ id: 'n', topic: 'alerts', payload: '"n"' });
      await outbox.claim('alerts', 'w1', 100, MINUTE);
      expect(await outbox.complete('c', 'w1')).toBe(true);
      const found = await outbox.history('alerts', '1', since, 10);
      expect(found.map((i) => [i.id, i.payload, i.done])).toEqual([
        ['e', '"e"', false],
        ['c', '"c"', true],
        ['d', '"d"', false],
        ['a', '"a"', false],
      ]);
      expect((await outbox.history('alerts', '1', since, 2)).map((i) => i.id)).toEqual(['e', 'c']);
      expect(await outbox.history('alerts', '3', since, 2)).toEqual([]);
      expect(await outbox.history('other', '1', since, 2)).toEqual([]);
      await expect(outbox.history('alerts', '1', since, 0)).rejects.toThrow(RangeError);
      await expect(outbox.history('alerts', '1', since, 101)).rejects.toThrow(RangeError);
      await expect(outbox.history('alerts', '', since, 1)).rejects.toThrow(RangeError);
    }));

  it('stores an item enqueued done as a record: never claimed nor pending, listed and tallied as done, its id refused again', () =>
    withState(async ({ outbox }) => {
      const record = {
        id: 'r',
        topic: 'alerts',
        payload: '"r"',
        summary: summary('5', 'Triggered', 'r', 1),
        done: true,
      };
      expect(await outbox.enqueue(record)).toBe(true);
      expect(await outbox.enqueue(record)).toBe(false);
      expect(await outbox.enqueue({ ...record, done: false })).toBe(false);
      expect(await outbox.pending('alerts')).toBe(0);
      expect(await outbox.claim('alerts', 'w1', 10, MINUTE, { takeOver: true })).toEqual([]);
      expect(await outbox.complete('r', 'w1')).toBe(false);
      expect(await outbox.release('r', 'w1', 0)).toBe(false);
      expect((await outbox.recent('alerts', 0, 10)).map((i) => [i.id, i.done])).toEqual([['r', true]]);
      expect(await outbox.tally('alerts', 0, 10)).toMatchObject({ read: 1, open: 0 });
      expect((await outbox.history('alerts', '5', 0, 5)).map((i) => [i.id, i.done])).toEqual([['r', true]]);
    }));

  it('keeps the summary of an item through its claim and completion', () =>
    withState(async ({ outbox }) => {
      await outbox.enqueue({
        id: 'a',
        topic: 'alerts',
        payload: '"a"',
        summary: summary('1', 'Warn', 'kept', 4),
      });
      await outbox.claim('alerts', 'w1', 1, MINUTE);
      expect(await outbox.complete('a', 'w1')).toBe(true);
      const tally = await outbox.tally('alerts', 0, 10);
      expect(sorted(tally)).toEqual([{ group: '1', title: 'kept', at: 4, kinds: { Warn: 1 } }]);
      expect((await outbox.history('alerts', '1', 0, 1)).map((i) => i.id)).toEqual(['a']);
    }));

  it('refuses a summary without a group or kind, with a title over 1,000 characters or a time that is not one', () =>
    withState(async ({ outbox }) => {
      const item = (s: unknown) =>
        outbox.enqueue({ id: 'a', topic: 'alerts', payload: '{}', summary: s as ReturnType<typeof summary> });
      for (const bad of [
        summary('', 'Warn', 't', 1),
        summary('1', '', 't', 1),
        summary('1', 'k'.repeat(513), 't', 1),
        summary('1', 'Warn', 't'.repeat(1_001), 1),
        summary('1', 'Warn', 't', Number.NaN),
        null,
      ])
        await expect(item(bad)).rejects.toThrow(RangeError);
      expect(await item(summary('g'.repeat(512), 'Warn', 't'.repeat(1_000), 0))).toBe(true);
      expect(await outbox.pending('alerts')).toBe(1);
    }));
}

function signalCases(withState: WithState): void {
  it('counts bumps per key: a reader that remembers what it saw knows which keys moved', () =>
    withState(async ({ signals }) => {
      expect(await signals.read()).toEqual(new Map());
      await signals.bump('C0ALERTS');
      const seen = await signals.read();
      expect(seen).toEqual(new Map([['C0ALERTS', 1]]));
      await Promise.all([signals.bump('C0ALERTS'), signals.bump('C0ALERTS'), signals.bump('C0OPS')]);
      const now = await signals.read();
      expect(now.get('C0ALERTS')).toBe(3);
      expect(now.get('C0OPS')).toBe(1);
      const moved = [...now].filter(([key, n]) => n !== seen.get(key)).map(([key]) => key);
      expect(moved.sort()).toEqual(['C0ALERTS', 'C0OPS']);
    }));

  it('refuses a key that is not a key', () =>
    withState(async ({ signals }) => {
      await expect(signals.bump('')).rejects.toThrow(RangeError);
    }));

  it('never loses a bump among many at once', () =>
    withState(async ({ signals }) => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => signals.bump(i % 2 ? 'a' : 'b')));
      expect(await signals.read()).toEqual(
        new Map([
          ['a', 10],
          ['b', 10],
        ]),
      );
    }));
}

function leaseCases(withState: WithState): void {
  it('acquires a free lease, refuses it to another owner, and renews it for its holder', () =>
    withState(async ({ leases }, clock) => {
      const t0 = clock.now();
      expect(await leases.acquire('poller', 'r1', MINUTE)).toEqual({
        name: 'poller',
        owner: 'r1',
        expiresAt: t0 + MINUTE,
      });
      expect(await leases.acquire('poller', 'r2', MINUTE)).toBeUndefined();
      expect(await leases.acquire('other', 'r2', MINUTE)).toEqual({
        name: 'other',
        owner: 'r2',
        expiresAt: t0 + MINUTE,
      });
      clock.advance(MINUTE / 2);
      const renewed = await leases.acquire('poller', 'r1', MINUTE);
      expect(renewed).toEqual({ name: 'poller', owner: 'r1', expiresAt: clock.now() + MINUTE });
      clock.advance(MINUTE / 2);
      expect(await leases.acquire('poller', 'r2', MINUTE)).toBeUndefined();
    }));

  it('lets another owner take an expired lease', () =>
    withState(async ({ leases }, clock) => {
      await leases.acquire('poller', 'r1', MINUTE);
      clock.advance(MINUTE - 1);
      expect(await leases.acquire('poller', 'r2', MINUTE)).toBeUndefined();
      clock.advance(1);
      expect(await leases.acquire('poller', 'r2', MINUTE)).toEqual({
        name: 'poller',
        owner: 'r2',
        expiresAt: clock.now() + MINUTE,
      });
      expect(await leases.acquire('poller', 'r1', MINUTE)).toBeUndefined();
    }));

  it('releases a lease only for its holder, and then it is free', () =>
    withState(async ({ leases }, clock) => {
      expect(await leases.release('poller', 'r1')).toBe(false);
      await leases.acquire('poller', 'r1', MINUTE);
      expect(await leases.release('poller', 'r2')).toBe(false);
      expect(await leases.release('poller', 'r1')).toBe(true);
      expect(await leases.release('poller', 'r1')).toBe(false);
      expect((await leases.acquire('poller', 'r2', MINUTE))?.owner).toBe('r2');
      clock.advance(MINUTE);
      expect(await leases.release('poller', 'r2')).toBe(false);
    }));

  it('of 20 owners acquiring one lease concurrently, exactly one gets it', () =>
    withState(async ({ leases }) => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => leases.acquire('poller', `r${i}`, MINUTE)),
      );
      exactlyOne(results.map((r) => r !== undefined));
    }));
}

function limitCases(withState: WithState): void {
  const key512 = 'k'.repeat(512);
  const key513 = 'k'.repeat(513);

  it('accepts keys of 1 to 512 characters and durations up to 30 days, and rejects others', () =>
    withState(async ({ dedupe, leases }) => {
      expect(await dedupe.putIfAbsent(key512, 30 * DAY)).toBe(true);
      expect(await dedupe.putIfAbsent('k', 1)).toBe(true);
      for (const [key, ttl] of [
        ['', MINUTE],
        [key513, MINUTE],
        ['k2', 0],
        ['k2', -1],
        ['k2', Number.NaN],
        ['k2', Number.POSITIVE_INFINITY],
        ['k2', 30 * DAY + 1],
      ] as const)
        await expect(dedupe.putIfAbsent(key, ttl)).rejects.toThrow(RangeError);
      await expect(leases.acquire('', 'r1', MINUTE)).rejects.toThrow(RangeError);
      await expect(leases.acquire('poller', key513, MINUTE)).rejects.toThrow(RangeError);
      await expect(leases.acquire('poller', 'r1', 0)).rejects.toThrow(RangeError);
      expect(await leases.acquire('poller', 'r1', MINUTE)).toBeDefined();
    }));

  it('takes message data up to 32 KiB and outbox payloads up to 64 KiB, and rejects more', () =>
    withState(async ({ messages, outbox }) => {
      const ref = (data: string) => ({ channel: 'C0', ts: '1.0', data });
      expect((await messages.putIfAbsent('m1', ref('x'.repeat(32_768)), MINUTE)).created).toBe(true);
      await expect(messages.putIfAbsent('m2', ref('x'.repeat(32_769)), MINUTE)).rejects.toThrow(RangeError);
      // Bytes, not characters: 16,385 two-byte characters are 32,770 bytes.
      await expect(messages.putIfAbsent('m2', ref('é'.repeat(16_385)), MINUTE)).rejects.toThrow(RangeError);
      await expect(messages.compareAndSet('m1', 1, ref('x'.repeat(32_769)))).rejects.toThrow(RangeError);
      await expect(messages.putIfAbsent('', ref('{}'), MINUTE)).rejects.toThrow(RangeError);
      await expect(messages.get(key513)).rejects.toThrow(RangeError);
      const item = (id: string, bytes: number) => ({ id, topic: 'alerts', payload: 'x'.repeat(bytes) });
      expect(await outbox.enqueue(item('a', 64 * 1024))).toBe(true);
      await expect(outbox.enqueue(item('b', 64 * 1024 + 1))).rejects.toThrow(RangeError);
      await expect(outbox.enqueue(item('', 10))).rejects.toThrow(RangeError);
      expect(await outbox.pending('alerts')).toBe(1);
    }));

  it('claims 1 to 100 items at a time, for a lease above 0 and up to 30 days', () =>
    withState(async ({ outbox }) => {
      for (const limit of [0, 101, 1.5, Number.NaN])
        await expect(outbox.claim('alerts', 'w1', limit, MINUTE)).rejects.toThrow(RangeError);
      await expect(outbox.claim('alerts', 'w1', 10, 0)).rejects.toThrow(RangeError);
      await expect(outbox.claim('alerts', 'w1', 10, 30 * DAY + 1)).rejects.toThrow(RangeError);
      await expect(outbox.claim('alerts', '', 10, MINUTE)).rejects.toThrow(RangeError);
      expect(await outbox.claim('alerts', 'w1', 100, 30 * DAY)).toEqual([]);
      expect(await outbox.claim('alerts', 'w1', 1, MINUTE)).toEqual([]);
    }));
}

function propertyCases(withState: WithState, numRuns: number): void {
  it('dedupe matches an in-memory model over random puts and clock moves', () =>
    fc.assert(
      fc.asyncProperty(fc.array(dedupeStep, { minLength: 10, maxLength: 60, size: 'medium' }), (steps) =>
        withState(async ({ dedupe }, clock) => {
          const expiries = new Map<string, number>();
          for (const step of steps) {
            if (step.kind === 'advance') {
              clock.advance(step.ms);
              continue;
            }
            const live = (expiries.get(step.key) ?? Number.NEGATIVE_INFINITY) > clock.now();
            expect(await dedupe.putIfAbsent(step.key, step.ttl)).toBe(!live);
            if (!live) expiries.set(step.key, clock.now() + step.ttl);
          }
        }),
      ),
      { numRuns },
    ));

  it('leases never have two holders and match a model over random operations', () =>
    fc.assert(
      fc.asyncProperty(fc.array(leaseStep, { minLength: 10, maxLength: 60, size: 'medium' }), (steps) =>
        withState(async ({ leases }, clock) => {
          const model = new LeaseModel(clock);
          for (const step of steps) {
            if (step.kind === 'advance') clock.advance(step.ms);
            else if (step.kind === 'release')
              expect(await leases.release(step.name, step.owner)).toBe(model.release(step.name, step.owner));
            else {
              const results = await Promise.all(
                step.owners.map((o) => leases.acquire(step.name, o, step.ttl)),
              );
              model.acquired(step.name, step.owners, results, step.ttl);
            }
          }
        }),
      ),
      { numRuns },
    ));

  it('outbox never gives an item to two live claims and matches a model of due items', () =>
    fc.assert(
      fc.asyncProperty(fc.array(outboxStep, { minLength: 10, maxLength: 60, size: 'medium' }), (steps) =>
        withState(async ({ outbox }, clock) => {
          const model = new OutboxModel(clock);
          for (const step of steps) {
            if (step.kind === 'advance') clock.advance(step.ms);
            else if (step.kind === 'enqueue')
              expect(await outbox.enqueue({ id: step.id, topic: 'alerts', payload: '{}' })).toBe(
                model.enqueue(step.id),
              );
            else if (step.kind === 'claim')
              model.claimed(
                step.owner,
                step.limit,
                step.leaseMs,
                await outbox.claim('alerts', step.owner, step.limit, step.leaseMs),
              );
            else if (step.kind === 'complete')
              model.completed(step.id, step.owner, await outbox.complete(step.id, step.owner));
            else
              model.released(
                step.id,
                step.owner,
                step.delay,
                await outbox.release(step.id, step.owner, clock.now() + step.delay),
              );
            expect(await outbox.pending('alerts')).toBe(model.pending());
          }
        }),
      ),
      { numRuns },
    ));
}

// Durations and clock moves of a few milliseconds, so that runs often land exactly on an expiry.
const shortDuration = fc.integer({ min: 1, max: 10 });
const advanceStep = fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 12 }) });

const dedupeStep = fc.oneof(
  fc.record({
    kind: fc.constant('put' as const),
    key: fc.constantFrom('a', 'b', 'c'),
    ttl: shortDuration,
  }),
  advanceStep,
);

const leaseName = fc.constantFrom('poller', 'sweeper');
const leaseOwner = fc.constantFrom('r1', 'r2', 'r3');
const leaseStep = fc.oneof(
  fc.record({
    kind: fc.constant('acquire' as const),
    name: leaseName,
    owners: fc.uniqueArray(leaseOwner, { minLength: 1, maxLength: 3 }),
    ttl: shortDuration,
  }),
  fc.record({ kind: fc.constant('release' as const), name: leaseName, owner: leaseOwner }),
  advanceStep,
);

/**
 * What the lease store should answer. Concurrent acquires of one name by several owners may be
 * served in any order, so the model checks the outcome: the holder (if among them) renews, a free
 * lease goes to exactly one of them, and nobody takes a lease another owner holds.
 */
class LeaseModel {
  readonly #holders = new Map<string, Lease>();
  constructor(readonly clock: FakeNow) {}

  #holder(name: string): Lease | undefined {
    const lease = this.#holders.get(name);
    return lease && lease.expiresAt > this.clock.now() ? lease : undefined;
  }

  acquired(name: string, owners: string[], results: (Lease | undefined)[], ttl: number): void {
    const holder = this.#holder(name);
    const winners = owners.filter((_, i) => results[i] !== undefined);
    const expected = holder ? owners.filter((o) => o === holder.owner) : [winners[0] ?? owners[0]];
    expect(winners, `acquire ${name} by ${owners.join(',')} with holder ${holder?.owner}`).toEqual(expected);
    const winner = winners[0];
    if (winner === undefined) return;
    const lease = { name, owner: winner, expiresAt: this.clock.now() + ttl };
    expect(results[owners.indexOf(winner)]).toEqual(lease);
    this.#holders.set(name, lease);
  }

  release(name: string, owner: string): boolean {
    if (this.#holder(name)?.owner !== owner) return false;
    this.#holders.delete(name);
    return true;
  }
}

const outboxId = fc.constantFrom('i1', 'i2', 'i3');
const outboxOwner = fc.constantFrom('w1', 'w2');
const outboxStep = fc.oneof(
  fc.record({ kind: fc.constant('enqueue' as const), id: outboxId }),
  fc.record({
    kind: fc.constant('claim' as const),
    owner: outboxOwner,
    limit: fc.integer({ min: 1, max: 3 }),
    leaseMs: shortDuration,
  }),
  fc.record({ kind: fc.constant('complete' as const), id: outboxId, owner: outboxOwner }),
  fc.record({
    kind: fc.constant('release' as const),
    id: outboxId,
    owner: outboxOwner,
    delay: fc.integer({ min: 0, max: 10 }),
  }),
  advanceStep,
);

interface ModelItem {
  availableAt: number;
  attempts: number;
  done: boolean;
  /** The latest claim, cleared by release. */
  claim?: { owner: string; expiresAt: number };
}

/**
 * What the outbox should answer (one topic). Left open on purpose: whether the last claimant may
 * still complete or release after its own claim expired while nobody claimed the item since.
 */
class OutboxModel {
  readonly #items = new Map<string, ModelItem>();
  constructor(readonly clock: FakeNow) {}

  #heldBy(item: ModelItem): string | undefined {
    return item.claim && item.claim.expiresAt > this.clock.now() ? item.claim.owner : undefined;
  }

  enqueue(id: string): boolean {
    if (this.#items.has(id)) return false;
    this.#items.set(id, { availableAt: this.clock.now(), attempts: 0, done: false });
    return true;
  }

  claimed(owner: string, limit: number, leaseMs: number, claimed: { id: string; attempts: number }[]): void {
    const now = this.clock.now();
    const due = [...this.#items].filter(([, i]) => !i.done && i.availableAt <= now && !this.#heldBy(i));
    expect(claimed.length).toBe(Math.min(limit, due.length));
    for (const { id, attempts } of claimed) {
      const item = this.#items.get(id);
      expect(item && due.some(([d]) => d === id), `claimed ${id}, which is not due or is held`).toBe(true);
      if (!item) continue;
      expect(attempts).toBe(item.attempts);
      item.claim = { owner, expiresAt: now + leaseMs };
    }
  }

  completed(id: string, owner: string, ok: boolean): void {
    const item = this.#settled(id, owner, ok);
    if (item && ok) item.done = true;
  }

  released(id: string, owner: string, delay: number, ok: boolean): void {
    const item = this.#settled(id, owner, ok);
    if (!item || !ok) return;
    item.attempts++;
    item.availableAt = this.clock.now() + delay;
    delete item.claim;
  }

  /** Checks a complete/release answer: it must succeed for the live holder, and only the latest claimant. */
  #settled(id: string, owner: string, ok: boolean): ModelItem | undefined {
    const item = this.#items.get(id);
    const latest = item && !item.done && item.claim?.owner === owner;
    const live = latest && item && this.#heldBy(item) === owner;
    if (live) expect(ok, `${owner} holds ${id}`).toBe(true);
    if (!latest) expect(ok, `${owner} does not hold ${id}`).toBe(false);
    return item;
  }

  pending(): number {
    return [...this.#items.values()].filter((i) => !i.done).length;
  }
}
