import { type Clock, type Random, systemClock } from '../clock.js';
import { AuditHead } from './dynamodb-audit-head.js';
import { probeWritable } from './dynamodb-audit-probe.js';
import {
  firstAuditSeqSince,
  queryAudit,
  readAuditAfter,
  readAuditBriefsAfter,
  verifyAudit,
} from './dynamodb-audit-reader.js';
import { AuditWriter } from './dynamodb-audit-writer.js';
import { type StateTable, sleepOn } from './dynamodb-table.js';
import type { AuditStore, AuditStoreWiring } from './state.js';

export { MAX_QUERY_SCAN } from './dynamodb-audit-reader.js';
export { MAX_AUDIT_EVENT_BYTES } from './dynamodb-audit-writer.js';

export interface DynamoAuditOptions {
  now: () => number;
  /** Whose timers the probe's deadline and the backoff run on (default: the system clock). */
  clock?: Clock;
  /** Waits between attempts after losing the head to another replica (default: a timer on `clock`). */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter in [0, 1) (default Math.random). */
  random?: Random;
  /** Attempts per batch before its appends reject (default 30: at most about 6 s of backoff, 3 s on average, under heavy contention). */
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
 *
 * The parts: the head as this process knows it (dynamodb-audit-head.ts), the batched appends
 * (dynamodb-audit-writer.ts), queries and verification (dynamodb-audit-reader.ts), the readiness
 * probe (dynamodb-audit-probe.ts), the items they read and write (dynamodb-audit-items.ts).
 */
export function createDynamoAudit(table: StateTable, options: DynamoAuditOptions): DynamoAuditStore {
  const { now } = options;
  const clock = options.clock ?? systemClock;
  let wiring: AuditStoreWiring = {};
  const head = new AuditHead(table);
  const writer = new AuditWriter(table, head, {
    now,
    sleep: options.sleep ?? sleepOn(clock),
    random: options.random ?? Math.random,
    maxAttempts: options.maxAttempts ?? 30,
    wiring: () => wiring,
  });

  // Read at start (the head the log's start anchor names); a failure is retried by the next use.
  head.ensure().catch(() => undefined);

  return {
    append: (event) => writer.append(event),
    query: (query) => queryAudit(table, query),
    readAfter: (afterSeq, limit) => readAuditAfter(table, afterSeq, limit),
    readBriefAfter: (afterSeq, limit) => readAuditBriefsAfter(table, afterSeq, limit),
    firstSeqSince: (iso) => firstAuditSeqSince(table, iso),
    verify: (verifyOptions = {}) => verifyAudit(table, head, wiring, verifyOptions),
    head: () => head.known(),
    /** A conditional PutItem of a probe item (and the head read, if not yet), within PROBE_MS. */
    writable: async () => !writer.isClosed() && probeWritable(table, head, clock, now),
    attach(next: AuditStoreWiring) {
      wiring = { ...wiring, ...next };
    },
    conflicts: () => writer.conflicts(),
    ready: async () => {
      await head.ensure();
    },
    close: () => writer.close(),
  };
}
