import { randomUUID } from 'node:crypto';
import http from 'node:http';
import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { EMPTY_TAIL, linkEvents } from '../../src/audit/chain.js';
import type { AuditEvent, AuditRecord } from '../../src/audit/records.js';
import { CHAINS_ANCHORED } from '../../src/audit/writer-chains.js';
import {
  createStateTable,
  type DynamoState,
  openDynamoState,
  StateTableMissingError,
} from '../../src/store/dynamodb.js';
import { HEAD_KEY, recordItem } from '../../src/store/dynamodb-audit-items.js';
import { reserveSeqs, SHARED_CHAIN_ROOM } from '../../src/store/dynamodb-audit-sequence.js';
import { StateTable } from '../../src/store/dynamodb-table.js';
import { StateClosedError } from '../../src/store/errors.js';
import { DONE_RETENTION_MS } from '../../src/store/limits.js';
import { openState } from '../../src/store/open.js';
import { startMoto, warnMotoMissing } from '../helpers/moto.js';
import { describeStateContract } from './state-contract.js';

const MINUTE = 60_000;

// Every call to moto costs ~5 ms (it closes the connection after each), and the contract's
// property cases make thousands: more than the default 20 s per case.
vi.setConfig({ testTimeout: 120_000 });

const moto = await startMoto();
if (!moto) warnMotoMissing('the DynamoDB State contract (test/contract/dynamodb-state.test.ts)');

/**
 * moto_server serves each request on a thread of its own, and neither its conditional writes nor
 * its transactions are atomic across threads (a cancelled TransactWriteItems puts back a copy of
 * the whole table taken when it began, undoing writes that landed meanwhile; with parallel
 * connections the race below once saw an outbox item claimed twice). DynamoDB guarantees both. So
 * every client here sends through one connection at a time: replicas still interleave their calls
 * (which is what the races below exercise), but moto handles one call at a time.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
afterAll(async () => {
  agent.destroy();
  await moto?.stop();
});

/** A client of moto with test credentials (never real ones), as each replica would have its own. */
function motoClient(): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: moto?.url ?? 'http://127.0.0.1:9',
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: { httpAgent: agent },
  });
}
const client = motoClient();

async function freshTable(): Promise<string> {
  const name = `opsbot-state-${randomUUID()}`;
  await createStateTable(client, name);
  return name;
}

async function rawItem(table: string, pk: string, sk = '-') {
  return (await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk }, sk: { S: sk } } })))
    .Item;
}

const event = (actor: string, n: number): AuditEvent => ({
  action: 'gh:pr list',
  outcome: 'success',
  actor,
  details: { n },
});

