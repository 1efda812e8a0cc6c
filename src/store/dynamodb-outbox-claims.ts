import { donePk, idKey, pendingPk, retention, summaryAttributes, toItem } from './dynamodb-outbox-items.js';
import type { Claim, OutboxPlaces, Place } from './dynamodb-outbox-places.js';
import { cancellationCodes, type Item, isConditionFailed, type StateTable } from './dynamodb-table.js';
import type { OutboxItem, OutboxMove } from './state.js';

/** Items a claim reads in its first query page (then twice as many per page, up to 100). */
const FIRST_PAGE = 8;
const MAX_PAGE = 100;
/** Most query pages one claim reads looking for due items among ones not due or held by others. */
const MAX_CLAIM_PAGES = 20;

/**
 * Claiming, completing, moving and releasing outbox items (inputs already checked). Every change to an item
 * not done adds 1 to its `rev`, and each write is conditional on the `rev` it read, so no item goes
 * to two live claims; where this process last saw each item is kept in `places` (a saved read).
 */
export class OutboxClaims {
  readonly #table: StateTable;
  readonly #places: OutboxPlaces;

  constructor(table: StateTable, places: OutboxPlaces) {
    this.#table = table;
    this.#places = places;
  }

  /**
   * A Query of the topic's items not done, oldest first, filtered to the due (and, without
   * `takeOver`, unclaimed or expired) ones, then one conditional UpdateItem per item taken, the
   * next `limit` at once; an item someone else took first is skipped.
   */
  async claim(
    topic: string,
    owner: string,
    limit: number,
    claimExpiresAt: number,
    at: number,
    takeOver: boolean,
  ) {
    const taken: OutboxItem[] = [];
    let start: Record<string, unknown> | undefined;
    let pageSize = Math.min(MAX_PAGE, Math.max(limit, FIRST_PAGE));
    for (let page = 0; page < MAX_CLAIM_PAGES && taken.length < limit; page++) {
      const result = await this.#table.query({
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
        Limit: pageSize,
        ExclusiveStartKey: start,
      });
      pageSize = Math.min(MAX_PAGE, pageSize * 2);
      const due = result.Items ?? [];
      while (due.length > 0 && taken.length < limit) {
        const batch = due.splice(0, limit - taken.length);
        const won = await Promise.all(batch.map((row) => this.#take(row, owner, claimExpiresAt)));
        for (const [i, row] of batch.entries()) if (won[i]) taken.push(toItem(row));
      }
      start = result.LastEvaluatedKey;
      if (!start) break;
    }
    return taken;
  }

