import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  alertCycle,
  DATADOG_TRANSITIONS,
  DatadogWebhookSender,
  datadogWebhookBody,
} from '../../../src/sandbox/datadog-webhook-sender.js';

const TEMPLATE_KEYS = [
  'id',
  'monitorId',
  'cycleKey',
  'transition',
  'title',
  'message',
  'priority',
  'scope',
  'tags',
  'snapshot',
  'link',
  'date',
  'orgId',
  'hostname',
].sort();

describe('datadogWebhookBody (what Datadog substitutes into the contract template)', () => {
  it('has every template key, every value a string, with realistic values', () => {
    const body = datadogWebhookBody();
    expect(Object.keys(body).sort()).toEqual(TEMPLATE_KEYS);
    for (const value of Object.values(body)) expect(typeof value).toBe('string');
    expect(body.id).toMatch(/^\d{1,24}$/);
    expect(body.monitorId).toMatch(/^\d+$/);
    expect(body.cycleKey).toMatch(/^\d+$/);
    expect(body.transition).toBe('Triggered');
    expect(body.priority).toBe('');
    expect(body.scope).toBe('host:web-1');
    expect(body.hostname).toBe('web-1');
    expect(body.link).toBe(`https://app.datadoghq.com/event/event?id=${body.id}`);
    expect(body.snapshot).toMatch(
      /^https:\/\/p\.datadoghq\.com\/snapshot\/view\/dd-snapshots-prod\/org_\d+\/.+\.png$/,
    );
    expect(Number(body.date)).toBeGreaterThan(1_600_000_000_000);
    expect(datadogWebhookBody().id).not.toBe(body.id);
  });

  it('uses what it is given', () => {
    const body = datadogWebhookBody({
      monitorId: 42,
      cycleKey: '777',
      transition: 'Warn',
      name: 'Disk full',
      priority: 3,
      scope: 'host:db-2,env:prod',
      tags: ['env:prod', 'monitor', 'team:payments'],
      snapshot: false,
      at: 1_800_000_000_000,
      id: '123456789',
      message: 'Disk is 95% full',
      orgId: '99',
    });
    expect(body).toEqual({
      id: '123456789',
      monitorId: '42',
      cycleKey: '777',
      transition: 'Warn',
      title: '[P3] [Warn on {host:db-2,env:prod}] Disk full',
      message: 'Disk is 95% full',
      priority: 'P3',
      scope: 'host:db-2,env:prod',
      tags: 'env:prod,monitor,team:payments',
      snapshot: '',
      link: 'https://app.datadoghq.com/event/event?id=123456789',
      date: '1800000000000',
      orgId: '99',
      hostname: 'db-2',
    });
  });

  it('builds the title per transition as Datadog does', () => {
    for (const transition of DATADOG_TRANSITIONS) {
      const title = datadogWebhookBody({ transition, scope: 'host:web-1', name: 'High CPU on web' }).title;
      expect(title).toBe(`[${transition} on {host:web-1}] High CPU on web`);
    }
    expect(datadogWebhookBody({ transition: 'Recovered', priority: 1, scope: 'host:web-1' }).title).toMatch(
      /^\[P1\] \[Recovered on \{host:web-1\}\] /,
    );
    expect(datadogWebhookBody({ transition: 'No Data', scope: 'host:web-1' }).title).toMatch(
      /^\[No Data on \{host:web-1\}\] /,
    );
    // A simple alert has no scope, so no "on {...}".
    const simple = datadogWebhookBody({ scope: '', name: 'Queue depth', priority: 2 });
    expect(simple.title).toBe('[P2] [Triggered] Queue depth');
    expect(simple.hostname).toBe('');
  });

  it('refuses what Datadog never sends', () => {
    expect(() => datadogWebhookBody({ transition: 'Exploded' as never })).toThrow(RangeError);
    expect(() => datadogWebhookBody({ priority: 6 as never })).toThrow(RangeError);
    expect(() => datadogWebhookBody({ monitorId: -1 })).toThrow(RangeError);
  });
});

