import { describe, expect, it } from 'vitest';
import type { QueuedAlert } from '../../../src/alerts/deliver.js';
import type { AlertEvent, Transition } from '../../../src/alerts/payload.js';
import {
  alertReport,
  alertSummary,
  monitorHistory,
  REPORT_MAX_PER_TOPIC,
} from '../../../src/alerts/report.js';
import { type AlertRoutes, topicFor, UNROUTED_TOPIC } from '../../../src/alerts/routes.js';
import { TALLY_PAGE } from '../../../src/store/limits.js';
import { SqliteDb } from '../../../src/store/sqlite-db.js';
import { createSqliteOutbox } from '../../../src/store/sqlite-outbox.js';
import type { OutboxStore, OutboxSummary } from '../../../src/store/state.js';
import { alertOf, RECEIVED_AT } from './fixtures.js';

/**
 * The outbox on a real SQLite store (in memory), filled as the webhook fills it: each alert under
 * its channel's topic, or unrouted, with its summary; `createdAt` is the store's clock when it is
 * stored. Items are stored, in order, when the report first reads; every read is recorded.
 */
class StoredOutbox implements Pick<OutboxStore, 'tally' | 'history' | 'recent'> {
  readonly calls: Array<{ topic: string; since: number; limit: number }> = [];
  readonly #waiting: Array<{ item: Parameters<OutboxStore['enqueue']>[0]; createdAt: number }> = [];
  #count = 0;
  #t = RECEIVED_AT;
  readonly #db = new SqliteDb({ path: ':memory:' });
  readonly #store = createSqliteOutbox(this.#db, () => this.#t);

  async tally(topic: string, since: number, limit: number) {
    this.calls.push({ topic, since, limit });
    await this.#flush();
    return this.#store.tally(topic, since, limit);
  }

  async history(topic: string, group: string, since: number, limit: number) {
    this.calls.push({ topic, since, limit });
    await this.#flush();
    return this.#store.history(topic, group, since, limit);
  }

  /** What the report read before summaries existed (for the event-loop test). */
  async recent(topic: string, since: number, limit: number) {
    this.calls.push({ topic, since, limit });
    await this.#flush();
    return this.#store.recent(topic, since, limit);
  }

  /** Stores an alert as the webhook does: in its channel's topic, or unrouted. */
  add(
    alert: AlertEvent,
    channel: string | undefined,
    options: { done?: boolean; createdAt?: number } = {},
  ): void {
    const payload: QueuedAlert = { alert, channel: channel ?? '' };
    this.raw(channel ? topicFor(channel) : UNROUTED_TOPIC, JSON.stringify(payload), {
      ...options,
      summary: alertSummary(alert),
    });
  }

  raw(
    topic: string,
    payload: string,
    options: { done?: boolean; createdAt?: number; summary?: OutboxSummary } = {},
  ): void {
    const n = this.#count++;
    this.#waiting.push({
      item: {
        id: `item-${n}`,
        topic,
        payload,
        done: options.done ?? true,
        ...(options.summary ? { summary: options.summary } : {}),
      },
      createdAt: options.createdAt ?? RECEIVED_AT + n,
    });
  }

  /** Stores what was added (so that a test can watch the report's reads alone). */
  async ready(): Promise<void> {
    await this.#flush();
  }

  async #flush(): Promise<void> {
    for (const { item, createdAt } of this.#waiting.splice(0)) {
      this.#t = createdAt;
      await this.#store.enqueue(item);
    }
    this.#t = RECEIVED_AT;
  }
}

const ROUTES: AlertRoutes = {
  defaultChannel: 'C0DEFAULT',
  routes: [
    { match: { tags: ['team:payments'] }, channel: 'C0PAY' },
    { match: { priority: ['P1'] }, channel: 'C0PAGE' },
    { match: { tags: ['team:search'] }, channel: 'C0PAY' },
  ],
};
const SINCE = RECEIVED_AT - 86_400_000;