  /**
   * One TransactWriteItems when this process made the claim; else a GetItem of the item (where
   * this process saw it, or where its id item says: one more GetItem) and, if `owner` holds it,
   * the TransactWriteItems.
   */
  complete(id: string, owner: string, at: number): Promise<boolean> {
    return this.#settle(id, owner, at, (claim) => ({
      topic: claim.item.topic,
      payload: claim.item.payload,
      done: true,
    }));
  }

  /** As {@link complete}, to `to` (a pending item under its topic, or done there). */
  move(id: string, owner: string, to: OutboxMove, at: number): Promise<boolean> {
    return this.#settle(id, owner, at, () => to);
  }

  /** Finds the item `owner` holds (the claim this process remembers first) and transfers it. */
  async #settle(
    id: string,
    owner: string,
    at: number,
    target: (claim: Claim) => OutboxMove,
  ): Promise<boolean> {
    const known = this.#places.recall(id);
    if (known?.claim?.owner === owner) {
      const moved = await this.#transfer(known, known.claim, target(known.claim), at);
      if (moved) {
        this.#settled(id, moved);
        return true;
      }
    }
    const where = await this.#locate(id);
    if (!where) return false;
    const row = await this.#table.get({ pk: pendingPk(where.topic), sk: where.sk });
    if (!row) this.#places.forget(id); // done or moved since
    if (!row || row.claimOwner !== owner) return false;
    const claim = { owner, rev: Number(row.rev), item: toItem(row), summary: summaryAttributes(row) };
    const moved = await this.#transfer(where, claim, target(claim), at);
    if (moved) this.#settled(id, moved);
    return moved !== undefined;
  }

  /** Where a transferred item is now: remembered while not done (unclaimed), forgotten once done. */
  #settled(id: string, moved: Place | 'done'): void {
    if (moved === 'done') this.#places.forget(id);
    else this.#places.remember(id, moved);
  }

  /** One conditional UpdateItem where the item is (a GetItem of its id item first, if this process never saw it). */
  async release(id: string, owner: string, availableAt: number): Promise<boolean> {
    const where = await this.#locate(id);
    if (!where || !(await this.#giveBack(where, owner, availableAt))) return false;
    this.#places.remember(id, where);
    return true;
  }

  /** Where item `id` is while not done: remembered, else from its id item (1 GetItem); undefined when done or absent. */
  async #locate(id: string): Promise<Place | undefined> {
    const known = this.#places.recall(id);
    if (known) return known;
    const ref = await this.#table.get(idKey(id));
    if (!ref || ref.done === true || typeof ref.itemSk !== 'string') return undefined;
    const place = { topic: String(ref.topic), sk: ref.itemSk };
    this.#places.remember(id, place);
    return place;
  }

  /** One conditional UpdateItem: takes `row` for `owner` unless it changed since it was read. */
  async #take(row: Item, owner: string, claimExpiresAt: number): Promise<boolean> {
    const rev = Number(row.rev);
    try {
      await this.#table.update({
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
    const claim = { owner, rev: rev + 1, item, summary: summaryAttributes(row) };
    this.#places.remember(item.id, { topic: item.topic, sk: row.sk as string }, claim);
    return true;
  }

  /**
   * One TransactWriteItems: deletes the item if `owner` holds it at revision `rev`, puts it under
   * `to.topic` with `to.payload` (same sort key: its enqueue time and id), done there (starting the
   * retention of both it and its id item) or pending, unclaimed and due at `at`, and points its id
   * item there. Undefined when the condition failed.
   */
  async #transfer(
    { topic, sk }: Place,
    { owner, rev, item, summary }: Claim,
    to: OutboxMove,
    at: number,
  ): Promise<Place | 'done' | undefined> {
    const kept = retention(at);
    const t = this.#table.name;
    const moved = { ...item, topic: to.topic, payload: to.payload, ...summary };
    const names: Record<string, string> = { '#topic': 'topic', '#itemSk': 'itemSk' };
    const values: Record<string, unknown> = { ':topic': to.topic, ':sk': sk };
    if (to.done) {
      Object.assign(names, { '#done': 'done', '#expMs': 'expiresAtMs', '#exp': 'expiresAt' });
      Object.assign(values, { ':done': true, ':expMs': kept.expiresAtMs, ':exp': kept.expiresAt });
    }
    try {
      await this.#table.transact({
        TransactItems: [
          {
            Delete: {
              TableName: t,
              Key: { pk: pendingPk(topic), sk },
              ConditionExpression: '#owner = :owner AND #rev = :rev',
              ExpressionAttributeNames: { '#owner': 'claimOwner', '#rev': 'rev' },
              ExpressionAttributeValues: { ':owner': owner, ':rev': rev },
            },
          },
          {
            Put: {
              TableName: t,
              Item: to.done
                ? { pk: donePk(to.topic), sk, ...moved, doneAt: at, ...kept }
                : { pk: pendingPk(to.topic), sk, ...moved, availableAt: at, rev: 0 },
            },
          },
          {
            Update: {
              TableName: t,
              Key: idKey(item.id),
              UpdateExpression: to.done
                ? 'SET #topic = :topic, #done = :done, #expMs = :expMs, #exp = :exp'
                : 'SET #topic = :topic',
              ConditionExpression: '#itemSk = :sk',
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            },
          },
        ],
      });
      return to.done ? 'done' : { topic: to.topic, sk };
    } catch (error) {
      if (cancellationCodes(error)?.includes('ConditionalCheckFailed')) return undefined;
      throw error;
    }
  }

  /** One conditional UpdateItem: gives the item back if `owner` made the latest claim on it. */
  async #giveBack(at: Place, owner: string, availableAt: number): Promise<boolean> {
    try {
      await this.#table.update({
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
  }
}
