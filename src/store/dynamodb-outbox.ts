import { OutboxClaims } from './dynamodb-outbox-claims.js';
import { enqueueItem } from './dynamodb-outbox-enqueue.js';
import { OutboxPlaces } from './dynamodb-outbox-places.js';
import { countPending, groupHistory, recentItems, tallyTopic } from './dynamodb-outbox-queries.js';
import type { StateTable } from './dynamodb-table.js';
import {
  checkClaim,
  checkKey,
  checkOutboxItem,
  checkTime,
  checkTopicQuery,
  DONE_RETENTION_MS,
  MAX_CLAIM,
  MAX_OUTBOX_PAYLOAD_BYTES,
} from './limits.js';
import { checkOutboxMove } from './outbox-move.js';
import type { OutboxStore } from './state.js';

export { MAX_PENDING_COUNT } from './dynamodb-outbox-queries.js';

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
 *
 * The parts: enqueue (dynamodb-outbox-enqueue.ts), claim/complete/move/release
 * (dynamodb-outbox-claims.ts), counts, lists, tallies and histories (dynamodb-outbox-queries.ts,
 * over the newest-first pages of dynamodb-outbox-pages.ts); the items and keys they share are in
 * dynamodb-outbox-items.ts. This function checks the inputs and reads the time.
 */
export function createDynamoOutbox(table: StateTable, now: () => number): OutboxStore {
  const places = new OutboxPlaces(now);
  const claims = new OutboxClaims(table, places);
  return {
    async enqueue(item) {
      checkOutboxItem(item, MAX_OUTBOX_PAYLOAD_BYTES);
      return enqueueItem(table, places, item, now());
    },
    async claim(topic, owner, limit, leaseMs, options) {
      checkClaim(topic, owner, limit, leaseMs, MAX_CLAIM);
      const at = now();
      return claims.claim(topic, owner, limit, at + leaseMs, at, options?.takeOver === true);
    },
    async complete(id, owner) {
      checkKey('outbox id', id);
      checkKey('outbox owner', owner);
      return claims.complete(id, owner, now());
    },
    async release(id, owner, availableAt) {
      checkKey('outbox id', id);
      checkKey('outbox owner', owner);
      checkTime('outbox availableAt', availableAt);
      return claims.release(id, owner, availableAt);
    },
    async move(id, owner, to) {
      checkOutboxMove(id, owner, to);
      return claims.move(id, owner, to, now());
    },
    async pending(topic) {
      checkKey('outbox topic', topic);
      return countPending(table, topic);
    },
    async recent(topic, sinceMs, limit) {
      checkTopicQuery('recent', topic, sinceMs, limit);
      return recentItems(table, topic, sinceMs, limit, now());
    },
    async tally(topic, sinceMs, limit) {
      checkTopicQuery('tally', topic, sinceMs, limit);
      return tallyTopic(table, topic, sinceMs, limit, now());
    },
    async history(topic, group, sinceMs, limit) {
      checkTopicQuery('history', topic, sinceMs, limit, group);
      return groupHistory(table, topic, group, sinceMs, limit, now);
    },
  };
}
