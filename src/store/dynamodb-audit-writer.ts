import { linkEvents, linkedCount } from '../audit/chain.js';
import { AuditKeyMissingError } from '../audit/errors.js';
import type { AuditEvent, AuditRecord } from '../audit/records.js';
import { CHAINS_ANCHORED, formatHeads, RESERVATION_MS } from '../audit/writer-chains.js';
import type { Clock, Random } from '../clock.js';
import { type BackoffPolicy, fullJitterDelay } from '../time/backoff.js';
import { deadlineSignal } from '../time/deadline.js';
import { isoTime } from '../time/iso-time.js';
import { readChainHeads } from './dynamodb-audit-anchors.js';
import type { AuditHead } from './dynamodb-audit-head.js';
import { chainKey, chainTransaction } from './dynamodb-audit-items.js';
import { reserveSeqs } from './dynamodb-audit-sequence.js';
import { cancellationCodes, type StateTable } from './dynamodb-table.js';
import { StateBusyError } from './errors.js';
import type { AuditStoreWiring } from './state.js';

/**
 * Events per transaction: with a cross-anchor, a key rotation record and the chain head's update,
 * TransactWriteItems' 100.
 */
const MAX_BATCH = 97;
/** A writer chain names where the others had got to in its first batch, then at most this often (when it writes). */
const ANCHOR_EVERY_MS = 60_000;
/** One attempt at a batch's transaction is given up after this long (and the batch tried again). */
const ATTEMPT_MS = 10_000;
/** Bytes of records per transaction (DynamoDB allows 4 MB), and per record (an item: 400 KB). */
const MAX_BATCH_BYTES = 3_000_000;
/** Largest event, as JSON (DynamoDB items are at most 400 KB; SQLite has no such limit). */
export const MAX_AUDIT_EVENT_BYTES = 150 * 1024;
/** After a failed attempt: the first retry waits up to 10 ms, doubling up to 250 ms. */
const WRITE_RETRY_BACKOFF: BackoffPolicy = { baseMs: 10, capMs: 250 };

export interface AuditWriterOptions {
  now: () => number;
  /** Whose timers bound each attempt. */
  clock: Clock;
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
 * The audit trail's appends, in this process's own writer chain: events waiting together are
 * chained after the chain's end at sequence numbers reserved for them, and written as one
 * transaction with the chain's head, one batch at a time. No other writer touches those items, so
 * writers never lose to each other; a batch whose write failed (throttled, timed out) is tried again
 * with backoff, {@link AuditWriterOptions.maxAttempts} times, with the same numbers while they are
 * fresh ({@link RESERVATION_MS}) and new ones after. The chain's first batch, and then one a minute,
 * starts with a cross-anchor naming the other chains' heads.
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
  /** When this chain last looked for other chains to anchor (undefined: not yet). */
  #anchorCheckedAt: number | undefined;

  constructor(table: StateTable, head: AuditHead, options: AuditWriterOptions) {
    this.#table = table;
    this.#head = head;
    this.#options = options;
  }

