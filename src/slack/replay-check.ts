import type { DedupeStore } from '../store/state.js';
import type { RecentSignatures } from './recent-signatures.js';

/**
 * Has this verified Slack signature been seen before (a replay)? In this process's memory first
 * (answers at once, synchronously: no promise, no timer on the hot path); in the shared State only when other replicas share it (a replay could reach
 * another replica), or when memory is full. A single process (SQLite) writes nothing per request.
 */
export function replayCheck(deps: {
  recent: RecentSignatures;
  dedupe: DedupeStore;
  /** State.shared: other processes use the same store. */
  shared: boolean;
  ttlMs: number;
}): (signature: string) => boolean | Promise<boolean> {
  return (signature) => {
    const local = deps.recent.check(signature);
    if (local === 'seen') return true;
    if (local === 'new' && !deps.shared) return false;
    return deps.dedupe.putIfAbsent(`slack-signature:${signature}`, deps.ttlMs).then((stored) => !stored);
  };
}
