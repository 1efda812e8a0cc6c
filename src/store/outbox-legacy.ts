import type { OutboxSummary } from './state.js';

/**
 * Outbox items stored before summaries existed. Until then the outbox held only the Datadog
 * webhook's alerts (`QueuedAlert` JSON: `{"alert": {monitorId, transition, title, at, …}, "channel"}`),
 * so their summaries can be read from their payloads, once: SQLite fills its new columns with
 * {@link LEGACY_SUMMARY_SQL} when it adds them, DynamoDB reads an item without a summary version
 * through {@link legacySummary} when a tally or a history meets it. An alert stored with channel
 * `''` was routed nowhere: nobody works on it, so it is a record, made done (and so forgotten
 * after the retention) like the ones stored since.
 */

/** The SQL expressions, on column `payload`, of the four summary columns (NULL when not an alert). */
const IS_ALERT = `json_valid(payload)
  AND json_type(payload, '$.alert.monitorId') = 'text'
  AND json_type(payload, '$.alert.transition') = 'text'
  AND json_type(payload, '$.alert.title') = 'text'
  AND json_type(payload, '$.alert.at') IN ('integer', 'real')`;
export const LEGACY_SUMMARY_SQL = `UPDATE outbox SET
  grp = CASE WHEN ${IS_ALERT} THEN json_extract(payload, '$.alert.monitorId') END,
  kind = CASE WHEN ${IS_ALERT} THEN json_extract(payload, '$.alert.transition') END,
  title = CASE WHEN ${IS_ALERT} THEN json_extract(payload, '$.alert.title') END,
  at = CASE WHEN ${IS_ALERT} THEN json_extract(payload, '$.alert.at') END`;
/** Legacy unrouted alerts become done as of when they arrived. */
export const LEGACY_UNROUTED_SQL = `UPDATE outbox SET done_at = created_at, claim_owner = NULL, claim_expires_at = NULL
  WHERE done_at IS NULL AND json_valid(payload) AND json_type(payload, '$.channel') = 'text'
  AND json_extract(payload, '$.channel') = '' AND json_type(payload, '$.alert') = 'object'`;

/** The summary of a legacy alert payload, as {@link LEGACY_SUMMARY_SQL} reads it; undefined when not an alert. */
export function legacySummary(payload: string): OutboxSummary | undefined {
  let alert: unknown;
  try {
    alert = (JSON.parse(payload) as { alert?: unknown } | null)?.alert;
  } catch {
    return undefined;
  }
  if (typeof alert !== 'object' || alert === null) return undefined;
  const { monitorId, transition, title, at } = alert as Record<string, unknown>;
  if (typeof monitorId !== 'string' || typeof transition !== 'string' || typeof title !== 'string')
    return undefined;
  if (typeof at !== 'number' || !Number.isFinite(at)) return undefined;
  return { group: monitorId, kind: transition, title, at };
}
