import type { AuditRecord, UnreadableAuditRecord } from './records.js';

/** A row of the audit table: the indexed columns, and the record as JSON. */
export interface StoredRow {
  seq: number;
  at: string;
  actor: string;
  action: string;
  record: string;
}

/** The outcomes opsbot writes: a stored record with another is unreadable. */
export const OUTCOMES: ReadonlySet<unknown> = new Set<AuditRecord['outcome']>([
  'success',
  'denied',
  'error',
  'intent',
]);
const HASH = /^[0-9a-f]{64}$/;

/**
 * Reads a row back as a record, checking every field's type, or says why it cannot: a row someone
 * broke by hand (invalid JSON, a number where text belongs) is reported, never thrown. `mismatch`
 * is set when the indexed columns say something else than the record (queries filter on them).
 */
export function readStoredRow(
  row: StoredRow,
): { record: AuditRecord; mismatch?: string } | UnreadableAuditRecord {
  const unreadable = (why: string): UnreadableAuditRecord => ({
    seq: Number(row.seq),
    at: String(row.at ?? ''),
    actor: String(row.actor ?? ''),
    action: String(row.action ?? ''),
    unreadable: why,
  });
  let data: unknown;
  try {
    data = JSON.parse(row.record);
  } catch {
    return unreadable('its record is not valid JSON');
  }
  const problem = typeProblem(data);
  if (problem) return unreadable(problem);
  const record = data as AuditRecord;
  const differs = (['seq', 'at', 'actor', 'action'] as const).filter((k) => record[k] !== row[k]);
  return differs.length > 0
    ? { record, mismatch: `its indexed columns (${differs.join(', ')}) differ from the hashed record` }
    : { record };
}

function typeProblem(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return 'its record is not a JSON object';
  const r = data as Record<string, unknown>;
  if (!Number.isSafeInteger(r.seq)) return 'its seq is not a whole number';
  for (const field of ['at', 'actor', 'action'] as const)
    if (typeof r[field] !== 'string') return `its ${field} is not text`;
  if (typeof r.outcome !== 'string' || !OUTCOMES.has(r.outcome))
    return 'its outcome is not one opsbot writes';
  if (typeof r.prevHash !== 'string' || !HASH.test(r.prevHash)) return 'its prevHash is not a hash';
  if (typeof r.hash !== 'string' || !HASH.test(r.hash)) return 'its hash is not a hash';
  if (r.keyVersion !== undefined && typeof r.keyVersion !== 'string') return 'its keyVersion is not text';
  const details = r.details;
  if (typeof details !== 'object' || details === null || Array.isArray(details))
    return 'its details are not an object';
  for (const [name, value] of Object.entries(details)) {
    if (!['string', 'number', 'boolean'].includes(typeof value))
      return `its detail "${name.slice(0, 40)}" is not text, a number or a boolean`;
  }
  return undefined;
}

/** A record that cannot be read, shaped as a record for lists (its hash is empty: it has none). */
export function unreadableAsRecord(row: UnreadableAuditRecord): AuditRecord {
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
