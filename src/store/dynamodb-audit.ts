import { randomUUID } from 'node:crypto';
import {
  type ChainExpectation,
  type ChainTail,
  ChainVerifier,
  EMPTY_TAIL,
  linkEvents,
} from '../audit/chain.js';
import type {
  AuditAnchor,
  AuditEvent,
  AuditQuery,
  AuditRecord,
  ChainCheck,
  UnreadableAuditRecord,
  VerifyOptions,
} from '../audit/records.js';
import { readStoredRow, type StoredRow } from '../audit/stored-record.js';
import { cancellationCodes, type Item, type StateTable, sortable } from './dynamodb-table.js';
import { StateBusyError } from './errors.js';
import type { AuditStore, AuditStoreWiring } from './state.js';

const PK = 'audit';
const HEAD = { pk: PK, sk: 'head' };
const PROBE = { pk: PK, sk: 'probe' };
const RECORD = 'rec#';
const recordSk = (seq: number) => `${RECORD}${sortable(seq)}`;

/** Events per transaction: with a key rotation record and the head update, TransactWriteItems' 100. */
const MAX_BATCH = 98;
/** Bytes of records per transaction (DynamoDB allows 4 MB), and per record (an item: 400 KB). */
const MAX_BATCH_BYTES = 3_000_000;
/** Largest event, as JSON (DynamoDB items are at most 400 KB; SQLite has no such limit). */
export const MAX_AUDIT_EVENT_BYTES = 150 * 1024;
/** Records read per page when verifying; the walk yields to the event loop between pages and slices. */
const PAGE = 500;
const SLICE_MS = 8;
/** A filtered query reads at most this many records back from the newest (bounded cost and time). */
export const MAX_QUERY_SCAN = 10_000;
/** The readiness probe gives up after this long. */
const PROBE_MS = 500;

export interface DynamoAuditOptions {
  now: () => number;
  /** Waits between attempts after losing the head to another replica (default: setTimeout). */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter in [0, 1) (default Math.random). */
  random?: () => number;
  /** Attempts per batch before its appends reject (default 30: about 6 s of backoff under heavy contention). */
  maxAttempts?: number;
}

export interface DynamoAuditStore extends AuditStore {
  /** How many times this process lost the head to another writer (conditional write refused) and re-chained. */
  conflicts(): number;
  /** Resolves once the head has been read (rejects when the table cannot be read, e.g. it is missing). */
  ready(): Promise<void>;
  /** Refuses new appends; resolves once those appended before are written (or rejected). */
  close(): Promise<void>;
}

type Pending = {
  event: AuditEvent & { at: string };
  bytes: number;
  resolve: (r: AuditRecord) => void;
  reject: (e: unknown) => void;
};

function toTail(item: Item | undefined): ChainTail {
  if (!item) return EMPTY_TAIL;
  return {
    seq: Number(item.seq),
    hash: String(item.hash),
    keyVersion: typeof item.keyVersion === 'string' ? item.keyVersion : undefined,
  };
}

function toRow(item: Item): StoredRow {
  return {
    seq: Number(item.seq),
    at: String(item.at ?? ''),
    actor: String(item.actor ?? ''),
    action: String(item.action ?? ''),
    record: typeof item.record === 'string' ? item.record : '',
  };
}

/**
 * The audit trail on DynamoDB: ONE chain for every replica. Records are items `audit`/`rec#<seq>`
 * (the record as JSON, plus its indexed fields, as SQLite stores them) and the head item
 * `audit`/`head` holds the last record's seq, hash and key version. Appends waiting together are
 * chained after this process's view of the head and written as one TransactWriteItems: a Put per
 * record (`attribute_not_exists`) and an Update of the head conditional on the seq and hash it was
 * chained after. When another replica appended first the transaction is cancelled: the head is read
 * again, the batch re-chained after it and retried, with jittered backoff, a bounded number of
 * times (then its appends reject with StateBusyError). Hashes, key versions and verification are
 * those of src/audit/chain.ts, exactly as on SQLite.
 */
