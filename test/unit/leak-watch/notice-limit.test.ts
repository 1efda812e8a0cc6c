import { describe, expect, it } from 'vitest';
import { NoticeLimit } from '../../../src/leak-watch/notice-limit.js';
import type { DedupeStore } from '../../../src/store/state.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** A dedupe store in memory with the contract's semantics (put-if-absent with a TTL). */
function memoryDedupe(clock: FakeClock): DedupeStore {
  const keys = new Map<string, number>();
  return {
    async putIfAbsent(key, ttlMs) {
      const until = keys.get(key);
      if (until !== undefined && until > clock.now()) return false;
      keys.set(key, clock.now() + ttlMs);
      return true;
    },
  };
}

describe('NoticeLimit', () => {
  it('lets three notices a minute through per author and channel, then the next minute three more', async () => {
    const clock = new FakeClock();
    const dedupe = memoryDedupe(clock);
    const limit = new NoticeLimit(dedupe, clock);
    const taken = [];
    for (let i = 0; i < 5; i++) taken.push(await limit.take('U1', 'C1'));
    expect(taken).toEqual([true, true, true, false, false]);
    expect(await limit.take('U2', 'C1')).toBe(true);
    expect(await limit.take('U1', 'C2')).toBe(true);
    clock.advance(60_000);
    expect(await limit.take('U1', 'C1')).toBe(true);
  });

  it('counts across replicas through the shared store', async () => {
    const clock = new FakeClock();
    const dedupe = memoryDedupe(clock);
    const a = new NoticeLimit(dedupe, clock);
    const b = new NoticeLimit(dedupe, clock);
    const taken = [
      await a.take('U1', 'C1'),
      await b.take('U1', 'C1'),
      await a.take('U1', 'C1'),
      await b.take('U1', 'C1'),
    ];
    expect(taken).toEqual([true, true, true, false]);
  });
});
