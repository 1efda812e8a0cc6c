import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  CreateTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DeleteCommandInput,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
  type UpdateCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { type Clock, type Random, systemClock } from '../clock.js';
import { type BackoffPolicy, fullJitterDelay } from '../time/backoff.js';
import { sleep } from '../time/deadline.js';
import { StateBusyError, StateClosedError } from './errors.js';

/** An item as the document client reads and writes it. */
export type Item = Record<string, unknown>;
export type Key = { pk: string; sk: string };
type WithoutTable<T> = Omit<T, 'TableName'>;
interface CallOptions {
  /** Bounds the call (the SDK's own retries included), e.g. `AbortSignal.timeout(500)`. */
  signal?: AbortSignal;
}

/** The sort key of an item that is alone under its partition key (a dedupe key, a lease, …). */
export const ONLY = '-';
/** The attribute DynamoDB's TTL deletes by: epoch SECONDS (README.md, "State: one process or several"). */
export const TTL_ATTRIBUTE = 'expiresAt';

/** Longest key value kept as it is in a partition key (DynamoDB allows 2,048 bytes) / a sort key (1,024). */
const MAX_PK_VALUE_BYTES = 1_900;
const MAX_SK_VALUE_BYTES = 900;

/**
 * The table named by `OPSBOT_STATE=dynamodb:TABLE` does not exist (in this account and region): no
 * State operation can work until it is created.
 */
export class StateTableMissingError extends Error {
  readonly table: string;
  constructor(table: string, options?: { cause?: unknown }) {
    super(
      `the DynamoDB state table "${table}" does not exist in this account and region: create it (the CDK app in infra/ does: partition key pk and sort key sk, both strings, on-demand, TTL attribute expiresAt), or set OPSBOT_STATE=dynamodb:<the table's name> and AWS_REGION to where it is`,
      options,
    );
    this.name = 'StateTableMissingError';
    this.table = table;
  }
}

/** Errors that mean "too busy" once the SDK's own retries are spent. */
const THROTTLED = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
]);
/** The same, as a cancelled transaction's reason for one of its items. */
const THROTTLED_ITEM = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

/** A transaction cancelled by a conflicting one is tried again after up to 50 ms, then 100, 200 (full jitter). */
export const TRANSACTION_CONFLICT_BACKOFF: BackoffPolicy = { baseMs: 50, capMs: 200 };

export interface StateTableOptions {
  /** Whose timers the waits between attempts run on (default: the system clock). */
  clock?: Clock;
  /** Waits between attempts (default: a timer on `clock`). */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter in [0, 1) (default Math.random). */
  random?: Random;
}

/** Waits `ms` on `clock`, keeping the process alive meanwhile: a store waiting out a backoff holds writes callers await. */
export function sleepOn(clock: Clock): (ms: number) => Promise<void> {
  return (ms) => sleep(clock, ms, { keepAlive: true });
}

/**
 * The state table as the stores use it: every call names the table, reads are strongly consistent,
 * and SDK errors are mapped to the store's typed errors (a missing table, throttling, closed).
 */
export class StateTable {
  readonly name: string;
  readonly #doc: DynamoDBDocumentClient;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: Random;
  #closed = false;

  constructor(client: DynamoDBClient, name: string, options: StateTableOptions = {}) {
    this.name = name;
    this.#sleep = options.sleep ?? sleepOn(options.clock ?? systemClock);
    this.#random = options.random ?? Math.random;
    this.#doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }

  /** Later calls reject with StateClosedError (opsbot is stopping). */
  close(): void {
    this.#closed = true;
  }

  /** The item under `key`, strongly consistent. */
  async get(key: Key, options: CallOptions = {}): Promise<Item | undefined> {
    const command = new GetCommand({ TableName: this.name, Key: key, ConsistentRead: true });
    const out = await this.#call((sent) => this.#doc.send(command, sent), options);
    return out.Item;
  }

  async put(input: WithoutTable<PutCommandInput>, options: CallOptions = {}): Promise<void> {
    const command = new PutCommand({ ...input, TableName: this.name });
    await this.#call((sent) => this.#doc.send(command, sent), options);
  }

  async update(input: WithoutTable<UpdateCommandInput>): Promise<UpdateCommandOutput> {
    const command = new UpdateCommand({ ...input, TableName: this.name });
    return this.#call((sent) => this.#doc.send(command, sent));
  }

  async delete(input: WithoutTable<DeleteCommandInput>): Promise<void> {
    const command = new DeleteCommand({ ...input, TableName: this.name });
    await this.#call((sent) => this.#doc.send(command, sent));
  }

  /** One page of a strongly consistent query. */
  async query(input: WithoutTable<QueryCommandInput>): Promise<QueryCommandOutput> {
    const command = new QueryCommand({ ...input, TableName: this.name, ConsistentRead: true });
    return this.#call((sent) => this.#doc.send(command, sent));
  }

  /**
   * TransactWriteItems; each item names its table (`table.name`). A transaction cancelled only
   * because another one was touching the same items (TransactionConflict) is tried again a few
   * times ({@link TRANSACTION_CONFLICT_BACKOFF}), unless `conflictRetries` is 0 (the caller handles
   * contention itself). `signal` bounds the call (each try).
   */
  async transact(
    input: TransactWriteCommandInput,
    options: { conflictRetries?: number } & CallOptions = {},
  ): Promise<void> {
    const retries = options.conflictRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      try {
        const command = new TransactWriteCommand(input);
        await this.#call((sent) => this.#doc.send(command, sent), options);
        return;
      } catch (error) {
        const codes = cancellationCodes(error)?.filter((c) => c !== 'None') ?? [];
        if (attempt >= retries || codes.length === 0 || codes.some((c) => c !== 'TransactionConflict'))
          throw error;
        await this.#sleep(fullJitterDelay(attempt, TRANSACTION_CONFLICT_BACKOFF, this.#random));
      }
    }
  }

