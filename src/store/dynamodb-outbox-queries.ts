import { donePk, pendingPk, toItem } from './dynamodb-outbox-items.js';
import { newest, newestOfTopic } from './dynamodb-outbox-pages.js';
import type { StateTable } from './dynamodb-table.js';
import { MAX_RECENT } from './limits.js';
import { TallyCounter } from './outbox-tally.js';
import type { OutboxItem, OutboxTally } from './state.js';

/** `pending` stops counting here (a backlog this long is answered as this number). */
export const MAX_PENDING_COUNT = 10_000;

/** A COUNT Query of the topic's items not done (paginated; stops at {@link MAX_PENDING_COUNT}). */
export async function countPending(table: StateTable, topic: string): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await table.query({
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'pk' },
      ExpressionAttributeValues: { ':pk': pendingPk(topic) },
      Select: 'COUNT',
      ExclusiveStartKey: start,
    });
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start && count < MAX_PENDING_COUNT);
  return Math.min(count, MAX_PENDING_COUNT);
}

/** Two Queries (items not done, done items live at `at`), newest first, merged. */
export async function recentItems(
  table: StateTable,
  topic: string,
  sinceMs: number,
  limit: number,
  at: number,
): Promise<Array<OutboxItem & { done: boolean }>> {
  const [open, done] = await Promise.all([
    newest(table, pendingPk(topic), sinceMs, limit),
    newest(table, donePk(topic), sinceMs, limit, at),
  ]);
  return [
    ...open.map((row) => ({ sk: String(row.sk), item: { ...toItem(row), done: false } })),
    ...done.map((row) => ({ sk: String(row.sk), item: { ...toItem(row), done: true } })),
  ]
    .sort((a, b) => (a.sk < b.sk ? 1 : a.sk > b.sk ? -1 : 0))
    .slice(0, limit)
    .map((entry) => entry.item);
}

/**
 * Queries of both partitions, newest first, projected to the summary attributes (no payload
 * is returned), a page at a time, merged and counted as they arrive.
 */
export async function tallyTopic(
  table: StateTable,
  topic: string,
  sinceMs: number,
  limit: number,
  at: number,
): Promise<OutboxTally> {
  const counter = new TallyCounter();
  for await (const { done, summary } of newestOfTopic(table, topic, sinceMs, limit, at)) {
    if (summary) counter.add(summary, done);
    else counter.skip();
  }
  return counter.result();
}

/**
 * Among the {@link MAX_RECENT} newest items of the topic (projected, as a tally reads them),
 * the group's, ordered by `at`; then one GetItem per item returned (live at `now()`), for its payload.
 */
export async function groupHistory(
  table: StateTable,
  topic: string,
  group: string,
  sinceMs: number,
  limit: number,
  now: () => number,
): Promise<Array<OutboxItem & { done: boolean }>> {
  const found: Array<{ key: { pk: string; sk: string }; at: number; done: boolean }> = [];
  for await (const { row, done, summary } of newestOfTopic(table, topic, sinceMs, MAX_RECENT, now())) {
    if (summary?.group !== group) continue;
    found.push({ key: { pk: String(row.pk), sk: String(row.sk) }, at: summary.at, done });
    // Newest enqueued first, so a stable sort keeps them first among equal `at`.
    if (found.length >= 4 * limit) found.sort((a, b) => b.at - a.at).splice(limit);
  }
  found.sort((a, b) => b.at - a.at).splice(limit);
  const at = now();
  const items = await Promise.all(found.map(({ key }) => table.get(key)));
  return items.flatMap((row, i) =>
    row && (row.expiresAtMs === undefined || Number(row.expiresAtMs) > at)
      ? [{ ...toItem(row), done: (found[i] as (typeof found)[number]).done }]
      : [],
  );
}
