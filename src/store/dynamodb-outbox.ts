import { type Claim, OutboxPlaces, type Place } from './dynamodb-outbox-places.js';
import {
  cancellationCodes,
  type Item,
  isConditionFailed,
  keyPart,
  ONLY,
  outboxSortKey,
  type StateTable,
  sortable,
  ttlSeconds,
} from './dynamodb-table.js';
import {
  checkClaim,
  checkKey,
  checkOutboxItem,
  checkTime,
  checkTopicQuery,
  DONE_RETENTION_MS,
  MAX_CLAIM,
  MAX_OUTBOX_PAYLOAD_BYTES,
  MAX_RECENT,
  TALLY_PAGE,
} from './limits.js';
import { legacySummary } from './outbox-legacy.js';
import { TallyCounter, yieldToLoop } from './outbox-tally.js';
import type { OutboxItem, OutboxStore, OutboxSummary } from './state.js';

/** Items a claim reads in its first query page (then twice as many per page, up to 100). */
const FIRST_PAGE = 8;
const MAX_PAGE = 100;
/** Most query pages one claim reads looking for due items among ones not due or held by others. */
const MAX_CLAIM_PAGES = 20;
/** `pending` stops counting here (a backlog this long is answered as this number). */
export const MAX_PENDING_COUNT = 10_000;
function toItem(row: Item): OutboxItem {
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
function summaryAttributes(row: Item): Item {
  const picked: Item = {};
  for (const name of SUMMARY_ATTRIBUTES) if (row[name] !== undefined) picked[name] = row[name];
  return picked;
}

function summaryOf(row: Item): OutboxSummary | undefined {
  if (typeof row.grp !== 'string' || typeof row.kind !== 'string') return undefined;
  return {
    group: row.grp,
    kind: row.kind,
    title: typeof row.title === 'string' ? row.title : '',
    at: Number(row.at),
  };
}

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

const pendingPk = (topic: string) => keyPart('outbox', topic);
const donePk = (topic: string) => keyPart('outbox-done', topic);
const idKey = (id: string) => ({ pk: keyPart('outbox-id', id), sk: ONLY });

/**
 * The outbox on DynamoDB (key layout: src/store/dynamodb.ts). Items not done sit under their topic
 * ordered by `createdAt` (oldest first without a scan); `complete` moves an item to the topic's done
 * partition (kept {@link DONE_RETENTION_MS}, then TTL deletes it), so claims and counts never read
 * done items. An `outbox-id#<id>` item makes enqueue idempotent and maps an id to its item.
 *
 * As on SQLite: an item is due once `availableAt <= now()`; a claim is live while
 * `now() < claimExpiresAt`; the last owner to claim an item may still complete or release it after
 * its claim expired, as long as nobody claimed it since. Every change to an item not done adds 1 to
 * its `rev`, and each write is conditional on the `rev` it read, so no item goes to two live claims.
 */
export function createDynamoOutbox(table: StateTable, now: () => number): OutboxStore {
  const places = new OutboxPlaces(now);

  /** Where item `id` is while not done: remembered, else from its id item (1 GetItem); undefined when done or absent. */
  const locate = async (id: string): Promise<Place | undefined> => {
    const known = places.recall(id);
    if (known) return known;
    const ref = await table.get(idKey(id));
    if (!ref || ref.done === true || typeof ref.itemSk !== 'string') return undefined;
    const place = { topic: String(ref.topic), sk: ref.itemSk };
    places.remember(id, place);
    return place;
  };

  /** One conditional UpdateItem: takes `row` for `owner` unless it changed since it was read. */
  const take = async (row: Item, owner: string, claimExpiresAt: number): Promise<boolean> => {
    const rev = Number(row.rev);
    try {
      await table.update({
        Key: { pk: row.pk as string, sk: row.sk as string },
        UpdateExpression: 'SET #owner = :owner, #cx = :cx, #rev = :next',
        ConditionExpression: '#rev = :rev',
        ExpressionAttributeNames: { '#owner': 'claimOwner', '#cx': 'claimExpiresAt', '#rev': 'rev' },
        ExpressionAttributeValues: { ':owner': owner, ':cx': claimExpiresAt, ':rev': rev, ':next': rev + 1 },
      });
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
    const item = toItem(row);
    places.remember(
      item.id,
      { topic: item.topic, sk: row.sk as string },
      { owner, rev: rev + 1, item, summary: summaryAttributes(row) },
    );
    return true;
  };

  /**
   * One TransactWriteItems: deletes the item if `owner` holds it at revision `rev`, puts its done
   * copy, and starts the retention of both it and its id item. False when the condition failed.
   */
  const finish = async (
    { topic, sk }: Place,
    { owner, rev, item, summary }: Claim,
    at: number,
  ): Promise<boolean> => {
    const expiresAtMs = at + DONE_RETENTION_MS;
    const retention = { expiresAtMs, expiresAt: ttlSeconds(expiresAtMs) };
    try {
      await table.transact({
        TransactItems: [
          {
            Delete: {
              TableName: table.name,
              Key: { pk: pendingPk(topic), sk },
              ConditionExpression: '#owner = :owner AND #rev = :rev',
              ExpressionAttributeNames: { '#owner': 'claimOwner', '#rev': 'rev' },
              ExpressionAttributeValues: { ':owner': owner, ':rev': rev },
            },
          },
          {
            Put: {
              TableName: table.name,
              Item: { pk: donePk(topic), sk, ...item, ...summary, doneAt: at, ...retention },
            },
          },
          {
            Update: {
              TableName: table.name,
              Key: idKey(item.id),
              UpdateExpression: 'SET #done = :done, #expMs = :expMs, #exp = :exp',
              ConditionExpression: '#itemSk = :sk',
              ExpressionAttributeNames: {
                '#done': 'done',
                '#expMs': 'expiresAtMs',
                '#exp': 'expiresAt',
                '#itemSk': 'itemSk',
              },
              ExpressionAttributeValues: {
                ':done': true,
                ':expMs': retention.expiresAtMs,
                ':exp': retention.expiresAt,
                ':sk': sk,
              },
            },
          },
        ],
      });
      return true;
    } catch (error) {
      if (cancellationCodes(error)?.includes('ConditionalCheckFailed')) return false;
      throw error;
    }
  };

  /** One conditional UpdateItem: gives the item back if `owner` made the latest claim on it. */
  const giveBack = async (at: Place, owner: string, availableAt: number): Promise<boolean> => {
    try {
      await table.update({
        Key: { pk: pendingPk(at.topic), sk: at.sk },
        UpdateExpression:
          'SET #attempts = #attempts + :one, #avail = :avail, #rev = #rev + :one REMOVE #owner, #cx',
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: {
          '#attempts': 'attempts',
          '#avail': 'availableAt',
          '#rev': 'rev',
          '#owner': 'claimOwner',
          '#cx': 'claimExpiresAt',
        },
        ExpressionAttributeValues: { ':one': 1, ':avail': availableAt, ':owner': owner },
      });
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  };

  /** Newest first, from `pk`, items created at or after `since`, at most `limit` (paginated Query). */
  const newest = async (pk: string, since: number, limit: number, liveAt?: number): Promise<Item[]> => {
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
  };

  /**
   * The items of `pk` enqueued at or after `since`, newest first, projected to what a tally reads,
   * a page of {@link TALLY_PAGE} at a time (done ones: only those `liveAt` has not expired).
   */
  async function* projected(pk: string, since: number, liveAt?: number): AsyncGenerator<Item> {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await table.query(newestPage(pk, since, liveAt, start, TALLY_PAGE, TALLY_PROJECTION));
      for (const row of page.Items ?? []) if (Number(row.createdAt) >= since) yield row;
      start = page.LastEvaluatedKey;
      await yieldToLoop();
    } while (start);
  }

  /**
   * The items of `topic` enqueued at or after `since`, done or not, newest first (both partitions
   * merged by sort key), at most `limit`, each with its summary: from its attributes, or, for an
   * item stored before summaries existed, from its payload (one GetItem).
   */
  async function* newestOfTopic(
    topic: string,
    since: number,
    limit: number,
  ): AsyncGenerator<{ row: Item; done: boolean; summary: OutboxSummary | undefined }> {
    const at = now();
    const sources = [
      { rows: projected(pendingPk(topic), since), done: false, next: undefined as Item | undefined },
      { rows: projected(donePk(topic), since, at), done: true, next: undefined as Item | undefined },
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
        let summary = summaryOf(row);
        if (row.sv === undefined) {
          const full = await table.get({ pk: String(row.pk), sk: String(row.sk) });
          summary = full ? legacySummary(String(full.payload)) : undefined;
        }
        yield { row, done: source.done, summary };
      }
    } finally {
      await Promise.all(sources.map((source) => source.rows.return(undefined)));
    }
  }

  return {
    /** One TransactWriteItems: the id item (absent, or done and past retention) and the item. */
    async enqueue(item) {
      checkOutboxItem(item, MAX_OUTBOX_PAYLOAD_BYTES);
      const at = now();
      const sk = outboxSortKey(at, item.id);
      const summary = item.summary;
      // A record (done from the start) is kept, and refused again, as long as a completed item.
      const expiresAtMs = at + DONE_RETENTION_MS;
      const retention = { expiresAtMs, expiresAt: ttlSeconds(expiresAtMs) };
      try {
        await table.transact({
          TransactItems: [
            {
              Put: {
                TableName: table.name,
                Item: {
                  ...idKey(item.id),
                  id: item.id,
                  topic: item.topic,
                  itemSk: sk,
                  ...(item.done ? { done: true, ...retention } : {}),
                },
                ConditionExpression: 'attribute_not_exists(#pk) OR #exp <= :now',
                ExpressionAttributeNames: { '#pk': 'pk', '#exp': 'expiresAtMs' },
                ExpressionAttributeValues: { ':now': at },
              },
            },
            {
              Put: {
                TableName: table.name,
                Item: {
                  pk: item.done ? donePk(item.topic) : pendingPk(item.topic),
                  sk,
                  id: item.id,
                  topic: item.topic,
                  payload: item.payload,
                  attempts: 0,
                  createdAt: at,
                  availableAt: item.availableAt ?? at,
                  ...(item.done ? { doneAt: at, ...retention } : { rev: 0 }),
                  sv: 1,
                  ...(summary
                    ? { grp: summary.group, kind: summary.kind, title: summary.title, at: summary.at }
                    : {}),
                },
                ConditionExpression: 'attribute_not_exists(#pk)',
                ExpressionAttributeNames: { '#pk': 'pk' },
              },
            },
          ],
        });
        if (!item.done) places.remember(item.id, { topic: item.topic, sk });
        return true;
      } catch (error) {
        if (cancellationCodes(error)?.includes('ConditionalCheckFailed')) return false;
        throw error;
      }
    },

    /**
     * A Query of the topic's items not done, oldest first, filtered to the due (and, without
     * `takeOver`, unclaimed or expired) ones, then one conditional UpdateItem per item taken, the
     * next `limit` at once; an item someone else took first is skipped.
     */
    async claim(topic, owner, limit, leaseMs, options) {
      checkClaim(topic, owner, limit, leaseMs, MAX_CLAIM);
      const at = now();
      const takeOver = options?.takeOver === true;
      const taken: OutboxItem[] = [];
      let start: Record<string, unknown> | undefined;
      for (let page = 0; page < MAX_CLAIM_PAGES && taken.length < limit; page++) {
        const result = await table.query({
          KeyConditionExpression: '#pk = :pk',
          FilterExpression: takeOver
            ? '#avail <= :now'
            : '#avail <= :now AND (attribute_not_exists(#cx) OR #cx <= :now)',
          ExpressionAttributeNames: {
            '#pk': 'pk',
            '#avail': 'availableAt',
            ...(takeOver ? {} : { '#cx': 'claimExpiresAt' }),
          },
          ExpressionAttributeValues: { ':pk': pendingPk(topic), ':now': at },
          Limit: Math.min(MAX_PAGE, Math.max(limit, FIRST_PAGE) * 2 ** page),
          ExclusiveStartKey: start,
        });
        const due = result.Items ?? [];
        while (due.length > 0 && taken.length < limit) {
          const batch = due.splice(0, limit - taken.length);
          const won = await Promise.all(batch.map((row) => take(row, owner, at + leaseMs)));
          for (const [i, row] of batch.entries()) if (won[i]) taken.push(toItem(row));
        }
        start = result.LastEvaluatedKey;
        if (!start) break;
      }
      return taken;
    },

    /**
     * One TransactWriteItems when this process made the claim; else a GetItem of the item (where
     * this process saw it, or where its id item says: one more GetItem) and, if `owner` holds it,
     * the TransactWriteItems.
     */
    async complete(id, owner) {
      checkKey('outbox id', id);
      checkKey('outbox owner', owner);
      const at = now();
      const known = places.recall(id);
      if (known?.claim?.owner === owner && (await finish(known, known.claim, at))) {
        places.forget(id);
        return true;
      }
      const where = await locate(id);
      if (!where) return false;
      const row = await table.get({ pk: pendingPk(where.topic), sk: where.sk });
      if (!row) places.forget(id); // done since
      if (!row || row.claimOwner !== owner) return false;
      const done = await finish(
        where,
        { owner, rev: Number(row.rev), item: toItem(row), summary: summaryAttributes(row) },
        at,
      );
      if (done) places.forget(id);
      return done;
    },

    /** One conditional UpdateItem where the item is (a GetItem of its id item first, if this process never saw it). */
    async release(id, owner, availableAt) {
      checkKey('outbox id', id);
      checkKey('outbox owner', owner);
      checkTime('outbox availableAt', availableAt);
      const where = await locate(id);
      if (!where || !(await giveBack(where, owner, availableAt))) return false;
      places.remember(id, where);
      return true;
    },

    /** A COUNT Query of the topic's items not done (paginated; stops at {@link MAX_PENDING_COUNT}). */
    async pending(topic) {
      checkKey('outbox topic', topic);
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
    },

    /** Two Queries (items not done, done items within retention), newest first, merged. */
    async recent(topic, sinceMs, limit) {
      checkTopicQuery('recent', topic, sinceMs, limit);
      const at = now();
      const [open, done] = await Promise.all([
        newest(pendingPk(topic), sinceMs, limit),
        newest(donePk(topic), sinceMs, limit, at),
      ]);
      return [
        ...open.map((row) => ({ sk: String(row.sk), item: { ...toItem(row), done: false } })),
        ...done.map((row) => ({ sk: String(row.sk), item: { ...toItem(row), done: true } })),
      ]
        .sort((a, b) => (a.sk < b.sk ? 1 : a.sk > b.sk ? -1 : 0))
        .slice(0, limit)
        .map((entry) => entry.item);
    },

    /**
     * Queries of both partitions, newest first, projected to the summary attributes (no payload
     * is returned), {@link TALLY_PAGE} items a page, merged and counted as they arrive.
     */
    async tally(topic, sinceMs, limit) {
      checkTopicQuery('tally', topic, sinceMs, limit);
      const counter = new TallyCounter();
      for await (const { done, summary } of newestOfTopic(topic, sinceMs, limit)) {
        if (summary) counter.add(summary, done);
        else counter.skip();
      }
      return counter.result();
    },

    /**
     * Among the {@link MAX_RECENT} newest items of the topic (projected, as a tally reads them),
     * the group's, ordered by `at`; then one GetItem per item returned, for its payload.
     */
    async history(topic, group, sinceMs, limit) {
      checkTopicQuery('history', topic, sinceMs, limit, group);
      const found: Array<{ key: { pk: string; sk: string }; at: number; done: boolean }> = [];
      for await (const { row, done, summary } of newestOfTopic(topic, sinceMs, MAX_RECENT)) {
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
    },
  };
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
