import type { AuditBrief, AuditRecord } from '../../audit/records.js';
import type { AuditStore } from '../../store/state.js';
import type { TrailRecord } from './rule.js';

/** Most records read whole by one `readAfter`: a run of consecutive briefs the rules want. */
const MAX_RUN = 100;

/**
 * A page of briefs as the tail walks it, and the records among them the rules want whole, read on
 * demand: `whole(i)` reads the record of `briefs[i]` and, in the same `readAfter`, the consecutive
 * ones after it that `wants` (asked now) also says will be wanted. Whether a record is wanted is
 * decided at its own turn (a rule's state moves with each record), so the run read ahead is only a
 * guess: a record read whole that turns out not to be wanted is given whole all the same.
 */
export class WholeRecords {
  readonly #audit: Pick<AuditStore, 'readAfter'>;
  readonly #briefs: readonly AuditBrief[];
  readonly #wants: (brief: AuditBrief) => boolean;
  /** The records read whole so far, by sequence number (the last run's). */
  readonly #read = new Map<number, AuditRecord>();

  constructor(
    audit: Pick<AuditStore, 'readAfter'>,
    briefs: readonly AuditBrief[],
    wants: (brief: AuditBrief) => boolean,
  ) {
    this.#audit = audit;
    this.#briefs = briefs;
    this.#wants = wants;
  }

  /**
   * The record of `briefs[i]`, whole (an unreadable one as `readAfter` marks it). Should the row be
   * gone or hold another record by the time it is read (someone edited the file), the brief.
   */
  async whole(i: number): Promise<TrailRecord> {
    const brief = this.#briefs[i] as AuditBrief;
    const known = this.#read.get(brief.seq);
    if (known) return known;
    let run = 1;
    while (run < MAX_RUN && this.#continues(i, run)) run += 1;
    const records = await this.#audit.readAfter(brief.seq - 1, run);
    this.#read.clear();
    for (const [k, record] of records.entries()) {
      const expected = this.#briefs[i + k];
      if (expected && record.seq === expected.seq) this.#read.set(record.seq, record);
    }
    return this.#read.get(brief.seq) ?? brief;
  }

  /** Whether `briefs[i + run]` follows the run without a gap and looks wanted too. */
  #continues(i: number, run: number): boolean {
    const next = this.#briefs[i + run];
    return next !== undefined && next.seq === (this.#briefs[i] as AuditBrief).seq + run && this.#wants(next);
  }
}
