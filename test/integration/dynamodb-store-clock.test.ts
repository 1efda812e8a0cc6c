import { randomUUID } from 'node:crypto';
import http, { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { AuditEvent } from '../../src/audit/records.js';
import { createStateTable, type DynamoState, openDynamoState } from '../../src/store/dynamodb.js';
import { eventually } from '../helpers/eventually.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startMoto, warnMotoMissing } from '../helpers/moto.js';
import { cleanEnv, exitOf, startMain } from '../helpers/process.js';

/**
 * The DynamoDB stores wait on the clock they are given (as the app's stores run on its clock): the
 * readiness probe's deadline, the backoff after a throttled audit write, and the wait before
 * a transaction cancelled by a conflicting one is tried again. Each is seen scheduled on a fake
 * clock, and only the clock moving past it ends it: a wait on a real timer is never scheduled
 * there, and the test fails waiting for it.
 */
vi.setConfig({ testTimeout: 60_000 });

const moto = await startMoto();
if (!moto) warnMotoMissing('the DynamoDB stores on a clock (test/integration/dynamodb-store-clock.test.ts)');

// moto serves each connection on a thread and is not atomic across them: one call at a time.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const proxies: FaultProxy[] = [];
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  agent.destroy();
  await moto?.stop();
});

const client = (endpoint = moto?.url ?? 'http://127.0.0.1:9') =>
  new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: { httpAgent: agent },
    maxAttempts: 1,
  });

async function freshTable(): Promise<string> {
  const name = `opsbot-clock-${randomUUID()}`;
  await createStateTable(client(), name);
  return name;
}

const event = (actor: string, n: number): AuditEvent => ({
  action: 'gh:pr list',
  outcome: 'success',
  actor,
  details: { n },
});

/** DynamoDB's answer when a table's throughput is exceeded (not retried by a client with maxAttempts 1). */
const THROTTLED = {
  status: 400,
  type: 'ProvisionedThroughputExceededException',
  body: { message: 'The level of configured provisioned throughput for the table was exceeded' },
} as const;

/** What the proxy does with a call: forward it, leave it unanswered, or answer with an error. */
type Fault = 'hang' | { status: number; type: string; body: Record<string, unknown> } | undefined;

interface FaultProxy {
  url: string;
  /** Calls left unanswered whose connection was closed by the client since. */
  abandoned(): number;
  stop(): Promise<void>;
}

/** A proxy in front of moto that applies `fault` to each call (by operation, e.g. `PutItem`). */
async function startFaultProxy(fault: (operation: string) => Fault): Promise<FaultProxy> {
  const upstream = new URL(moto?.url ?? 'http://127.0.0.1:9');
  let abandoned = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const what = fault(operation);
      if (what === 'hang') {
        res.on('close', () => abandoned++);
        return;
      }
      if (what) {
        res.writeHead(what.status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${what.type}`, ...what.body }));
        return;
      }
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    abandoned: () => abandoned,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  proxies.push(proxy);
  return proxy;
}

describe.skipIf(!moto)('the DynamoDB stores wait on the clock they are given (moto)', () => {
  it("gives up the audit's readiness probe after 500 ms on the store's clock, and cancels its PutItem", async () => {
    const proxy = await startFaultProxy((operation) => (operation === 'PutItem' ? 'hang' : undefined));
    const clock = new FakeClock();
    const state: DynamoState = openDynamoState({
      table: await freshTable(),
      client: client(proxy.url),
      clock,
    });
    await state.ready();
    const writable = state.audit.writable();
    await eventually(() => clock.delays().includes(500), "the probe's deadline on the fake clock");
    clock.advance(500);
    expect(await writable).toBe(false);
    await eventually(() => proxy.abandoned() === 1, 'the PutItem cancelled');
    expect(clock.delays()).toEqual([]);
    state.close();
  });

  it('backs off on its clock after a throttled audit write: up to 10 ms, then 20 (full jitter), with the numbers it reserved', async () => {
    let throttled = 0;
    let reserved = 0;
    const proxy = await startFaultProxy((operation) => {
      if (operation === 'UpdateItem') reserved++;
      if (operation !== 'TransactWriteItems' || throttled >= 2) return undefined;
      throttled++;
      return THROTTLED;
    });
    const clock = new FakeClock();
    const state = openDynamoState({
      table: await freshTable(),
      client: client(proxy.url),
      clock,
      random: () => 0.5,
    });
    await state.ready();
    const appended = state.audit.append(event('U0A', 1));
    await eventually(() => clock.delays().includes(5), 'the first backoff on the fake clock'); // half of 10 ms
    clock.advance(5);
    await eventually(() => clock.delays().includes(10), 'the second backoff'); // half of 20 ms
    clock.advance(10);
    expect(await appended).toMatchObject({ seq: 1, actor: 'U0A' });
    expect(reserved).toBe(1);
    expect(await state.audit.verify()).toMatchObject({ ok: true, checked: 1 });
    state.close();
  });

  it('waits on its clock before trying a transaction cancelled by a conflicting one again', async () => {
    let transactions = 0;
    const proxy = await startFaultProxy((operation) => {
      if (operation !== 'TransactWriteItems' || transactions++ > 0) return undefined;
      return {
        status: 400,
        type: 'TransactionCanceledException',
        body: {
          Message:
            'Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]',
          CancellationReasons: [
            { Code: 'None' },
            { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' },
          ],
        },
      };
    });
    const clock = new FakeClock();
    const state = openDynamoState({
      table: await freshTable(),
      client: client(proxy.url),
      clock,
      random: () => 0.5,
    });
    await state.ready();
    const enqueued = state.outbox.enqueue({ id: 'a1', topic: 'alerts:C0', payload: '{}' });
    await eventually(() => clock.delays().length > 0, 'the retry wait on the fake clock');
    expect(clock.delays()).toEqual([25]); // half of the first 50 ms
    clock.advance(25);
    expect(await enqueued).toBe(true);
    expect(transactions).toBe(2);
    expect(await state.outbox.pending('alerts:C0')).toBe(1);
    state.close();
  });

  it('keeps the process alive while it waits out a backoff on a clock whose timers do not', async () => {
    let throttled = 0;
    const proxy = await startFaultProxy((operation) =>
      operation === 'TransactWriteItems' && throttled++ === 0 ? THROTTLED : undefined,
    );
    const child = startMain(cleanEnv({}), {
      entry: 'test/helpers/dynamodb-backoff-child.ts',
      args: [proxy.url, await freshTable()],
    });
    expect(await exitOf(child.child)).toBe(0);
    expect(child.output().stdout).toBe('appended 1 after a throttled write\n');
    expect(throttled).toBe(2);
  });
});