describe('alertCycle', () => {
  it('keeps monitorId, scope and cycleKey; changes the event id; time moves forward', () => {
    const cycle = alertCycle({ scope: 'host:web-1', priority: 1, after: ['Re-Triggered', 'Recovered'] });
    expect(cycle.map((b) => b.transition)).toEqual(['Triggered', 'Re-Triggered', 'Recovered']);
    const [first] = cycle;
    if (!first) throw new Error('empty cycle');
    for (const body of cycle) {
      expect(body.monitorId).toBe(first.monitorId);
      expect(body.scope).toBe('host:web-1');
      expect(body.cycleKey).toBe(first.cycleKey);
    }
    expect(new Set(cycle.map((b) => b.id)).size).toBe(3);
    const dates = cycle.map((b) => Number(b.date));
    expect(dates).toEqual([...dates].sort((a, b) => a - b));
    expect(new Set(dates).size).toBe(3);
    expect(cycle[2]?.title).toMatch(/^\[P1\] \[Recovered on \{host:web-1\}\] /);
  });

  it('defaults to Triggered then Recovered', () => {
    expect(alertCycle({ monitorId: 7 }).map((b) => [b.transition, b.monitorId])).toEqual([
      ['Triggered', '7'],
      ['Recovered', '7'],
    ]);
  });
});

