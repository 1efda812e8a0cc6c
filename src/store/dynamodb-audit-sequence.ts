import { SEQ_KEY } from './dynamodb-audit-items.js';
import type { StateTable } from './dynamodb-table.js';

/**
 * Room left after the single chain's end when a trail moves to writer chains: a replica of the
 * version before (a rolling deployment keeps one running for a while) goes on numbering the single
 * chain from its end, and must find those numbers free. The unused ones are a gap readers skip.
 */
export const SHARED_CHAIN_ROOM = 100_000;

/**
 * Reserves `count` sequence numbers for a batch of records: one UpdateItem adding to the counter
 * every writer numbers from (no condition, so writers never lose to each other; DynamoDB orders
 * the additions). The first reservation on a table starts after the single chain's end (plus
 * {@link SHARED_CHAIN_ROOM} when there is one). Returns them in ascending order.
 */
export async function reserveSeqs(table: StateTable, count: number, sharedEnd: number): Promise<number[]> {
  const out = await table.update({
    Key: SEQ_KEY,
    UpdateExpression: 'SET #next = if_not_exists(#next, :start) + :count',
    ExpressionAttributeNames: { '#next': 'next' },
    ExpressionAttributeValues: {
      ':start': sharedEnd > 0 ? sharedEnd + SHARED_CHAIN_ROOM : 0,
      ':count': count,
    },
    ReturnValues: 'UPDATED_NEW',
  });
  const last = Number(out.Attributes?.next);
  if (!Number.isSafeInteger(last) || last < count)
    throw new Error(`the audit sequence returned ${String(out.Attributes?.next)}, not a number`);
  return Array.from({ length: count }, (_, i) => last - count + 1 + i);
}
