import { donePk, pendingPk, summaryOf } from './dynamodb-outbox-items.js';
import { type Item, type StateTable, sortable } from './dynamodb-table.js';
import { TALLY_PAGE } from './limits.js';
import { legacySummary } from './outbox-legacy.js';
import { yieldToLoop } from './outbox-tally.js';
import type { OutboxSummary } from './state.js';

/** What tallies and histories read of each item: its key, when it was enqueued, its summary. */
const TALLY_PROJECTION = {
  ProjectionExpression: '#pk, #sk, #created, #sv, #grp, #kind, #title, #at',
  names: {
    '#pk': 'pk',
    '#sk': 'sk',
    '#created': 'createdAt',
    '#sv': 'sv',
    '#grp': 'grp',
    '#kind': 'kind',
    '#title': 'title',
    '#at': 'at',
  },
} as const;

/** An item of a topic as the newest-first walk yields it: done or not, with its summary. */
export interface TopicRow {
  row: Item;
  done: boolean;
  summary: OutboxSummary | undefined;
}

/**
 * One page of a partition's items enqueued at or after `since`, newest first (done items: only
 * those `liveAt` has not expired), optionally projected to a few attributes.
 */
function newestPage(
  pk: string,
  since: number,
  liveAt: number | undefined,
  start: Record<string, unknown> | undefined,
  limit: number,
  projection?: { ProjectionExpression: string; names: Readonly<Record<string, string>> },
) {
  return {
    KeyConditionExpression: '#pk = :pk AND #sk >= :from',
    ...(projection ? { ProjectionExpression: projection.ProjectionExpression } : {}),
    ...(liveAt === undefined ? {} : { FilterExpression: '#exp > :now' }),
    ExpressionAttributeNames: {
      '#pk': 'pk',
      '#sk': 'sk',
      ...projection?.names,
      ...(liveAt === undefined ? {} : { '#exp': 'expiresAtMs' }),
    },
    ExpressionAttributeValues: {
      ':pk': pk,
      ':from': sortable(Math.floor(since)),
      ...(liveAt === undefined ? {} : { ':now': liveAt }),
    },
    ScanIndexForward: false,
    Limit: limit,
    ExclusiveStartKey: start,
  };
}

/** Newest first, from `pk`, items created at or after `since`, at most `limit` (paginated Query). */
export async function newest(
  table: StateTable,
  pk: string,
  since: number,
  limit: number,
  liveAt?: number,
): Promise<Item[]> {
  const rows: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await table.query(
      newestPage(pk, since, liveAt, start, Math.min(1_000, limit - rows.length)),
    );
    for (const row of page.Items ?? []) if (Number(row.createdAt) >= since) rows.push(row);
    start = page.LastEvaluatedKey;
  } while (start && rows.length < limit);
  return rows.slice(0, limit);
}

/**
 * The items of `pk` enqueued at or after `since`, newest first, projected to what a tally reads,
 * a page of {@link TALLY_PAGE} at a time (done ones: only those `liveAt` has not expired).
 */
async function* projected(
  table: StateTable,
  pk: string,
  since: number,
  liveAt?: number,
): AsyncGenerator<Item> {
  let start: Record<string, unknown> | undefined;
  do {
    const page = await table.query(newestPage(pk, since, liveAt, start, TALLY_PAGE, TALLY_PROJECTION));
    for (const row of page.Items ?? []) if (Number(row.createdAt) >= since) yield row;
    start = page.LastEvaluatedKey;
    await yieldToLoop();
  } while (start);
}

/**
 * The items of `topic` enqueued at or after `since`, done or not (done ones: live at `at`), newest
 * first (both partitions merged by sort key), at most `limit`, each with its summary: from its
 * attributes, or, for an item stored before summaries existed, from its payload (one GetItem).
 */
export async function* newestOfTopic(
  table: StateTable,
  topic: string,
  since: number,
  limit: number,
  at: number,
): AsyncGenerator<TopicRow> {
  const sources = [
    { rows: projected(table, pendingPk(topic), since), done: false, next: undefined as Item | undefined },
    { rows: projected(table, donePk(topic), since, at), done: true, next: undefined as Item | undefined },
  ];
  try {
    for (const source of sources) source.next = (await source.rows.next()).value ?? undefined;
    for (let n = 0; n < limit; n++) {
      const [open, done] = sources as [(typeof sources)[0], (typeof sources)[0]];
      const source =
        open.next && (!done.next || String(open.next.sk) > String(done.next.sk))
          ? open
          : done.next
            ? done
            : undefined;
      if (!source?.next) return;
      const row = source.next;
      source.next = (await source.rows.next()).value ?? undefined;
      yield { row, done: source.done, summary: await summaryOfRow(table, row) };
    }
  } finally {
    await Promise.all(sources.map((source) => source.rows.return(undefined)));
  }
}

/** A projected row's summary: its attributes, or for an item stored before summaries, its payload's. */
async function summaryOfRow(table: StateTable, row: Item): Promise<OutboxSummary | undefined> {
  if (row.sv !== undefined) return summaryOf(row);
  const full = await table.get({ pk: String(row.pk), sk: String(row.sk) });
  return full ? legacySummary(String(full.payload)) : undefined;
}
