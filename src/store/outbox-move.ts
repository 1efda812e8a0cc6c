import { checkBytes, checkKey, MAX_OUTBOX_PAYLOAD_BYTES } from './limits.js';
import type { OutboxMove } from './state.js';

/**
 * Throws a RangeError unless a move (`OutboxStore.move`) names an item and its owner, and a topic,
 * a payload within the outbox's bound and, if given, a boolean `done`: the same for every store.
 */
export function checkOutboxMove(id: string, owner: string, to: OutboxMove): void {
  checkKey('outbox id', id);
  checkKey('outbox owner', owner);
  if (typeof to !== 'object' || to === null) throw new RangeError('outbox move must be an object');
  checkKey('outbox topic', to.topic);
  checkBytes('outbox payload', to.payload, MAX_OUTBOX_PAYLOAD_BYTES);
  if (to.done !== undefined && typeof to.done !== 'boolean')
    throw new RangeError('outbox done must be true or false');
}
