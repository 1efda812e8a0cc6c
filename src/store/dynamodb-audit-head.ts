import type { ChainTail } from '../audit/chain.js';
import type { AuditAnchor } from '../audit/records.js';
import { HEAD_KEY, toTail } from './dynamodb-audit-items.js';
import type { StateTable } from './dynamodb-table.js';

/**
 * This process's view of the audit chain's head: where the next batch is chained (read from the
 * table once, then followed as batches are written, read again after a failed write), and the last
 * record it knows of (read or written), which `head()` returns and `verify()` must reach.
 */
export class AuditHead {
  readonly #table: StateTable;
  /** Where the next batch is chained: undefined until the head is read (again, after a failed write). */
  #tail: ChainTail | undefined;
  #loading: Promise<ChainTail> | undefined;
  #known: (AuditAnchor & { keyVersion?: string }) | undefined;

  constructor(table: StateTable) {
    this.#table = table;
  }

  /** The tail to chain after: as known, else read from the table (one read shared by concurrent callers). */
  ensure(): Promise<ChainTail> {
    if (this.#tail) return Promise.resolve(this.#tail);
    this.#loading ??= this.read().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  /** Reads the stored head (strongly consistent) and chains after it from now on. */
  async read(): Promise<ChainTail> {
    const head = toTail(await this.#table.get(HEAD_KEY));
    this.learn(head);
    return head;
  }

  /** `next` is the head now (a batch was written after it, or it was read). */
  learn(next: ChainTail): void {
    this.#tail = next;
    if (next.seq > 0 && next.seq >= (this.#known?.seq ?? 0))
      this.#known = {
        seq: next.seq,
        hash: next.hash,
        ...(next.keyVersion ? { keyVersion: next.keyVersion } : {}),
      };
  }

  /** The next batch starts from the stored head (whatever happened to the last write). */
  forget(): void {
    this.#tail = undefined;
  }

  /** The last record this process knows of, if any (a copy). */
  known(): (AuditAnchor & { keyVersion?: string }) | undefined {
    return this.#known && { ...this.#known };
  }
}
