import { isConditionFailed, keyPart, ONLY, type StateTable, ttlSeconds } from './dynamodb-table.js';
import { checkDuration, checkKey } from './limits.js';
import type { LeaseStore } from './state.js';

/**
 * Named leases on DynamoDB: one item per lease (`lease#<name>`) holding its owner and expiry. A
 * lease is held while `now() < expiresAtMs`; an expired item (not yet deleted by TTL) is free.
 */
export function createDynamoLeases(table: StateTable, now: () => number): LeaseStore {
  const names = { '#pk': 'pk', '#owner': 'owner', '#exp': 'expiresAtMs' };
  return {
    /** One conditional PutItem: it succeeds when the lease is free, expired, or already `owner`'s. */
    async acquire(name, owner, ttlMs) {
      checkKey('lease name', name);
      checkKey('lease owner', owner);
      checkDuration('lease ttlMs', ttlMs);
      const at = now();
      const expiresAt = at + ttlMs;
      try {
        await table.put({
          Item: {
            pk: keyPart('lease', name),
            sk: ONLY,
            name,
            owner,
            expiresAtMs: expiresAt,
            expiresAt: ttlSeconds(expiresAt),
          },
          ConditionExpression: 'attribute_not_exists(#pk) OR #owner = :owner OR #exp <= :now',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':owner': owner, ':now': at },
        });
        return { name, owner, expiresAt };
      } catch (error) {
        if (isConditionFailed(error)) return undefined;
        throw error;
      }
    },

    /** One conditional DeleteItem: only the live holder's. */
    async release(name, owner) {
      checkKey('lease name', name);
      checkKey('lease owner', owner);
      try {
        await table.delete({
          Key: { pk: keyPart('lease', name), sk: ONLY },
          ConditionExpression: '#owner = :owner AND #exp > :now',
          ExpressionAttributeNames: { '#owner': 'owner', '#exp': 'expiresAtMs' },
          ExpressionAttributeValues: { ':owner': owner, ':now': now() },
        });
        return true;
      } catch (error) {
        if (isConditionFailed(error)) return false;
        throw error;
      }
    },
  };
}