  /** How many times a batch's transaction was refused for a condition or a conflict (writer chains: ~never). */
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
      const stamped = { ...event, at: event.at ?? isoTime(this.#options.now()) };
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

  /**
   * Chains `pending` after this chain's end (behind a cross-anchor when one is due) and stores it;
   * resolves with every record written, the caller's last.
   */
  async #commit(pending: readonly Pending[]): Promise<AuditRecord[]> {
    const { maxAttempts, random, sleep, now } = this.#options;
    const start = await this.#head.ensure();
    const anchor = await this.#anchorDue();
    const events = [...(anchor ? [anchor] : []), ...pending.map((p) => p.event)];
    let reserved: { seqs: number[]; at: number } | undefined;
    /** Each version of the batch sent so far (new numbers, or a new key, make another). */
    const sent: AuditRecord[][] = [];
    for (let attempt = 1; ; attempt++) {
      const base = this.#head.tail();
      const keys = this.#options.wiring().keys;
      // After keyed records (of this chain, or of the trail for a new chain), records without the
      // key would be a break: refused before any number is reserved for them.
      const keyedBefore = base.seq > 0 ? base.keyVersion : start.newest?.keyVersion;
      if (keyedBefore !== undefined && keys?.current() === undefined)
        throw new AuditKeyMissingError(keyedBefore);
      const count = linkedCount(base, events, keys);
      if (!reserved || reserved.seqs.length !== count || now() - reserved.at > RESERVATION_MS)
        reserved = { seqs: await reserveSeqs(this.#table, count, start.sharedEnd), at: now() };
      const records = linkEvents(base, events, keys, { chain: this.#head.chain, seqs: reserved.seqs });
      if (sent.at(-1)?.at(-1)?.hash !== records.at(-1)?.hash) sent.push(records);
      const failed = await this.#attempt(base, records);
      // The chain's head after a failure says whether one of the versions sent was stored after all
      // (an answer lost, a write still in flight when it was given up).
      const stored = failed === undefined ? records : sent.find((r) => r.at(-1)?.hash === failed.head);
      if (stored) {
        this.#head.advance(stored.at(-1) as AuditRecord);
        return stored;
      }
      if (failed?.why === 'numbers taken') reserved = undefined;
      if (attempt >= maxAttempts)
        throw new StateBusyError(
          `${attempt} attempts to append ${pending.length} audit events failed: the state table throttled or did not answer`,
        );
      await sleep(fullJitterDelay(attempt - 1, WRITE_RETRY_BACKOFF, random));
    }
  }

  /**
   * One write of `records`: undefined when it was stored, else why not and the hash the chain's
   * head holds now. Throws what trying again cannot fix.
   */
  async #attempt(
    base: ReturnType<AuditHead['tail']>,
    records: readonly AuditRecord[],
  ): Promise<{ why: 'retry' | 'numbers taken'; head: string | undefined } | undefined> {
    const { clock } = this.#options;
    const deadline = deadlineSignal(
      clock,
      ATTEMPT_MS,
      new AbortController().signal,
      () => new StateBusyError(`the audit write had no answer within ${ATTEMPT_MS} ms`),
    );
    try {
      await this.#table.transact(chainTransaction(this.#table.name, this.#head.chain, base, records), {
        conflictRetries: 0,
        signal: deadline.signal,
      });
      return undefined;
    } catch (error) {
      const codes = cancellationCodes(error) ?? [];
      const refused = codes.some((c) => c === 'ConditionalCheckFailed' || c === 'TransactionConflict');
      // The same transaction (same token) still being applied from an attempt given up on.
      const inProgress = (error as { name?: unknown }).name === 'TransactionInProgressException';
      if (!refused && !inProgress && !(error instanceof StateBusyError) && !deadline.signal.aborted)
        throw error;
      if (refused) this.#conflicts += 1;
      const head = await this.#table.get(chainKey(this.#head.chain));
      // A record's number already used: the sequence was set back (a restored table); take new ones.
      const numbersTaken = codes.slice(0, -1).includes('ConditionalCheckFailed');
      return {
        why: numbersTaken ? 'numbers taken' : 'retry',
        head: typeof head?.hash === 'string' ? head.hash : undefined,
      };
    } finally {
      deadline.cancel();
    }
  }

  /**
   * The cross-anchor this batch starts with, when one is due: at the chain's first batch, then at
   * most every {@link ANCHOR_EVERY_MS}, when there are other chains to name (the heads cannot be
   * read: none this time).
   */
  async #anchorDue(): Promise<(AuditEvent & { at: string }) | undefined> {
    const at = this.#options.now();
    if (this.#anchorCheckedAt !== undefined && at - this.#anchorCheckedAt < ANCHOR_EVERY_MS) return undefined;
    const first = this.#anchorCheckedAt === undefined;
    this.#anchorCheckedAt = at;
    try {
      const heads = await readChainHeads(this.#table, this.#head.chain, at);
      if (heads.length === 0) return undefined;
      return {
        action: CHAINS_ANCHORED,
        outcome: 'success',
        actor: 'opsbot',
        at: new Date(at).toISOString(),
        details: { chains: heads.length, heads: formatHeads(heads), ...(first ? { started: true } : {}) },
      };
    } catch {
      this.#anchorCheckedAt = undefined;
      return undefined;
    }
  }
}
