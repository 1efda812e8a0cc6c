import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, fullJitterDelay, jitteredInterval } from '../../../src/time/backoff.js';

describe('fullJitterDelay', () => {
  it('stays between 0 and min(60 s, 1 s × 2^attempt), in milliseconds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, r) => {
          const delay = fullJitterDelay(attempt, DEFAULT_BACKOFF, () => r);
          const ceiling = Math.min(60_000, 1_000 * 2 ** Math.min(attempt, 30));
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(ceiling);
        },
      ),
    );
  });

  it('doubles its ceiling from 1 s and caps at 60 s', () => {
    const ceilings = Array.from({ length: 9 }, (_, attempt) =>
      fullJitterDelay(attempt, DEFAULT_BACKOFF, () => 0.999_999_9),
    );
    expect(ceilings).toEqual([999, 1_999, 3_999, 7_999, 15_999, 31_999, 59_999, 59_999, 59_999]);
  });
});

describe('jitteredInterval', () => {
  it('spreads a poll interval by at most ±20%', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5_000, max: 86_400_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (ms, r) => {
          const delay = jitteredInterval(ms, 0.2, () => r);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(ms * 0.8));
          expect(delay).toBeLessThanOrEqual(Math.ceil(ms * 1.2));
        },
      ),
    );
    expect(jitteredInterval(60_000, 0.2, () => 0)).toBe(48_000);
    expect(jitteredInterval(60_000, 0.2, () => 0.5)).toBe(60_000);
  });
});
