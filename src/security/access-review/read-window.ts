import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { AuditRecord } from '../../audit/records.js';
import type { AuditStore } from '../../store/state.js';

/** Records per `readAfter` page: small enough that reading and counting one holds the event loop briefly. */
const PAGE = 250;
/** Most records one review reads; a longer window is reviewed up to here, and says so. */
export const MAX_REVIEW_RECORDS = 1_000_000;

export interface WindowRead {
  /** The first and last sequence numbers read (undefined: the window holds no record). */
  from?: number;
  to?: number;
  records: number;
  /** The window holds more than `maxRecords`: the newest ones were not read. */
  truncated: boolean;
}

/**
 * Walks the trail's records at or after `sinceIso`, oldest first, to the newest, handing each to
 * `visit`: `firstSeqSince`, then `readAfter` pages of 250, giving the event loop a turn between
 * pages. At most `maxRecords` are read.
 */
export async function readWindow(
  audit: Pick<AuditStore, 'firstSeqSince' | 'readAfter'>,
  sinceIso: string,
  visit: (record: AuditRecord) => void,
  maxRecords = MAX_REVIEW_RECORDS,
): Promise<WindowRead> {
  const first = await audit.firstSeqSince(sinceIso);
  if (first === undefined) return { records: 0, truncated: false };
  let after = first - 1;
  let records = 0;
  let last: number | undefined;
  for (;;) {
    if (records >= maxRecords) return { from: first, to: last ?? first, records, truncated: true };
    const wanted = Math.min(PAGE, maxRecords - records);
    const page = await audit.readAfter(after, wanted);
    for (const record of page) {
      visit(record);
      records++;
      last = record.seq;
    }
    if (page.length < wanted) break;
    after = (page.at(-1) as AuditRecord).seq;
    await yieldToLoop();
  }
  if (last === undefined) return { records: 0, truncated: false };
  return { from: first, to: last, records, truncated: false };
}
