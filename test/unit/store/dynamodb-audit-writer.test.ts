import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../src/audit/records.js';
import { systemClock } from '../../../src/clock.js';
import { AuditHead } from '../../../src/store/dynamodb-audit-head.js';
import { AuditWriter } from '../../../src/store/dynamodb-audit-writer.js';
import type { Item, StateTable } from '../../../src/store/dynamodb-table.js';
import { StateBusyError } from '../../../src/store/errors.js';

type Transaction = { TransactItems: Record<string, Record<string, unknown>>[] };

/**
 * The part of the state table the audit writer uses, in memory: items by key, the sequence
 * counter, and transactions applied as DynamoDB applies them (each record put only if absent, the
 * chain head only if it still holds the batch's base), or handed to `intercept` first.
 */
class FakeTable {
  readonly name = 'fake';
  readonly items = new Map<string, Item>();
  reservations = 0;
  #next = 0;
  intercept: ((tx: Transaction, apply: () => void) => Promise<void>) | undefined;

  async get(key: { pk: string; sk: string }): Promise<Item | undefined> {
    return this.items.get(`${key.pk}|${key.sk}`);
  }
  async query(): Promise<{ Items: Item[] }> {
    return { Items: [] };
  }
  async update(input: { ExpressionAttributeValues: Record<string, number> }) {
    this.reservations += 1;
    this.#next += input.ExpressionAttributeValues[':count'] as number;
    return { Attributes: { next: this.#next } };
  }
  async transact(tx: Transaction): Promise<void> {
    const apply = () => this.#apply(tx);
    if (this.intercept) return this.intercept(tx, apply);
    apply();
  }

  #apply(tx: Transaction): void {
    const codes = tx.TransactItems.map(({ Put, Update }) => {
      if (Put) {
        const item = Put.Item as Item;
        return this.items.has(`${item.pk}|${item.sk}`) ? 'ConditionalCheckFailed' : 'None';
      }
      const key = (Update as { Key: { pk: string; sk: string } }).Key;
      const base = (Update as { ExpressionAttributeValues: Record<string, unknown> })
        .ExpressionAttributeValues[':baseHash'];
      const head = this.items.get(`${key.pk}|${key.sk}`);
      return (base === undefined ? head === undefined : head?.hash === base)
        ? 'None'
        : 'ConditionalCheckFailed';
    });
    if (codes.some((c) => c !== 'None'))
      throw Object.assign(new Error('Transaction cancelled'), {
        name: 'TransactionCanceledException',
        CancellationReasons: codes.map((Code) => ({ Code })),
      });
    for (const { Put, Update } of tx.TransactItems) {
      if (Put) {
        const item = Put.Item as Item;
        this.items.set(`${item.pk}|${item.sk}`, item);
      } else {
        const { Key, ExpressionAttributeValues } = Update as {
          Key: { pk: string; sk: string };
          ExpressionAttributeValues: Record<string, unknown>;
        };
        this.items.set(`${Key.pk}|${Key.sk}`, { ...Key, hash: ExpressionAttributeValues[':hash'] });
      }
    }
  }
}

function writerOn(table: FakeTable, clock: { t: number }, onSleep: () => void = () => {}) {
  const asTable = table as unknown as StateTable;
  const head = new AuditHead(asTable);
  const writer = new AuditWriter(asTable, head, {
    now: () => clock.t,
    clock: systemClock,
    sleep: async (ms) => {
      clock.t += ms;
      onSleep();
    },
    random: () => 0.5,
    maxAttempts: 5,
    wiring: () => ({}),
  });
  return writer;
}

const event = { action: 'gh:pr list', outcome: 'success', actor: 'U0A', details: {} } as const;
const records = (table: FakeTable) =>
  [...table.items.values()].filter((i) => String(i.sk).startsWith('rec#')).map((i) => Number(i.seq));

describe('the DynamoDB audit writer, when a write is given up but lands after all', () => {
  it('keeps the version that landed, even after it reserved new numbers for the batch', async () => {
    const table = new FakeTable();
    const clock = { t: Date.UTC(2026, 0, 1) };
    let inFlight: (() => void) | undefined;
    let sends = 0;
    table.intercept = async (_tx, apply) => {
      sends += 1;
      if (sends === 1) {
        // Given up (no answer in time) while DynamoDB still holds it: it lands during the backoff.
        inFlight = apply;
        throw new StateBusyError('the audit write had no answer within 10000 ms');
      }
      apply();
    };
    const writer = writerOn(table, clock, () => {
      clock.t += 25_000; // past the reservation's life: the next attempt takes new numbers
      inFlight?.();
      inFlight = undefined;
    });
    const record: AuditRecord = await writer.append(event);
    expect(record.seq).toBe(1);
    expect(table.reservations).toBe(2);
    expect(records(table)).toEqual([1]);
    // The second version was refused by the chain's head (it had moved to the first): one refusal.
    expect(writer.conflicts()).toBe(1);
    // The next batch follows the version that landed.
    const next = await writer.append(event);
    expect(next).toMatchObject({ seq: 3, prevHash: record.hash });
  });

  it('sends the same version again while its numbers are fresh, and stores it once', async () => {
    const table = new FakeTable();
    const clock = { t: Date.UTC(2026, 0, 1) };
    const sent: Transaction[] = [];
    table.intercept = async (tx, apply) => {
      sent.push(structuredClone(tx));
      if (sent.length === 1) throw new StateBusyError('throttled');
      apply();
    };
    const writer = writerOn(table, clock);
    expect(await writer.append(event)).toMatchObject({ seq: 1 });
    expect(sent).toHaveLength(2);
    // The same request, token included, although the clock moved during the backoff: DynamoDB
    // treats a re-sent token with other parameters as an error, and applies the same one once.
    expect(sent[1]).toEqual(sent[0]);
    expect(table.reservations).toBe(1);
    expect(records(table)).toEqual([1]);
  });
});
