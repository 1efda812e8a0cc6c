import type { AuditRecord } from '../../audit/records.js';
import type { Detection } from '../detection.js';

/**
 * One detection rule over the audit stream. `learn` sees the trail's history at start (nothing is
 * reported from it: a restart must not re-flag what was seen before); `check` sees each new record
 * once, in sequence order, and returns what it found (usually nothing).
 */
export interface AuditRule {
  readonly name: string;
  learn?(record: AuditRecord): void;
  check(record: AuditRecord): Detection[] | Promise<Detection[]>;
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