let nextId = 1;
/** A notification of `monitorId` with the given transition and time. */
function event(
  monitorId: string,
  transition: Transition,
  at: number,
  title = `monitor ${monitorId}`,
): AlertEvent {
  return alertOf({ id: String(nextId++), monitorId, transition, title, date: String(at) });
}

describe('alertReport', () => {
  it('reports nothing for an empty outbox', async () => {
    const report = await alertReport(new StoredOutbox(), ROUTES, SINCE);
    expect(report).toEqual({
      total: 0,
      waiting: 0,
      unrouted: 0,
      truncated: false,
      byTransition: new Map(),
      byMonitor: [],
    });
  });

  it('reads each configured channel once, the unrouted topic, since the time asked, at most perTopic each', async () => {
    const outbox = new StoredOutbox();
    await alertReport(outbox, ROUTES, SINCE, 123);
    expect(outbox.calls.map((c) => c.topic).sort()).toEqual(
      ['alerts:C0DEFAULT', 'alerts:C0PAGE', 'alerts:C0PAY', 'alerts:unrouted'].sort(),
    );
    expect(outbox.calls.every((c) => c.since === SINCE && c.limit === 123)).toBe(true);
    const byDefault = new StoredOutbox();
    await alertReport(byDefault, { routes: [] }, SINCE);
    expect(byDefault.calls).toEqual([{ topic: UNROUTED_TOPIC, since: SINCE, limit: REPORT_MAX_PER_TOPIC }]);
  });

  it('counts the total, what is waiting (routed, not done) and what is unrouted', async () => {
    const outbox = new StoredOutbox();
    outbox.add(event('1', 'Triggered', RECEIVED_AT), 'C0PAY', { done: true });
    outbox.add(event('1', 'Recovered', RECEIVED_AT + 1), 'C0PAY', { done: false });
    outbox.add(event('2', 'Triggered', RECEIVED_AT + 2), 'C0PAGE', { done: false });
    outbox.add(event('3', 'Warn', RECEIVED_AT + 3), 'C0DEFAULT', { done: true });
    outbox.add(event('4', 'No Data', RECEIVED_AT + 4), undefined, { done: false });
    outbox.add(event('4', 'No Data', RECEIVED_AT + 5), undefined, { done: true });
    const report = await alertReport(outbox, ROUTES, SINCE);
    expect(report.total).toBe(6);
    expect(report.waiting).toBe(2);
    expect(report.unrouted).toBe(2);
    expect(report.truncated).toBe(false);
  });

  it('counts only what was enqueued since the time asked', async () => {
    const outbox = new StoredOutbox();
    outbox.add(event('1', 'Triggered', RECEIVED_AT), 'C0PAY', { createdAt: SINCE - 1 });
    outbox.add(event('1', 'Recovered', RECEIVED_AT), 'C0PAY', { createdAt: SINCE });
    const report = await alertReport(outbox, ROUTES, SINCE);
    expect(report.total).toBe(1);
    expect(report.byTransition).toEqual(new Map([['Recovered', 1]]));
  });

  it('counts by transition and by monitor, the busiest monitor first, ties by id', async () => {
    const outbox = new StoredOutbox();
    let n = 0;
    const add = (monitor: string, transition: Transition, channel?: string) =>
      outbox.add(event(monitor, transition, RECEIVED_AT + n++), channel);
    add('200', 'Triggered', 'C0PAY');
    add('200', 'Recovered', 'C0PAY');
    add('200', 'Triggered', 'C0PAY');
    add('300', 'Warn', 'C0PAGE');
    add('100', 'Warn', 'C0DEFAULT');
    add('100', 'Recovered');
    add('400', 'Renotify');
    add('400', 'Renotify', 'C0PAGE');
    add('400', 'Renotify', 'C0DEFAULT');
    add('400', 'Triggered', 'C0DEFAULT');
    const report = await alertReport(outbox, ROUTES, SINCE);
    expect(report.total).toBe(10);
    expect(report.byTransition).toEqual(
      new Map<Transition, number>([
        ['Triggered', 3],
        ['Recovered', 2],
        ['Warn', 2],
        ['Renotify', 3],
      ]),
    );
    expect(report.byMonitor.map((m) => [m.monitorId, m.count])).toEqual([
      ['400', 4],
      ['200', 3],
      ['100', 2],
      ['300', 1],
    ]);
    expect(report.byMonitor[0]?.transitions).toEqual(
      new Map<Transition, number>([
        ['Renotify', 3],
        ['Triggered', 1],
      ]),
    );
    expect(report.byMonitor[1]?.transitions).toEqual(
      new Map<Transition, number>([
        ['Triggered', 2],
        ['Recovered', 1],
      ]),
    );
    const counted = report.byMonitor.reduce((n, m) => n + m.count, 0);
    expect(counted).toBe(report.total);
    expect([...report.byTransition.values()].reduce((n, c) => n + c, 0)).toBe(report.total);
  });

  it('shows the latest title of each monitor', async () => {
    const outbox = new StoredOutbox();
    outbox.add(event('7', 'Triggered', RECEIVED_AT, '[Triggered] old name'), 'C0PAY', {
      createdAt: RECEIVED_AT,
    });
    outbox.add(event('7', 'Recovered', RECEIVED_AT + 60_000, '[Recovered] new name'), 'C0PAY', {
      createdAt: RECEIVED_AT + 60_000,
    });
    outbox.add(event('7', 'Re-Triggered', RECEIVED_AT + 30_000, '[Re-Triggered] middle'), 'C0PAY', {
      createdAt: RECEIVED_AT + 30_000,
    });
    const report = await alertReport(outbox, ROUTES, SINCE);
    expect(report.byMonitor).toEqual([
      expect.objectContaining({ monitorId: '7', title: '[Recovered] new name', count: 3 }),
    ]);
  });

  it('shows the latest title of a monitor whose alerts went to several channels', async () => {
    const outbox = new StoredOutbox();
    outbox.add(event('8', 'Triggered', RECEIVED_AT, 'old name'), 'C0PAY', { createdAt: RECEIVED_AT });
    outbox.add(event('8', 'Triggered', RECEIVED_AT + 1_000, 'new name'), 'C0DEFAULT', {
      createdAt: RECEIVED_AT + 1_000,
    });
    const newestFirst = await alertReport(outbox, ROUTES, SINCE);
    expect(newestFirst.byMonitor[0]?.title).toBe('new name');
  });

  it('is truncated when a topic returns exactly perTopic items, and not when fewer', async () => {
    const outbox = new StoredOutbox();
    for (let i = 0; i < 3; i++) outbox.add(event('1', 'Triggered', RECEIVED_AT + i), 'C0PAY');
    outbox.add(event('2', 'Triggered', RECEIVED_AT), undefined);
    expect((await alertReport(outbox, ROUTES, SINCE, 4)).truncated).toBe(false);
    const atLimit = await alertReport(outbox, ROUTES, SINCE, 3);
    expect(atLimit.truncated).toBe(true);
    expect(atLimit.total).toBe(4);
    const overLimit = await alertReport(outbox, ROUTES, SINCE, 2);
    expect(overLimit).toMatchObject({ truncated: true, total: 3 });
    // A full unrouted topic counts too.
    const unrouted = new StoredOutbox();
    unrouted.add(event('2', 'Triggered', RECEIVED_AT), undefined);
    expect((await alertReport(unrouted, ROUTES, SINCE, 1)).truncated).toBe(true);
  });

  it('counts a channel that is both a route’s and the default once', async () => {
    const outbox = new StoredOutbox();
    outbox.add(event('1', 'Triggered', RECEIVED_AT), 'C0PAY', { done: false });
    const routes: AlertRoutes = { defaultChannel: 'C0PAY', routes: [{ match: {}, channel: 'C0PAY' }] };
    const report = await alertReport(outbox, routes, SINCE);
    expect(report).toMatchObject({ total: 1, waiting: 1, unrouted: 0 });
  });

  it('skips items that are not alerts', async () => {
    const outbox = new StoredOutbox();
    for (const payload of ['not json', 'null', '{}', '[]', '"x"', '{"channel":"C0PAY"}'])
      outbox.raw(topicFor('C0PAY'), payload, { done: false });
    outbox.add(event('1', 'Triggered', RECEIVED_AT), 'C0PAY', { done: false });
    const report = await alertReport(outbox, ROUTES, SINCE);
    expect(report).toMatchObject({ total: 1, waiting: 1, unrouted: 0 });
    expect(report.byMonitor).toHaveLength(1);
  });
});