interface Recorded {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A tiny webhook receiver: records every request and answers a programmable status. */
class Receiver {
  readonly requests: Recorded[] = [];
  /** Status (and delay) for the n-th request (0-based). */
  answer: (n: number) => { status: number; delayMs?: number } = () => ({ status: 202 });
  inFlight = 0;
  maxInFlight = 0;
  url = '';
  #server: Server | undefined;

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      let done = false;
      const finish = () => {
        if (!done) {
          done = true;
          this.inFlight--;
        }
      };
      res.on('close', finish);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const n = this.requests.length;
        this.requests.push({
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const { status, delayMs = 0 } = this.answer(n);
        const respond = () => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: status < 300 ? 'accepted' : 'refused' }));
        };
        if (delayMs > 0) setTimeout(respond, delayMs);
        else respond();
      });
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/webhooks/datadog`;
  }

  reset(): void {
    this.requests.length = 0;
    this.answer = () => ({ status: 202 });
    this.maxInFlight = 0;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

describe('DatadogWebhookSender (against a recording server)', () => {
  const receiver = new Receiver();
  const secret = randomBytes(24).toString('base64url');
  let sender: DatadogWebhookSender;

  beforeAll(async () => {
    await receiver.start();
    sender = new DatadogWebhookSender({ url: receiver.url, secret, timeoutMs: 2_000 });
  });
  afterAll(() => receiver.stop());
  beforeEach(() => receiver.reset());

  it('send() posts the body as JSON with the secret header', async () => {
    const body = datadogWebhookBody({ priority: 2 });
    const result = await sender.send(body);
    expect(result.status).toBe(202);
    expect(JSON.parse(result.body)).toEqual({ status: 'accepted' });
    expect(result.ms).toBeGreaterThan(0);
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/webhooks/datadog');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['x-opsbot-webhook-secret']).toBe(secret);
    expect(JSON.parse(request?.body ?? '')).toEqual(body);
  });

  it('send() leaves the header out when secret is null, and uses another secret or raw body when asked', async () => {
    await sender.send(datadogWebhookBody(), { secret: null });
    await sender.send('{not json', { secret: 'wrong', headers: { 'x-extra': '1' } });
    await sender.send(Buffer.from('{"id":"1"}'));
    const [noSecret, wrong, raw] = receiver.requests;
    expect(noSecret?.headers).not.toHaveProperty('x-opsbot-webhook-secret');
    expect(wrong?.headers['x-opsbot-webhook-secret']).toBe('wrong');
    expect(wrong?.headers['x-extra']).toBe('1');
    expect(wrong?.body).toBe('{not json');
    expect(raw?.body).toBe('{"id":"1"}');
    expect(raw?.headers['x-opsbot-webhook-secret']).toBe(secret);
  });

  it('never shows the secret when the sender is logged or serialized', () => {
    expect(JSON.stringify(sender)).not.toContain(secret);
    expect(String(Object.values(sender))).not.toContain(secret);
  });

  it('deliver() retries a 503 and stops on the 202', async () => {
    receiver.answer = (n) => ({ status: n < 2 ? 503 : 202 });
    const body = datadogWebhookBody();
    const results = await sender.deliver(body, { retries: 3, backoffMs: 5 });
    expect(results.map((r) => r.status)).toEqual([503, 503, 202]);
    expect(receiver.requests).toHaveLength(3);
    // A retry is the same notification: the same body every time.
    expect(new Set(receiver.requests.map((r) => r.body))).toEqual(new Set([JSON.stringify(body)]));
  });

  it('deliver() gives up after `retries` retries of a 5xx', async () => {
    receiver.answer = () => ({ status: 500 });
    const results = await sender.deliver(datadogWebhookBody(), { retries: 2, backoffMs: 1 });
    expect(results.map((r) => r.status)).toEqual([500, 500, 500]);
  });

  it('deliver() does not retry a 400', async () => {
    receiver.answer = () => ({ status: 400 });
    const results = await sender.deliver(datadogWebhookBody(), { retries: 3, backoffMs: 1 });
    expect(results.map((r) => r.status)).toEqual([400]);
    expect(receiver.requests).toHaveLength(1);
  });

  it('deliver() retries a time-out (status 0)', async () => {
    const quick = new DatadogWebhookSender({ url: receiver.url, secret, timeoutMs: 100 });
    receiver.answer = (n) => (n === 0 ? { status: 202, delayMs: 1_000 } : { status: 202 });
    const results = await quick.deliver(datadogWebhookBody(), { retries: 3, backoffMs: 1 });
    expect(results.map((r) => r.status)).toEqual([0, 202]);
    expect(results[0]?.body).toMatch(/^timeout/);
  });

  it('storm() sends `count` distinct alerts with at most `concurrency` in flight', async () => {
    receiver.answer = () => ({ status: 202, delayMs: 15 });
    const { bodies, results } = await sender.storm({
      count: 60,
      concurrency: 4,
      firstMonitorId: 9_000,
      tagsFor: (i) => ['env:prod', 'monitor', `team:t${i % 3}`],
      priorityFor: (i) => (i % 2 === 0 ? 1 : undefined),
    });
    expect(bodies).toHaveLength(60);
    expect(results).toHaveLength(60);
    expect(results.every((r) => r.status === 202)).toBe(true);
    expect(receiver.requests).toHaveLength(60);
    const received = receiver.requests.map((r) => JSON.parse(r.body) as { id: string; monitorId: string });
    expect(new Set(received.map((b) => b.id)).size).toBe(60);
    expect(new Set(received.map((b) => b.monitorId)).size).toBe(60);
    expect(bodies[0]?.monitorId).toBe('9000');
    expect(bodies[59]?.monitorId).toBe('9059');
    expect(bodies.every((b) => b.transition === 'Triggered')).toBe(true);
    expect(bodies[2]?.tags).toBe('env:prod,monitor,team:t2');
    expect(bodies[0]?.priority).toBe('P1');
    expect(bodies[1]?.priority).toBe('');
    expect(receiver.maxInFlight).toBeLessThanOrEqual(4);
    expect(receiver.maxInFlight).toBeGreaterThan(1);
  });

  it('storm() spreads the requests over durationMs', async () => {
    const started = performance.now();
    await sender.storm({ count: 5, durationMs: 200 });
    // The last of 5 starts at 4/5 of the duration.
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(receiver.requests).toHaveLength(5);
  });

  it('bounds count, concurrency and retries', async () => {
    await expect(sender.storm({ count: 100_001 })).rejects.toThrow(RangeError);
    await expect(sender.storm({ count: 1, concurrency: 0 })).rejects.toThrow(RangeError);
    await expect(sender.storm({ count: 1, concurrency: 257 })).rejects.toThrow(RangeError);
    await expect(sender.deliver(datadogWebhookBody(), { retries: -1 })).rejects.toThrow(RangeError);
    expect(receiver.requests).toHaveLength(0);
  });

  it('a refused connection is status 0, not an exception', async () => {
    const closed = new Receiver();
    await closed.start();
    const url = closed.url;
    await closed.stop();
    const result = await new DatadogWebhookSender({ url, secret, timeoutMs: 2_000 }).send(
      datadogWebhookBody(),
    );
    expect(result.status).toBe(0);
    expect(result.body).toMatch(/^network error/);
    expect(result.body).not.toContain(secret);
  });
});