  /**
   * One call of the document client, made by `send` with the options it is given (so each call
   * keeps the client's own types for its command), refused once closed, its errors mapped.
   */
  async #call<T>(
    send: (sent: { abortSignal?: AbortSignal }) => Promise<T>,
    options: CallOptions = {},
  ): Promise<T> {
    if (this.#closed) throw new StateClosedError();
    try {
      return await send(options.signal ? { abortSignal: options.signal } : {});
    } catch (error) {
      throw this.#mapError(error);
    }
  }

  #mapError(error: unknown): unknown {
    const name = (error as { name?: unknown } | undefined)?.name;
    if (name === 'ResourceNotFoundException') return new StateTableMissingError(this.name, { cause: error });
    if (typeof name === 'string' && THROTTLED.has(name))
      return new StateBusyError(`the state table ${this.name} is throttling requests (DynamoDB ${name})`, {
        cause: error,
      });
    // A transaction the SDK does not retry, cancelled because an item's partition was throttled.
    const codes = cancellationCodes(error) ?? [];
    if (codes.some((c) => THROTTLED_ITEM.has(c)) && !codes.includes('ConditionalCheckFailed'))
      return new StateBusyError(
        `the state table ${this.name} is throttling an item (DynamoDB transaction cancelled)`,
        {
          cause: error,
        },
      );
    return error;
  }
}

/** A single conditional write (Put, Update, Delete) whose condition did not hold. */
export function isConditionFailed(error: unknown): boolean {
  return (error as { name?: unknown } | undefined)?.name === 'ConditionalCheckFailedException';
}

/** Why each item of a cancelled TransactWriteItems was refused (`None` for those that were fine). */
export function cancellationCodes(error: unknown): string[] | undefined {
  if ((error as { name?: unknown } | undefined)?.name !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.map((r) => r.Code ?? 'None');
}

/** The item returned with a ConditionalCheckFailedException (ReturnValuesOnConditionCheckFailure: ALL_OLD). */
export function failedItem(error: unknown): Item | undefined {
  const raw = (error as { Item?: Record<string, AttributeValue> } | undefined)?.Item;
  if (!raw) return undefined;
  const item: Item = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value.S !== undefined) item[name] = value.S;
    else if (value.N !== undefined) item[name] = Number(value.N);
    else if (value.BOOL !== undefined) item[name] = value.BOOL;
  }
  return item;
}

/** The TTL value for an expiry in epoch ms: rounded up, so DynamoDB never deletes a live item. */
export function ttlSeconds(expiresAtMs: number): number {
  return Math.ceil(expiresAtMs / 1000);
}

/** A number as a fixed-width sort key part (epoch ms, sequence numbers): string order is numeric order. */
export function sortable(n: number): string {
  return String(Math.max(0, Math.floor(n))).padStart(16, '0');
}

/**
 * `<kind>#<value>`, or `<kind>~sha256#<hex>` when the value does not fit in a key as it is (too
 * long in UTF-8, or not well-formed Unicode, which DynamoDB would store altered): one item per
 * distinct value either way, and the two forms never collide.
 */
export function keyPart(kind: string, value: string, maxBytes = MAX_PK_VALUE_BYTES): string {
  const fits = Buffer.byteLength(value, 'utf8') <= maxBytes && !/\p{Cs}/u.test(value);
  return fits
    ? `${kind}#${value}`
    : `${kind}~sha256#${createHash('sha256').update(value, 'utf16le').digest('hex')}`;
}

/** The sort key of an outbox item: when it was enqueued, then its id (ties within a millisecond). */
export function outboxSortKey(createdAt: number, id: string): string {
  return keyPart(sortable(createdAt), id, MAX_SK_VALUE_BYTES);
}

/**
 * Creates the state table as README.md describes it (what infra/ deploys): `pk`/`sk` strings,
 * on-demand, TTL on `expiresAt`. For tests and benchmarks against an emulator; production tables
 * come from the CDK app.
 */
export async function createStateTable(client: DynamoDBClient, name: string): Promise<void> {
  const created = await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  // Emulators answer ACTIVE at once; DynamoDB takes a few seconds (TTL cannot be set before).
  if (created.TableDescription?.TableStatus !== 'ACTIVE')
    await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 1 }, { TableName: name });
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: name,
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
    }),
  );
}