describe.skipIf(!moto)('DynamoDB state (moto)', () => {
  describeStateContract(
    'DynamoDB (moto)',
    async (now) => {
      const state = openDynamoState({ table: await freshTable(), client, now });
      await state.ready();
      return { state, close: () => state.close() };
    },
    // Every step is an HTTP call to moto (a Python process): 40 runs keep each property well inside
    // its time limit on a busy 2-core CI machine; SQLite runs the full 100.
    { propertyRuns: 40 },
  );

  describe('two replicas on one table', () => {
    async function twoReplicas(table?: string): Promise<[DynamoState, DynamoState]> {
      table ??= await freshTable();
      const replicas = [0, 1].map(() => openDynamoState({ table, client: motoClient() })) as [
        DynamoState,
        DynamoState,
      ];
      await Promise.all(replicas.map((r) => r.ready()));
      return replicas;
    }

    it('two replicas appending 2×50 at once: each in its own chain, no number twice, no conflict, one trail that verifies', async () => {
      const [a, b] = await twoReplicas();
      // b's first batch comes after a's: it starts with a cross-anchor naming a's chain.
      await a.audit.append(event('U0A', -1));
      await b.audit.append(event('U0B', -1));
      // Waves every few ms on both sides, so that batches of the two replicas interleave.
      const appends = (replica: DynamoState, who: string) =>
        Array.from({ length: 50 }, async (_, i) => {
          await new Promise((resolve) => setTimeout(resolve, (i % 10) * 3));
          return replica.audit.append(event(who, i));
        });
      const records: AuditRecord[] = await Promise.all([...appends(a, 'U0A'), ...appends(b, 'U0B')]);
      const seqs = records.map((r) => r.seq);
      expect(new Set(seqs).size).toBe(100);
      // Each replica's records are in a chain of their own, linked in the order they were numbered.
      const chains = new Set(records.map((r) => r.chain));
      expect(chains.size).toBe(2);
      expect(a.audit.conflicts() + b.audit.conflicts()).toBe(0);
      const stored = await a.audit.readAfter(0, 1_000);
      const anchors = stored.filter((r) => r.action === CHAINS_ANCHORED);
      expect(anchors[0]).toMatchObject({
        chain: records.find((r) => r.actor === 'U0B')?.chain,
        details: { chains: 1 },
      });
      expect(String(anchors[0]?.details.heads)).toMatch(
        new RegExp(`^${records.find((r) => r.actor === 'U0A')?.chain}@1#`),
      );
      for (const replica of [a, b])
        expect(await replica.audit.verify()).toMatchObject({
          ok: true,
          checked: stored.length,
          chains: { count: 2, anchorsChecked: anchors.length },
        });
      // Every record an append resolved with is the one stored under its number.
      const byNumber = new Map(stored.map((r) => [r.seq, r.hash]));
      for (const r of records) expect(byNumber.get(r.seq)).toBe(r.hash);
      a.close();
      b.close();
    });

    it('a batch whose answer was lost is stored once; numbers a writer reserved and never used are a gap the trail verifies across', async () => {
      const table = await freshTable();
      const lossy = motoClient();
      let loseNext = false;
      // The transaction reaches the table, but its answer does not reach opsbot (outside the SDK's retries).
      lossy.middlewareStack.add(
        (next, context) => async (args) => {
          const out = await next(args);
          if (context.commandName === 'TransactWriteItemsCommand' && loseNext) {
            loseNext = false;
            throw Object.assign(new Error('the connection dropped'), { name: 'ThrottlingException' });
          }
          return out;
        },
        { step: 'initialize' },
      );
      const state = openDynamoState({ table, client: lossy, sleep: async () => {} });
      await state.ready();
      await state.audit.append(event('U0A', 1));
      loseNext = true;
      const second = await state.audit.append(event('U0A', 2));
      expect(second.seq).toBe(2);
      // A writer that died between reserving numbers and writing them.
      await reserveSeqs(new StateTable(client, table), 5, 0);
      expect(await state.audit.append(event('U0A', 3))).toMatchObject({ seq: 8 });
      const stored = await state.audit.readAfter(0, 100);
      expect(stored.map((r) => [r.seq, r.details.n])).toEqual([
        [1, 1],
        [2, 2],
        [8, 3],
      ]);
      expect(await state.audit.verify()).toMatchObject({ ok: true, checked: 3, head: { seq: 8 } });
      state.close();
    });

    it('tampering with writer chains is caught: a record removed from a chain, a chain cut after another vouched for it, a whole chain removed', async () => {
      const tamper = async (what: (records: AuditRecord[]) => number[]) => {
        const table = await freshTable();
        const [a, b] = await twoReplicas(table);
        for (let i = 0; i < 3; i++) await a.audit.append(event('U0A', i));
        for (let i = 0; i < 3; i++) await b.audit.append(event('U0B', i)); // anchors a's chain at #3
        await a.audit.append(event('U0A', 9));
        const records = await a.audit.readAfter(0, 100);
        for (const seq of what(records))
          await client.send(
            new DeleteItemCommand({
              TableName: table,
              Key: { pk: { S: 'audit' }, sk: { S: `rec#${String(seq).padStart(16, '0')}` } },
            }),
          );
        // A fresh process verifies (it knows nothing of what the others wrote).
        const fresh = openDynamoState({ table, client });
        const check = await fresh.audit.verify();
        for (const s of [a, b, fresh]) s.close();
        return { check, records };
      };
      const chainOf = (records: AuditRecord[], actor: string) => records.filter((r) => r.actor === actor);

      const middle = await tamper((r) => [(chainOf(r, 'U0A')[1] as AuditRecord).seq]);
      expect(middle.check).toMatchObject({ ok: false });
      expect(middle.check.ok ? '' : middle.check.why).toContain('does not link to #1');

      // a's records after #3 are left: cut #2 and #3 and the later one, so a's chain ends at #1.
      const cut = await tamper((r) =>
        chainOf(r, 'U0A')
          .slice(1)
          .map((x) => x.seq),
      );
      expect(cut.check.ok ? '' : cut.check.why).toMatch(/had reached #3, but that chain ends at #1/);

      const gone = await tamper((r) => chainOf(r, 'U0A').map((x) => x.seq));
      expect(gone.check.ok ? '' : gone.check.why).toMatch(
        /no record of that chain is in the trail before it/,
      );
    });

    it('a trail written as one shared chain goes on: writer chains are numbered after it and anchor its end, and it still verifies', async () => {
      const table = await freshTable();
      const raw = new StateTable(client, table);
      const shared = linkEvents(
        EMPTY_TAIL,
        Array.from({ length: 3 }, (_, i) => ({ ...event('U0OLD', i), at: new Date().toISOString() })),
        undefined,
      );
      for (const r of shared) await raw.put({ Item: recordItem(r) }); // as the version before wrote them
      const end = shared.at(-1) as AuditRecord;
      await raw.put({ Item: { ...HEAD_KEY, seq: end.seq, hash: end.hash } });

      const state = openDynamoState({ table, client });
      await state.ready();
      expect(state.audit.head()).toMatchObject({ seq: 3, hash: end.hash });
      const next = await state.audit.append(event('U0NEW', 1));
      // After the room left for a replica of the version before, behind an anchor naming the shared chain's end.
      expect(next.seq).toBe(3 + SHARED_CHAIN_ROOM + 2);
      const [anchor] = await state.audit.readAfter(3, 1);
      expect(anchor).toMatchObject({ action: CHAINS_ANCHORED, details: { heads: `shared@3#${end.hash}` } });
      expect(await state.audit.verify()).toMatchObject({
        ok: true,
        checked: 5,
        chains: { count: 1, anchorsChecked: 1 },
      });
      // The first record at or after a time, found across the numbers left unused.
      expect(await state.audit.firstSeqSince(next.at)).toBe(anchor?.seq);
      // The shared part is held as before: a record removed from it is a break.
      await client.send(
        new DeleteItemCommand({
          TableName: table,
          Key: { pk: { S: 'audit' }, sk: { S: `rec#${'2'.padStart(16, '0')}` } },
        }),
      );
      expect(await state.audit.verify()).toMatchObject({ ok: false, brokenAt: 2 });
      state.close();
    });

    it('racing for one lease, dedupe key, message ref and outbox items: exactly one wins each', async () => {
      const [a, b] = await twoReplicas();
      const both = <T>(fn: (s: DynamoState, i: number) => Promise<T>) =>
        Promise.all([a, b].flatMap((s, r) => Array.from({ length: 10 }, (_, i) => fn(s, r * 10 + i))));

      const leases = await both((s, i) => s.leases.acquire('poller', `r${i}`, MINUTE));
      expect(leases.filter(Boolean)).toHaveLength(1);
      expect(await both((s) => s.dedupe.putIfAbsent('webhook:1', MINUTE))).toSatisfy(
        (won: boolean[]) => won.filter(Boolean).length === 1,
      );
      const refs = await both((s, i) =>
        s.messages.putIfAbsent('cycle:1', { channel: 'C0', ts: `${i}.0` }, MINUTE),
      );
      expect(refs.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(refs.map((r) => r.ref.ts)).size).toBe(1);

      const enqueued = await both((s, i) =>
        s.outbox.enqueue({ id: `i${i % 10}`, topic: 'alerts', payload: '{}' }),
      );
      expect(enqueued.filter(Boolean)).toHaveLength(10);
      const claims = await both((s, i) => s.outbox.claim('alerts', `w${i}`, 2, MINUTE));
      const ids = claims.flat().map((item) => item.id);
      expect(ids.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `i${i}`).sort());
      // Only the claimant completes an item, and only once.
      const owners = claims.flatMap((items, w) => items.map((item) => ({ id: item.id, owner: `w${w}` })));
      const done = await Promise.all(
        owners.flatMap(({ id, owner }) => [a.outbox.complete(id, owner), b.outbox.complete(id, 'w-other')]),
      );
      expect(done.filter(Boolean)).toHaveLength(10);
      expect(await b.outbox.pending('alerts')).toBe(0);
      a.close();
      b.close();
    });
  });

  describe('expiry', () => {
    it('treats an item whose expiry passed (per now) as absent while it is still in the table', async () => {
      let t = Date.UTC(2026, 0, 1);
      const table = await freshTable();
      const state = openDynamoState({ table, client, now: () => t });
      await state.dedupe.putIfAbsent('webhook:1', MINUTE);
      await state.messages.putIfAbsent('cycle:1', { channel: 'C0', ts: '1.0' }, MINUTE);
      await state.leases.acquire('poller', 'r1', MINUTE);
      await state.outbox.enqueue({ id: 'a', topic: 'alerts', payload: '{}' });
      await state.outbox.claim('alerts', 'w1', 1, MINUTE);
      expect(await state.outbox.complete('a', 'w1')).toBe(true);

      t += MINUTE;
      const dedupeItem = await rawItem(table, 'dedupe#webhook:1');
      expect(dedupeItem?.expiresAt?.N).toBe(String(Math.ceil(t / 1000))); // TTL: epoch seconds
      expect(await rawItem(table, 'msg#cycle:1')).toBeDefined();
      expect(await rawItem(table, 'lease#poller')).toBeDefined();
      expect(await state.messages.get('cycle:1')).toBeUndefined();
      expect(await state.messages.compareAndSet('cycle:1', 1, { channel: 'C0', ts: '2.0' })).toBeUndefined();
      expect(await state.dedupe.putIfAbsent('webhook:1', MINUTE)).toBe(true);
      expect(await state.leases.release('poller', 'r1')).toBe(false);
      expect(await state.leases.acquire('poller', 'r2', MINUTE)).toMatchObject({ owner: 'r2' });

      // A done outbox item is kept 30 days (its id refused), then counts as gone.
      expect(await state.outbox.enqueue({ id: 'a', topic: 'alerts', payload: '{}' })).toBe(false);
      t += DONE_RETENTION_MS;
      expect((await rawItem(table, 'outbox-id#a'))?.done?.BOOL).toBe(true);
      expect(await state.outbox.recent('alerts', 0, 10)).toEqual([]);
      expect(await state.outbox.enqueue({ id: 'a', topic: 'alerts', payload: '{"again":1}' })).toBe(true);
      expect((await state.outbox.recent('alerts', 0, 10)).map((i) => [i.id, i.payload, i.done])).toEqual([
        ['a', '{"again":1}', false],
      ]);
      state.close();
    });
  });

  describe('unrouted alerts and summaries', () => {
    it('keeps an item enqueued done (an unrouted alert) 30 days, under DynamoDB TTL, then treats it as gone', async () => {
      let t = Date.UTC(2026, 0, 1);
      const table = await freshTable();
      const state = openDynamoState({ table, client, now: () => t });
      const unrouted = {
        id: 'u1',
        topic: 'alerts:unrouted',
        payload: '{}',
        summary: { group: '7', kind: 'Triggered', title: 'monitor 7', at: t },
        done: true,
      };
      expect(await state.outbox.enqueue(unrouted)).toBe(true);
      const ttl = String(Math.ceil((t + DONE_RETENTION_MS) / 1000));
      expect((await rawItem(table, 'outbox-id#u1'))?.expiresAt?.N).toBe(ttl);
      const stored = await client.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: 'outbox-done#alerts:unrouted' } },
        }),
      );
      expect(stored.Items?.map((i) => i.expiresAt?.N)).toEqual([ttl]);
      expect(await state.outbox.tally('alerts:unrouted', 0, 10)).toMatchObject({ read: 1, open: 0 });
      t += DONE_RETENTION_MS;
      expect(await state.outbox.tally('alerts:unrouted', 0, 10)).toEqual({ read: 0, open: 0, groups: [] });
      expect(await state.outbox.recent('alerts:unrouted', 0, 10)).toEqual([]);
      expect(await state.outbox.enqueue(unrouted)).toBe(true);
      state.close();
    });

    it('tallies an item stored before summaries existed from its payload', async () => {
      const t = Date.UTC(2026, 0, 1);
      const table = await freshTable();
      const state = openDynamoState({ table, client, now: () => t });
      await state.outbox.enqueue({ id: 'new', topic: 'alerts:C0', payload: '{}' });
      // As the outbox stored an alert before: no `sv`, no summary attributes.
      const alert = { id: '1', monitorId: '42', transition: 'Warn', title: 'disk', at: t - 5 };
      await client.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            pk: { S: 'outbox#alerts:C0' },
            sk: { S: `${String(t - 1).padStart(16, '0')}#old` },
            id: { S: 'old' },
            topic: { S: 'alerts:C0' },
            payload: { S: JSON.stringify({ alert, channel: 'C0' }) },
            attempts: { N: '0' },
            createdAt: { N: String(t - 1) },
            availableAt: { N: String(t - 1) },
            rev: { N: '0' },
          },
        }),
      );
      const tally = await state.outbox.tally('alerts:C0', 0, 10);
      expect(tally).toMatchObject({ read: 2, open: 1 });
      expect(tally.groups).toEqual([
        { group: '42', title: 'disk', at: t - 5, kinds: new Map([['Warn', 1]]) },
      ]);
      expect((await state.outbox.history('alerts:C0', '42', 0, 5)).map((i) => i.id)).toEqual(['old']);
      state.close();
    });
  });

  describe('the table', () => {
    it('names a missing table and says to create it; not ready, and every store fails with it', async () => {
      const state = openDynamoState({ table: 'opsbot-no-such-table', client });
      await expect(state.ready()).rejects.toBeInstanceOf(StateTableMissingError);
      const failure = state.dedupe.putIfAbsent('k', MINUTE);
      await expect(failure).rejects.toBeInstanceOf(StateTableMissingError);
      await expect(failure).rejects.toThrow(
        /DynamoDB state table "opsbot-no-such-table" does not exist.*create it \(the CDK app in infra\/ does/,
      );
      await expect(state.audit.append(event('U0A', 1))).rejects.toBeInstanceOf(StateTableMissingError);
      await expect(state.outbox.pending('alerts')).rejects.toBeInstanceOf(StateTableMissingError);
      expect(await state.audit.writable()).toBe(false);
      expect(await state.ping()).toBe(false);
      state.close();
    });

    it('close() still writes the audit events appended before it, refuses new ones, then closes the table', async () => {
      const table = await freshTable();
      const state = openDynamoState({ table, client });
      const appended = Array.from({ length: 5 }, (_, i) => state.audit.append(event('U0A', i)));
      state.close();
      await expect(state.audit.append(event('U0A', 9))).rejects.toThrow(/closed/);
      expect((await Promise.all(appended)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
      await vi.waitFor(() =>
        expect(state.dedupe.putIfAbsent('k', MINUTE)).rejects.toBeInstanceOf(StateClosedError),
      );
      const other = openDynamoState({ table, client });
      expect(await other.audit.verify()).toMatchObject({ ok: true, checked: 5, head: { seq: 5 } });
      other.close();
    });

    it('OPSBOT_STATE=dynamodb:TABLE opens it through the SDK defaults (AWS_ENDPOINT_URL_DYNAMODB)', async () => {
      const table = await freshTable();
      vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', moto?.url ?? '');
      vi.stubEnv('AWS_REGION', 'us-east-1');
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
      try {
        const state = await openState({ kind: 'dynamodb', table });
        expect(await state.ping()).toBe(true);
        expect(await state.audit.writable()).toBe(true);
        expect(await state.dedupe.putIfAbsent('webhook:1', MINUTE)).toBe(true);
        expect(await rawItem(table, 'dedupe#webhook:1')).toBeDefined();
        state.close();
      } finally {
        vi.unstubAllEnvs();
      }
    });
  });
});
