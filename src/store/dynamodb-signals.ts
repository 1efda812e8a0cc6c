import { ONLY, type StateTable } from './dynamodb-table.js';
import { checkKey } from './limits.js';
import { MAX_SIGNAL_KEYS, type SignalStore } from './state.js';

/** The one item holding every counter: attribute `s:<key>` per key. */
const KEY = { pk: 'signals', sk: ONLY };
const PREFIX = 's:';

/**
 * Work signals on DynamoDB: one item, one number attribute per key. `bump` is one UpdateItem with
 * `ADD` (atomic, no condition, so concurrent bumps never conflict); `read` is one GetItem.
 */
export function createDynamoSignals(table: StateTable): SignalStore {
  return {
    async bump(key) {
      checkKey('signal key', key);
      await table.update({
        Key: KEY,
        UpdateExpression: 'ADD #k :one',
        ExpressionAttributeNames: { '#k': `${PREFIX}${key}` },
        ExpressionAttributeValues: { ':one': 1 },
      });
    },
    async read() {
      const item = await table.get(KEY);
      const counters = new Map<string, number>();
      for (const [name, value] of Object.entries(item ?? {})) {
        if (!name.startsWith(PREFIX) || typeof value !== 'number') continue;
        counters.set(name.slice(PREFIX.length), value);
        if (counters.size >= MAX_SIGNAL_KEYS) break;
      }
      return counters;
    },
  };
}
