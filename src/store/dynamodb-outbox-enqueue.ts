import { donePk, idKey, pendingPk, retention, summaryToAttributes } from './dynamodb-outbox-items.js';
import type { OutboxPlaces } from './dynamodb-outbox-places.js';
import { cancellationCodes, outboxSortKey, type StateTable } from './dynamodb-table.js';
import type { NewOutboxItem } from './state.js';

/**
 * One TransactWriteItems: the id item (absent, or done and past retention) and the item, under its
 * topic's partition, or its done partition when enqueued done (a record, kept and refused again as
 * long as a completed item). False when the id is taken.
 */
export async function enqueueItem(
  table: StateTable,
  places: OutboxPlaces,
  item: NewOutboxItem,
  at: number,
): Promise<boolean> {
  const sk = outboxSortKey(at, item.id);
  const kept = retention(at);
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
              ...(item.done ? { done: true, ...kept } : {}),
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
              ...(item.done ? { doneAt: at, ...kept } : { rev: 0 }),
              sv: 1,
              ...summaryToAttributes(item.summary),
            },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': 'pk' },
          },
        },
      ],
    });
  } catch (error) {
    if (cancellationCodes(error)?.includes('ConditionalCheckFailed')) return false;
    throw error;
  }
  if (!item.done) places.remember(item.id, { topic: item.topic, sk });
  return true;
}
