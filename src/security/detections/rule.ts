import type { AuditBrief, AuditRecord } from '../../audit/records.js';
import type { Detection } from '../detection.js';

/**
 * What a rule is given: a record's brief (seq, time, actor, action, outcome), or the whole record
 * when a rule {@link AuditRule.wants} it. Only a whole record has `details`.
 */
export type TrailRecord = AuditBrief & { details?: AuditRecord['details'] };

/**
 * One detection rule over the audit stream. `learn` sees the trail's history at start (nothing is
 * reported from it: a restart must not re-flag what was seen before); `check` sees each new record
 * once, in sequence order, and returns what it found (usually nothing).
 *
 * The tail reads the trail as briefs: a rule that reads more of a record than its brief (its
 * `details`) says so in `wants`, asked with the rule's state as it is right before `learn` or
 * `check` of that record, and is then given the whole record. A rule without `wants` must find the
 * same in a brief as in the whole record.
 */
export interface AuditRule {
  readonly name: string;
  /** Whether `learn` or `check` of this record, next, would read more than its brief. No side effects. */
  wants?(brief: AuditBrief): boolean;
  learn?(record: TrailRecord): void;
  check(record: TrailRecord): Detection[] | Promise<Detection[]>;
}

/** A Slack user id: what a person is in the trail (`opsbot` and principals are not people). */
export const PERSON = /^[UW][A-Z0-9]{2,20}$/;

/** At most 50 sequence numbers of evidence, oldest first (the Detection's bound). */
export function evidenceOf(seqs: readonly number[]): number[] {
  return [...seqs].sort((a, b) => a - b).slice(0, 50);
}

/** A record's time in epoch ms (NaN-safe: an unreadable time counts as 0). */
export function timeOf(record: Pick<AuditRecord, 'at'>): number {
  const t = Date.parse(record.at);
  return Number.isFinite(t) ? t : 0;
}

/** A duration in words for a title: `10 minutes`, `1 hour`, `90 seconds`. */
export function spoken(ms: number): string {
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (ms % 3_600_000 === 0) return unit(ms / 3_600_000, 'hour');
  if (ms % 60_000 === 0) return unit(ms / 60_000, 'minute');
  return unit(Math.round(ms / 1_000), 'second');
}
