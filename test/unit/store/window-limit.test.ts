import { describe, expect, it } from 'vitest';
import type { DedupeStore } from '../../../src/store/state.js';
import { WindowLimit } from '../../../src/store/window-limit.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** A dedupe store in memory with the contract's semantics, counting its calls. */
function countingDedupe(clock: FakeClock): DedupeStore & { calls: number } {
  const keys = new Map<string, number>();
  const store = {
    calls: 0,
    async putIfAbsent(key: string, ttlMs: number) {
      store.calls += 1;
      const until = keys.get(key);
      if (until !== undefined && until > clock.now()) return false;
      keys.set(key, clock.now() + ttlMs);
      return true;
    },
  };
  return store;
}

describe('WindowLimit', () => {
  it('lets perWindow through per key and window, shared by every replica on one store', async () => {
    const clock = new FakeClock();
    const dedupe = countingDedupe(clock);
    const options = { prefix: 'p', perWindow: 2, windowMs: 1_000 };
    const a = new WindowLimit(dedupe, clock, options);
    const b = new WindowLimit(dedupe, clock, options);
    expect([await a.take('k'), await b.take('k'), await a.take('k'), await b.take('k')]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(await a.take('other')).toBe(true);
    clock.advance(1_000);
    expect(await b.take('k')).toBe(true);
  });

  it('a window found full costs no more store calls until it ends', async () => {
    const clock = new FakeClock();
    const dedupe = countingDedupe(clock);
    const limit = new WindowLimit(dedupe, clock, { prefix: 'p', perWindow: 3, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) await limit.take('k');
    expect(await limit.take('k')).toBe(false);
    const afterFull = dedupe.calls;
    for (let i = 0; i < 100; i++) expect(await limit.take('k')).toBe(false);
    expect(dedupe.calls).toBe(afterFull);
    clock.advance(60_000);
    expect(await limit.take('k')).toBe(true);
  });
});
