import { isConditionFailed, keyPart, ONLY, type StateTable, ttlSeconds } from './dynamodb-table.js';
import { checkDuration, checkKey } from './limits.js';
import type { DedupeStore } from './state.js';

/**
 * The dedupe store on DynamoDB: one item per key (`dedupe#<key>`), written by a conditional put
 * that succeeds when the key is absent or expired (`expiresAtMs <= now`: DynamoDB's TTL deletes
 * late, so an expired item may still be there). A put that finds a live key changes nothing.
 */
export function createDynamoDedupe(table: StateTable, now: () => number): DedupeStore {
  return {
    /** One conditional PutItem: of any number of concurrent puts of a key, exactly one succeeds. */
    async putIfAbsent(key, ttlMs) {
      checkKey('dedupe key', key);
      checkDuration('dedupe ttlMs', ttlMs);
      const at = now();
      try {
        await table.put({
          Item: {
            pk: keyPart('dedupe', key),
            sk: ONLY,
            key,
            expiresAtMs: at + ttlMs,
            expiresAt: ttlSeconds(at + ttlMs),
          },
          ConditionExpression: 'attribute_not_exists(#pk) OR #exp <= :now',
          ExpressionAttributeNames: { '#pk': 'pk', '#exp': 'expiresAtMs' },
          ExpressionAttributeValues: { ':now': at },
        });
        return true;
      } catch (error) {
        if (isConditionFailed(error)) return false;
        throw error;
      }
    },
  };
}
