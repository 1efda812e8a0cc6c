import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { abortable, deadlineSignal } from '../time/deadline.js';
import type { AuditHead } from './dynamodb-audit-head.js';
import { PROBE_KEY } from './dynamodb-audit-items.js';
import type { StateTable } from './dynamodb-table.js';

/** The readiness probe gives up after this long (on the store's clock). */
export const PROBE_MS = 500;

/**
 * Whether the audit trail can be written: a conditional PutItem of the probe item (and the head
 * read, if not yet done), both within {@link PROBE_MS} on `clock`; the PutItem is cancelled then.
 * Never rejects.
 */
export async function probeWritable(
  table: StateTable,
  head: AuditHead,
  clock: Clock,
  now: () => number,
): Promise<boolean> {
  const token = randomUUID();
  const deadline = deadlineSignal(
    clock,
    PROBE_MS,
    new AbortController().signal,
    () => new Error(`the audit probe had no answer within ${PROBE_MS} ms`),
  );
  const probe = async () => {
    await table.put(
      {
        Item: { ...PROBE_KEY, token, at: new Date(now()).toISOString() },
        ConditionExpression: 'attribute_not_exists(#token) OR #token <> :token',
        ExpressionAttributeNames: { '#token': 'token' },
        ExpressionAttributeValues: { ':token': token },
      },
      { signal: deadline.signal },
    );
    await head.ensure();
  };
  try {
    await abortable(probe(), deadline.signal);
    return true;
  } catch {
    return false;
  } finally {
    deadline.cancel();
  }
}
