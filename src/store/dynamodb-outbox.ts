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
import { checkClaim, checkKey, checkOutboxItem, checkTime } from './limits.js';
import { DONE_RETENTION_MS, MAX_CLAIM, MAX_OUTBOX_PAYLOAD_BYTES, MAX_RECENT } from './sqlite-outbox.js';
import type { OutboxItem, OutboxStore } from './state.js';

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
    places.remember(item.id, { topic: item.topic, sk: row.sk as string }, { owner, rev: rev + 1, item });
    return true;
  };

  /**
   * One TransactWriteItems: deletes the item if `owner` holds it at revision `rev`, puts its done
   * copy, and starts the retention of both it and its id item. False when the condition failed.
   */
  const finish = async ({ topic, sk }: Place, { owner, rev, item }: Claim, at: number): Promise<boolean> => {
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
              Item: { pk: donePk(topic), sk, ...item, doneAt: at, ...retention },
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
      const page = await table.query({
        KeyConditionExpression: '#pk = :pk AND #sk >= :from',
        ...(liveAt === undefined ? {} : { FilterExpression: '#exp > :now' }),
        ExpressionAttributeNames: {
          '#pk': 'pk',
          '#sk': 'sk',
          ...(liveAt === undefined ? {} : { '#exp': 'expiresAtMs' }),
        },
        ExpressionAttributeValues: {
          ':pk': pk,
          ':from': sortable(Math.floor(since)),
          ...(liveAt === undefined ? {} : { ':now': liveAt }),
        },
        ScanIndexForward: false,
        Limit: Math.min(1_000, limit - rows.length),
        ExclusiveStartKey: start,
      });
      for (const row of page.Items ?? []) if (Number(row.createdAt) >= since) rows.push(row);
      start = page.LastEvaluatedKey;
    } while (start && rows.length < limit);
    return rows.slice(0, limit);
  };

  return {
    /** One TransactWriteItems: the id item (absent, or done and past retention) and the item. */
    async enqueue(item) {
      checkOutboxItem(item, MAX_OUTBOX_PAYLOAD_BYTES);
      const at = now();
      const sk = outboxSortKey(at, item.id);
      try {
        await table.transact({
          TransactItems: [
            {
              Put: {
                TableName: table.name,
                Item: { ...idKey(item.id), id: item.id, topic: item.topic, itemSk: sk },
                ConditionExpression: 'attribute_not_exists(#pk) OR #exp <= :now',
                ExpressionAttributeNames: { '#pk': 'pk', '#exp': 'expiresAtMs' },
                ExpressionAttributeValues: { ':now': at },
              },
            },
            {
              Put: {
                TableName: table.name,
                Item: {
                  pk: pendingPk(item.topic),
                  sk,
                  id: item.id,
                  topic: item.topic,
                  payload: item.payload,
                  attempts: 0,
                  createdAt: at,
                  availableAt: item.availableAt ?? at,
                  rev: 0,
                },
                ConditionExpression: 'attribute_not_exists(#pk)',
                ExpressionAttributeNames: { '#pk': 'pk' },
              },
            },
          ],
        });
        places.remember(item.id, { topic: item.topic, sk });
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
      const done = await finish(where, { owner, rev: Number(row.rev), item: toItem(row) }, at);
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
      checkKey('outbox topic', topic);
      checkTime('outbox since', sinceMs);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RECENT)
        throw new RangeError(`outbox recent limit must be an integer from 1 to ${MAX_RECENT}`);
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
  };
}