describe('alertReport on a large outbox', () => {
  /** Runs `work`, counting the turns of the event loop (setImmediate callbacks) meanwhile. */
  async function turnsDuring<T>(work: () => Promise<T>): Promise<{ turns: number; value: T }> {
    let turns = 0;
    let counting = true;
    const tick = () => {
      if (!counting) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    try {
      return { value: await work(), turns };
    } finally {
      counting = false;
    }
  }

  it('lets the event loop turn between pages of counting: it never holds it for a whole channel', async () => {
    const outbox = new StoredOutbox();
    const alerts = 3 * TALLY_PAGE + 10;
    for (let i = 0; i < alerts; i++)
      outbox.add(event(String(i % 7), i % 3 ? 'Triggered' : 'Recovered', RECEIVED_AT + i), 'C0PAY', {
        done: i % 2 === 0,
      });
    await outbox.ready();
    const { turns, value: report } = await turnsDuring(() => alertReport(outbox, ROUTES, SINCE));
    expect(report).toMatchObject({ total: alerts, waiting: alerts / 2, truncated: false });
    expect(report.byMonitor).toHaveLength(7);
    // One turn at least after each full page (reading and parsing every payload at once: none).
    expect(turns).toBeGreaterThanOrEqual(3);
  });
});

describe('monitorHistory', () => {
  it('lists the newest notifications of one monitor from every topic, newest first, at most max', async () => {
    const outbox = new StoredOutbox();
    const times = [5, 1, 4, 2, 3, 6].map((m) => RECEIVED_AT + m * 60_000);
    const channels = ['C0PAY', 'C0PAGE', 'C0DEFAULT', undefined, 'C0PAY', undefined];
    times.forEach((at, i) => {
      outbox.add(event('42', i % 2 ? 'Recovered' : 'Triggered', at), channels[i]);
    });
    outbox.add(event('43', 'Triggered', RECEIVED_AT + 10 * 60_000), 'C0PAY');
    const history = await monitorHistory(outbox, ROUTES, '42', SINCE);
    expect(history.map((a) => a.at)).toEqual([6, 5, 4, 3, 2].map((m) => RECEIVED_AT + m * 60_000));
    expect(history.every((a) => a.monitorId === '42')).toBe(true);
    expect(await monitorHistory(outbox, ROUTES, '42', SINCE, 2)).toHaveLength(2);
    expect(await monitorHistory(outbox, ROUTES, '42', SINCE, 10)).toHaveLength(6);
    expect(await monitorHistory(outbox, ROUTES, '999', SINCE)).toEqual([]);
  });

  it('reads only since the time asked, and skips items that are not alerts', async () => {
    const outbox = new StoredOutbox();
    outbox.add(event('42', 'Triggered', RECEIVED_AT), 'C0PAY', { createdAt: SINCE - 1 });
    outbox.raw(topicFor('C0PAY'), 'not json');
    const kept = event('42', 'Recovered', RECEIVED_AT);
    outbox.add(kept, 'C0PAY', { createdAt: SINCE + 1 });
    expect(await monitorHistory(outbox, ROUTES, '42', SINCE)).toEqual([kept]);
    expect(outbox.calls.every((c) => c.since === SINCE)).toBe(true);
  });
});
