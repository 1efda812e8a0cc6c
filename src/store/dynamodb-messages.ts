import {
  failedItem,
  type Item,
  isConditionFailed,
  keyPart,
  ONLY,
  type StateTable,
  ttlSeconds,
} from './dynamodb-table.js';
import { checkDuration, checkKey, checkMessageRef, MAX_MESSAGE_DATA_BYTES } from './limits.js';
import type { MessageRef, MessageRefStore } from './state.js';

type NewRef = Omit<MessageRef, 'version'>;

/** Throws a RangeError unless the ref has a channel and ts and at most 32 KiB of string `data`. */
const checkRef = (ref: NewRef): void => checkMessageRef(ref, MAX_MESSAGE_DATA_BYTES);

function toRef(item: Item): MessageRef {
  const ref: MessageRef = {
    channel: String(item.channel),
    ts: String(item.ts),
    version: Number(item.version),
  };
  if (typeof item.data === 'string') ref.data = item.data;
  return ref;
}

const NAMES = { '#exp': 'expiresAtMs' };

/**
 * The message-ref store on DynamoDB: one item per key (`msg#<key>`). A ref is live while
 * `now() < expiresAtMs`, set by the put that created it; compare-and-set keeps the expiry. An
 * expired ref (still in the table until TTL deletes it) counts as absent everywhere.
 */
export function createDynamoMessages(table: StateTable, now: () => number): MessageRefStore {
  const keyOf = (key: string) => ({ pk: keyPart('msg', key), sk: ONLY });
  return {
    /** One GetItem; an expired item is absent. */
    async get(key) {
      checkKey('message key', key);
      const at = now();
      const item = await table.get(keyOf(key));
      return item && Number(item.expiresAtMs) > at ? toRef(item) : undefined;
    },

    /**
     * One conditional PutItem (absent or expired); when a live ref is there, DynamoDB returns it
     * with the refusal (ReturnValuesOnConditionCheckFailure), so losers see the winner's ref.
     */
    async putIfAbsent(key, ref, ttlMs) {
      checkKey('message key', key);
      checkRef(ref);
      checkDuration('message ttlMs', ttlMs);
      const at = now();
      const stored: MessageRef = { channel: ref.channel, ts: ref.ts, version: 1 };
      if (ref.data !== undefined) stored.data = ref.data;
      try {
        await table.put({
          Item: { ...keyOf(key), key, ...stored, expiresAtMs: at + ttlMs, expiresAt: ttlSeconds(at + ttlMs) },
          ConditionExpression: 'attribute_not_exists(#pk) OR #exp <= :now',
          ExpressionAttributeNames: { ...NAMES, '#pk': 'pk' },
          ExpressionAttributeValues: { ':now': at },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        });
        return { created: true, ref: stored };
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
        const live = failedItem(error) ?? (await table.get(keyOf(key)));
        if (!live) throw new Error(`message ref ${key} was refused as present, then read as absent`);
        return { created: false, ref: toRef(live) };
      }
    },

    /** One conditional UpdateItem on the live item's version. */
    async compareAndSet(key, expectedVersion, ref) {
      checkKey('message key', key);
      checkRef(ref);
      if (!Number.isSafeInteger(expectedVersion))
        throw new RangeError('message expectedVersion must be an integer');
      const values: Record<string, unknown> = {
        ':channel': ref.channel,
        ':ts': ref.ts,
        ':expected': expectedVersion,
        ':one': 1,
        ':now': now(),
      };
      if (ref.data !== undefined) values[':data'] = ref.data;
      try {
        const out = await table.update({
          Key: keyOf(key),
          UpdateExpression: `SET #channel = :channel, #ts = :ts, #version = #version + :one${ref.data === undefined ? ' REMOVE #data' : ', #data = :data'}`,
          ConditionExpression: '#version = :expected AND #exp > :now',
          ExpressionAttributeNames: {
            ...NAMES,
            '#channel': 'channel',
            '#ts': 'ts',
            '#version': 'version',
            '#data': 'data',
          },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        });
        return out.Attributes && toRef(out.Attributes);
      } catch (error) {
        if (isConditionFailed(error)) return undefined;
        throw error;
      }
    },
  };
}
