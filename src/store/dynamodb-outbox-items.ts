import { type Item, keyPart, ONLY, ttlSeconds } from './dynamodb-table.js';
import { DONE_RETENTION_MS } from './limits.js';
import type { OutboxItem, OutboxSummary } from './state.js';

/** The partition of a topic's items not done. */
export const pendingPk = (topic: string) => keyPart('outbox', topic);
/** The partition of a topic's done items (kept {@link DONE_RETENTION_MS}). */
export const donePk = (topic: string) => keyPart('outbox-done', topic);
/** The item that maps an id to its item and makes enqueue idempotent. */
export const idKey = (id: string) => ({ pk: keyPart('outbox-id', id), sk: ONLY });

/** The expiry of what is done at `at`: in ms (what reads check) and in seconds (DynamoDB's TTL). */
export function retention(at: number): { expiresAtMs: number; expiresAt: number } {
  const expiresAtMs = at + DONE_RETENTION_MS;
  return { expiresAtMs, expiresAt: ttlSeconds(expiresAtMs) };
}

export function toItem(row: Item): OutboxItem {
  return {
    id: String(row.id),
    topic: String(row.topic),
    payload: String(row.payload),
    attempts: Number(row.attempts),
    createdAt: Number(row.createdAt),
    availableAt: Number(row.availableAt),
  };
}

/**
 * An item's summary (`OutboxStore.enqueue`) is kept in attributes `grp`, `kind`, `title`, `at`, and
 * `sv` (1) marks an item stored since summaries exist, with or without one: an item without `sv`
 * is older, and its summary is read from its payload (see outbox-legacy.ts).
 */
const SUMMARY_ATTRIBUTES = ['sv', 'grp', 'kind', 'title', 'at'] as const;

/** The summary attributes of an item as stored (to carry them to its done copy). */
export function summaryAttributes(row: Item): Item {
  const picked: Item = {};
  for (const name of SUMMARY_ATTRIBUTES) if (row[name] !== undefined) picked[name] = row[name];
  return picked;
}

/** The summary attributes to store for `summary` (none without one). */
export function summaryToAttributes(summary: OutboxSummary | undefined): Item {
  return summary ? { grp: summary.group, kind: summary.kind, title: summary.title, at: summary.at } : {};
}

export function summaryOf(row: Item): OutboxSummary | undefined {
  if (typeof row.grp !== 'string' || typeof row.kind !== 'string') return undefined;
  return {
    group: row.grp,
    kind: row.kind,
    title: typeof row.title === 'string' ? row.title : '',
    at: Number(row.at),
  };
}
