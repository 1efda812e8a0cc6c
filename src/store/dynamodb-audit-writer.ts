import { linkEvents } from '../audit/chain.js';
import type { AuditEvent, AuditRecord } from '../audit/records.js';
import type { Random } from '../clock.js';
import { type BackoffPolicy, fullJitterDelay } from '../time/backoff.js';
import type { AuditHead } from './dynamodb-audit-head.js';
import { appendTransaction } from './dynamodb-audit-items.js';
import { cancellationCodes, type StateTable } from './dynamodb-table.js';
import { StateBusyError } from './errors.js';
import type { AuditStoreWiring } from './state.js';

/** Events per transaction: with a key rotation record and the head update, TransactWriteItems' 100. */
const MAX_BATCH = 98;
/** Bytes of records per transaction (DynamoDB allows 4 MB), and per record (an item: 400 KB). */
const MAX_BATCH_BYTES = 3_000_000;
/** Largest event, as JSON (DynamoDB items are at most 400 KB; SQLite has no such limit). */
export const MAX_AUDIT_EVENT_BYTES = 150 * 1024;
/** After losing the head to another writer: the first retry waits up to 10 ms, doubling up to 250 ms. */
export const LOST_HEAD_BACKOFF: BackoffPolicy = { baseMs: 10, capMs: 250 };

export interface AuditWriterOptions {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random: Random;
  /** Attempts per batch before its appends reject with StateBusyError. */
  maxAttempts: number;
  /** The keys and the commit hook as attached now (they are attached after the store is built). */
  wiring: () => AuditStoreWiring;
}

type Pending = {
  event: AuditEvent & { at: string };
  bytes: number;
  resolve: (r: AuditRecord) => void;
  reject: (e: unknown) => void;
};

/**
 * The audit trail's appends: events waiting together are chained after the head and written as one
 * transaction, one batch at a time; a batch that lost the head to another writer is re-chained
 * after the new head and tried again, with backoff, {@link AuditWriterOptions.maxAttempts} times.
 */
export class AuditWriter {
  readonly #table: StateTable;
  readonly #head: AuditHead;
  readonly #options: AuditWriterOptions;
  readonly #queue: Pending[] = [];
  #scheduled = false;
  #inFlight: Promise<void> | undefined;
  #conflicts = 0;
  #closed = false;

  constructor(table: StateTable, head: AuditHead, options: AuditWriterOptions) {
    this.#table = table;
    this.#head = head;
    this.#options = options;
  }

  /** How many times a batch lost the head to another writer (conditional write refused). */
  conflicts(): number {
    return this.#conflicts;
  }

  isClosed(): boolean {
    return this.#closed;
  }

  append(event: AuditEvent): Promise<AuditRecord> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error('the audit trail is closed (opsbot is stopping); the event was not stored'));
        return;
      }
      const stamped = { ...event, at: event.at ?? new Date(this.#options.now()).toISOString() };
      const json = Buffer.byteLength(JSON.stringify(stamped), 'utf8');
      if (json > MAX_AUDIT_EVENT_BYTES) {
        reject(new RangeError(`an audit event must be at most ${MAX_AUDIT_EVENT_BYTES} bytes as JSON`));
        return;
      }
      // Its item holds the record's JSON and copies of its indexed fields.
      this.#queue.push({ event: stamped, bytes: 2 * json + 1_024, resolve, reject });
      this.#schedule();
    });
  }

  /** Refuses new appends; resolves once those appended before are written (or rejected), batch after batch. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#inFlight || this.#queue.length > 0) {
      this.#schedule();
      await (this.#inFlight ?? new Promise((resolve) => setImmediate(resolve)));
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#inFlight || this.#queue.length === 0) return;
      this.#inFlight = this.#writeNext().finally(() => {
        this.#inFlight = undefined;
        this.#schedule();
      });
    });
  }

  async #writeNext(): Promise<void> {
    // Until the chain key's first load is over, records wait (bounded by the keyring).
    const keysReady = this.#options.wiring().keys?.ready?.();
    if (keysReady) await keysReady.catch(() => undefined);
    const pending = this.#nextBatch();
    if (pending.length === 0) return;
    let records: AuditRecord[];
    try {
      records = await this.#commit(pending);
    } catch (error) {
      for (const p of pending) p.reject(error);
      return;
    }
    const end = records.at(-1) as AuditRecord;
    this.#head.learn({ seq: end.seq, hash: end.hash, keyVersion: end.keyVersion });
    // A key rotation record, when there is one, comes first and answers no caller.
    const offset = records.length - pending.length;
    for (const [i, p] of pending.entries()) p.resolve(records[offset + i] as AuditRecord);
    try {
      this.#options.wiring().onCommit?.({ seq: end.seq, hash: end.hash });
    } catch {
      // The anchor is a log line; failing to write it must not fail the records.
    }
  }

  /** The next batch: in order, at most MAX_BATCH events and MAX_BATCH_BYTES. */
  #nextBatch(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.#queue.length && n < MAX_BATCH) {
      bytes += (this.#queue[n] as Pending).bytes;
      if (n > 0 && bytes > MAX_BATCH_BYTES) break;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  /** Chains `pending` after the head and stores it, re-chaining after a newer head when it lost. */
  async #commit(pending: readonly Pending[]): Promise<AuditRecord[]> {
    const { maxAttempts, random, sleep } = this.#options;
    for (let attempt = 1; ; attempt++) {
      const base = await this.#head.ensure();
      const events = pending.map((p) => p.event);
      const records = linkEvents(base, events, this.#options.wiring().keys);
      try {
        await this.#table.transact(appendTransaction(this.#table.name, base, records), {
          conflictRetries: 0,
        });
        return records;
      } catch (error) {
        if (await this.#storedAfterAll(error, records)) return records;
        if (attempt >= maxAttempts)
          throw new StateBusyError(
            `${attempt} attempts to append ${pending.length} audit events failed: other writers moved the chain head first, or the table was throttled`,
          );
        await sleep(fullJitterDelay(attempt - 1, LOST_HEAD_BACKOFF, random));
      }
    }
  }

  /**
   * After a failed write of `records`: rethrows what is not a lost head or throttling; else reads
   * the head again and says whether it is the batch's last record (the write landed after all).
   */
  async #storedAfterAll(error: unknown, records: readonly AuditRecord[]): Promise<boolean> {
    this.#head.forget(); // whatever happened, the next attempt starts from the stored head
    const codes = cancellationCodes(error) ?? [];
    const lost = codes.some((c) => c === 'ConditionalCheckFailed' || c === 'TransactionConflict');
    if (!lost && !(error instanceof StateBusyError)) throw error;
    if (lost) this.#conflicts += 1;
    const head = await this.#head.read();
    const last = records.at(-1) as AuditRecord;
    return head.seq === last.seq && head.hash === last.hash;
  }
}