export function createDynamoAudit(table: StateTable, options: DynamoAuditOptions): DynamoAuditStore {
  const { now } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  const maxAttempts = options.maxAttempts ?? 30;
  /** Where the next batch is chained: undefined until the head is read (again, after a failed write). */
  let tail: ChainTail | undefined;
  let loading: Promise<ChainTail> | undefined;
  /** The last record this process knows of (read or written): `head()`, and what verify must reach. */
  let known: (AuditAnchor & { keyVersion?: string }) | undefined;
  let wiring: AuditStoreWiring = {};
  const queue: Pending[] = [];
  let scheduled = false;
  let inFlight: Promise<void> | undefined;
  let conflicts = 0;
  let closed = false;

  const learn = (next: ChainTail) => {
    tail = next;
    if (next.seq > 0 && next.seq >= (known?.seq ?? 0))
      known = { seq: next.seq, hash: next.hash, ...(next.keyVersion ? { keyVersion: next.keyVersion } : {}) };
  };
  const readHead = async (): Promise<ChainTail> => {
    const head = toTail(await table.get(HEAD));
    learn(head);
    return head;
  };
  const ensureHead = (): Promise<ChainTail> => {
    if (tail) return Promise.resolve(tail);
    loading ??= readHead().finally(() => {
      loading = undefined;
    });
    return loading;
  };

  /** The transaction that stores `records` after `base`, unless the head moved from `base`. */
  const transaction = (base: ChainTail, records: readonly AuditRecord[]) => {
    const last = records.at(-1) as AuditRecord;
    return {
      ClientRequestToken: randomUUID(),
      TransactItems: [
        ...records.map((r) => ({
          Put: {
            TableName: table.name,
            Item: {
              pk: PK,
              sk: recordSk(r.seq),
              seq: r.seq,
              at: r.at,
              actor: r.actor,
              action: r.action,
              record: JSON.stringify(r),
              hash: r.hash,
            },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': 'pk' },
          },
        })),
        {
          Update: {
            TableName: table.name,
            Key: HEAD,
            UpdateExpression: `SET #seq = :seq, #hash = :hash${last.keyVersion ? ', #kv = :kv' : ' REMOVE #kv'}`,
            ConditionExpression:
              base.seq === 0 ? 'attribute_not_exists(#pk)' : '#seq = :base AND #hash = :baseHash',
            ExpressionAttributeNames: {
              '#seq': 'seq',
              '#hash': 'hash',
              '#kv': 'keyVersion',
              ...(base.seq === 0 ? { '#pk': 'pk' } : {}),
            },
            ExpressionAttributeValues: {
              ':seq': last.seq,
              ':hash': last.hash,
              ...(last.keyVersion ? { ':kv': last.keyVersion } : {}),
              ...(base.seq === 0 ? {} : { ':base': base.seq, ':baseHash': base.hash }),
            },
          },
        },
      ],
    };
  };

  /** Chains `pending` after the head and stores it, re-chaining after a newer head when it lost. */
  const commit = async (pending: readonly Pending[]): Promise<AuditRecord[]> => {
    for (let attempt = 1; ; attempt++) {
      const base = await ensureHead();
      const records = linkEvents(
        base,
        pending.map((p) => p.event),
        wiring.keys,
      );
      try {
        await table.transact(transaction(base, records), { conflictRetries: 0 });
        return records;
      } catch (error) {
        tail = undefined; // whatever happened, the next attempt starts from the stored head
        const codes = cancellationCodes(error) ?? [];
        const lost = codes.some((c) => c === 'ConditionalCheckFailed' || c === 'TransactionConflict');
        if (!lost && !(error instanceof StateBusyError)) throw error;
        if (lost) conflicts += 1;
        const head = await readHead();
        const last = records.at(-1) as AuditRecord;
        if (head.seq === last.seq && head.hash === last.hash) return records; // stored after all
        if (attempt >= maxAttempts)
          throw new StateBusyError(
            `${attempt} attempts to append ${pending.length} audit events failed: other writers moved the chain head first, or the table was throttled`,
          );
        const ceiling = Math.min(250, 5 * 2 ** attempt);
        await sleep(ceiling / 2 + (random() * ceiling) / 2);
      }
    }
  };

  /** The next batch: in order, at most MAX_BATCH events and MAX_BATCH_BYTES. */
  const nextBatch = (): Pending[] => {
    let bytes = 0;
    let n = 0;
    while (n < queue.length && n < MAX_BATCH) {
      bytes += (queue[n] as Pending).bytes;
      if (n > 0 && bytes > MAX_BATCH_BYTES) break;
      n++;
    }
    return queue.splice(0, n);
  };

  const schedule = () => {
    if (scheduled || inFlight || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (inFlight || queue.length === 0) return;
      inFlight = writeNext().finally(() => {
        inFlight = undefined;
        schedule();
      });
    });
  };
  const writeNext = async () => {
    // Until the chain key's first load is over, records wait (bounded by the keyring).
    const keysReady = wiring.keys?.ready?.();
    if (keysReady) await keysReady.catch(() => undefined);
    const pending = nextBatch();
    if (pending.length === 0) return;
    let records: AuditRecord[];
    try {
      records = await commit(pending);
    } catch (error) {
      for (const p of pending) p.reject(error);
      return;
    }
    const end = records.at(-1) as AuditRecord;
    learn({ seq: end.seq, hash: end.hash, keyVersion: end.keyVersion });
    // A key rotation record, when there is one, comes first and answers no caller.
    const offset = records.length - pending.length;
    for (const [i, p] of pending.entries()) p.resolve(records[offset + i] as AuditRecord);
    try {
      wiring.onCommit?.({ seq: end.seq, hash: end.hash });
    } catch {
      // The anchor is a log line; failing to write it must not fail the records.
    }
  };

  // Read at start (the head the log's start anchor names); a failure is retried by the next use.
  ensureHead().catch(() => undefined);

  return {
    append(event: AuditEvent): Promise<AuditRecord> {
      return new Promise((resolve, reject) => {
        if (closed) {
          reject(new Error('the audit trail is closed (opsbot is stopping); the event was not stored'));
          return;
        }
        const stamped = { ...event, at: event.at ?? new Date(now()).toISOString() };
        const json = Buffer.byteLength(JSON.stringify(stamped), 'utf8');
        if (json > MAX_AUDIT_EVENT_BYTES) {
          reject(new RangeError(`an audit event must be at most ${MAX_AUDIT_EVENT_BYTES} bytes as JSON`));
          return;
        }
        // Its item holds the record's JSON and copies of its indexed fields.
        queue.push({ event: stamped, bytes: 2 * json + 1_024, resolve, reject });
        schedule();
      });
    },

    async query(query: AuditQuery): Promise<AuditRecord[]> {
      const asked = Number.isFinite(query.limit) ? Math.floor(query.limit as number) : 50;
      const limit = Math.min(Math.max(1, asked), 200);
      const filters: string[] = [];
      const names: Record<string, string> = { '#pk': 'pk', '#sk': 'sk' };
      const values: Record<string, unknown> = { ':pk': PK, ':rec': RECORD };
      if (query.actor) {
        filters.push('#actor = :actor');
        names['#actor'] = 'actor';
        values[':actor'] = query.actor;
      }
      if (query.command) {
        filters.push('(#action = :command OR begins_with(#action, :commandPrefix))');
        names['#action'] = 'action';
        values[':command'] = query.command;
        values[':commandPrefix'] = `${query.command}:`;
      }
      if (query.since) {
        filters.push('#at >= :since');
        names['#at'] = 'at';
        values[':since'] = query.since;
      }
      const rows: Item[] = [];
      let scanned = 0;
      let start: Record<string, unknown> | undefined;
      do {
        const page = await table.query({
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :rec)',
          ...(filters.length ? { FilterExpression: filters.join(' AND ') } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: filters.length ? PAGE : limit - rows.length,
          ExclusiveStartKey: start,
        });
        rows.push(...(page.Items ?? []));
        scanned += page.ScannedCount ?? 0;
        start = page.LastEvaluatedKey;
      } while (start && rows.length < limit && scanned < MAX_QUERY_SCAN);
      return rows.slice(0, limit).map((item) => {
        const read = readStoredRow(toRow(item));
        return 'unreadable' in read ? asRecord(read) : read.record;
      });
    },

    async verify(options: VerifyOptions = {}): Promise<ChainCheck> {
      await ensureHead();
      const keys = wiring.keys;
      const keyed = keys?.current() !== undefined; // also learns the provider's latest key
      const expect: ChainExpectation[] = [];
      if (options.anchor) expect.push({ anchor: options.anchor, source: 'the anchor you gave' });
      if (known) expect.push({ anchor: known, source: 'the last record opsbot stored' });
      const verifier = new ChainVerifier({ ...(keys ? { keys } : {}), keyed, expect });
      let start: Record<string, unknown> | undefined;
      let sliceStarted = performance.now();
      do {
        const page = await table.query({
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :rec)',
          ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
          ExpressionAttributeValues: { ':pk': PK, ':rec': RECORD },
          Limit: PAGE,
          ExclusiveStartKey: start,
        });
        for (const item of page.Items ?? []) {
          const read = readStoredRow(toRow(item));
          const ok = 'unreadable' in read ? verifier.add(read) : verifier.add(read.record, read.mismatch);
          if (!ok) return verifier.result();
          if (performance.now() - sliceStarted > SLICE_MS) {
            // A long trail must not hold the event loop: yield, then carry on.
            await new Promise((resolve) => setImmediate(resolve));
            sliceStarted = performance.now();
          }
        }
        start = page.LastEvaluatedKey;
      } while (start);
      return verifier.result();
    },

    head() {
      return known && { ...known };
    },

    /** A conditional PutItem of a probe item (and the head read, if not yet), within PROBE_MS. */
    async writable() {
      if (closed) return false;
      const token = randomUUID();
      let timer: NodeJS.Timeout | undefined;
      const probe = async () => {
        await table.put(
          {
            Item: { ...PROBE, token, at: new Date(now()).toISOString() },
            ConditionExpression: 'attribute_not_exists(#token) OR #token <> :token',
            ExpressionAttributeNames: { '#token': 'token' },
            ExpressionAttributeValues: { ':token': token },
          },
          { signal: AbortSignal.timeout(PROBE_MS) },
        );
        await ensureHead();
        return true;
      };
      try {
        return await Promise.race([
          probe(),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), PROBE_MS);
          }),
        ]);
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },

    attach(next: AuditStoreWiring) {
      wiring = { ...wiring, ...next };
    },

    conflicts: () => conflicts,

    async ready() {
      await ensureHead();
    },

    async close() {
      closed = true;
      // What was appended before is still written (as SQLite's close does), batch after batch.
      while (inFlight || queue.length > 0) {
        schedule();
        await (inFlight ?? new Promise((resolve) => setImmediate(resolve)));
      }
    },
  };
}

/** A record that cannot be read, shaped as a record for lists (its hash is empty: it has none). */
function asRecord(row: UnreadableAuditRecord): AuditRecord {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    outcome: 'error',
    details: {},
    prevHash: '',
    hash: '',
    unreadable: row.unreadable,
  };
}
