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
  /** Waits between attempts after a failed write (default: a timer on `clock`). */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter in [0, 1) (default Math.random). */
  random?: Random;
  /** Attempts per batch before its appends reject (default 30: at most about 6 s of backoff between them). */
  maxAttempts?: number;
}

export interface DynamoAuditStore extends AuditStore {
  /** How many times a batch's transaction was refused for a condition or a conflict (writer chains: about never). */
  conflicts(): number;
  /** Resolves once the head has been read (rejects when the table cannot be read, e.g. it is missing). */
  ready(): Promise<void>;
  /** Refuses new appends; resolves once those appended before are written (or rejected). */
  close(): Promise<void>;
}

/**
 * The audit trail on DynamoDB: one trail, one chain per writer. Records are items `audit`/`rec#<seq>`
 * (the record as JSON, plus its indexed fields, as SQLite stores them), numbered from one sequence
 * (`audit`/`seq`, reserved a batch at a time by an unconditional add). Each process chains its own
 * records (`chain` in the record; the head item `audit`/`chain#<id>`), so replicas never contend for
 * one item: a batch is one TransactWriteItems of its records and its chain's head, which no other
 * writer touches. A chain's first batch, and then one a minute, starts with a cross-anchor
 * (`audit.chains`) naming every other chain's head, which verification holds the trail to. Hashes,
 * key versions and verification are those of src/audit/chain.ts and src/audit/verifier.ts, as on
 * SQLite (one chain there); a trail written before writer chains (one shared chain, `audit`/`head`)
 * goes on verifying, and writer chains are numbered after it.
 *
 * The parts: this process's chain and view of the trail (dynamodb-audit-head.ts), the sequence
 * (dynamodb-audit-sequence.ts), the batched appends (dynamodb-audit-writer.ts), the heads a
 * cross-anchor names (dynamodb-audit-anchors.ts), queries and verification
 * (dynamodb-audit-reader.ts), the readiness probe (dynamodb-audit-probe.ts), the items they read and
 * write (dynamodb-audit-items.ts).
 */
export function createDynamoAudit(table: StateTable, options: DynamoAuditOptions): DynamoAuditStore {
  const { now } = options;
  const clock = options.clock ?? systemClock;
  let wiring: AuditStoreWiring = {};
  const head = new AuditHead(table);
  const writer = new AuditWriter(table, head, {
    now,
    clock,
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
