import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BackoffPolicy,
  cappedExponentialDelay,
  DEFAULT_BACKOFF,
  equalJitterDelay,
  fullJitterDelay,
  jitteredInterval,
} from '../../../src/time/backoff.js';

/** Any policy: a base of 1 ms to a minute, a cap from the base up to a day. */
const policies = fc
  .tuple(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 0, max: 86_400_000 }))
  .map(([baseMs, extra]): BackoffPolicy => ({ baseMs, capMs: baseMs + extra }));
const attempts = fc.integer({ min: 0, max: 1_000 });
const randoms = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
/** min(cap, base × 2^n), written out (exact: both are below 2^53 for n ≤ 30). */
const ceiling = (n: number, p: BackoffPolicy) => Math.min(p.capMs, p.baseMs * 2 ** Math.min(n, 30));

describe('cappedExponentialDelay', () => {
  it('is min(cap, base × 2^n), never more than the cap', () => {
    fc.assert(
      fc.property(attempts, policies, (n, policy) => {
        const delay = cappedExponentialDelay(n, policy);
        expect(delay).toBe(ceiling(n, policy));
        expect(delay).toBeLessThanOrEqual(policy.capMs);
        expect(delay).toBeGreaterThanOrEqual(Math.min(policy.baseMs, policy.capMs));
      }),
    );
  });

  it('never falls from one attempt to the next, and stays at the cap once there', () => {
    fc.assert(
      fc.property(attempts, policies, (n, policy) => {
        const now = cappedExponentialDelay(n, policy);
        const next = cappedExponentialDelay(n + 1, policy);
        expect(next).toBeGreaterThanOrEqual(now);
        if (now === policy.capMs) expect(next).toBe(policy.capMs);
        else expect(next).toBe(Math.min(policy.capMs, now * 2));
      }),
    );
  });

  it('counts a negative attempt as 0 and rounds a fraction down', () => {
    expect(cappedExponentialDelay(-3, DEFAULT_BACKOFF)).toBe(1_000);
    expect(cappedExponentialDelay(2.9, DEFAULT_BACKOFF)).toBe(4_000);
    expect([0, 1, 5, 6, 7].map((n) => cappedExponentialDelay(n, DEFAULT_BACKOFF))).toEqual([
      1_000, 2_000, 32_000, 60_000, 60_000,
    ]);
  });
});

describe('every jittered delay, for any policy', () => {
  it('lies in [0, min(cap, base × 2^n)] (full jitter) or [half of it, it] (equal jitter)', () => {
    fc.assert(
      fc.property(attempts, policies, randoms, (n, policy, r) => {
        const top = ceiling(n, policy);
        const full = fullJitterDelay(n, policy, () => r);
        expect(Number.isInteger(full)).toBe(true);
        expect(full).toBeGreaterThanOrEqual(0);
        expect(full).toBeLessThanOrEqual(top);
        const equal = equalJitterDelay(n, policy, () => r);
        expect(Number.isInteger(equal)).toBe(true);
        expect(equal).toBeGreaterThanOrEqual(Math.floor(top / 2));
        expect(equal).toBeLessThanOrEqual(top);
      }),
    );
  });

  it('has a ceiling that never falls as attempts grow (same random draw, later attempt: no shorter wait)', () => {
    fc.assert(
      fc.property(attempts, attempts, policies, randoms, (a, b, policy, r) => {
        const [early, late] = a <= b ? [a, b] : [b, a];
        expect(fullJitterDelay(late, policy, () => r)).toBeGreaterThanOrEqual(
          fullJitterDelay(early, policy, () => r),
        );
        expect(equalJitterDelay(late, policy, () => r)).toBeGreaterThanOrEqual(
          equalJitterDelay(early, policy, () => r),
        );
      }),
    );
  });
});

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

describe('equalJitterDelay', () => {
  it('waits half to all of min(60 s, 1 s × 2^attempt)', () => {
    expect(equalJitterDelay(0, DEFAULT_BACKOFF, () => 0)).toBe(500);
    expect(equalJitterDelay(0, DEFAULT_BACKOFF, () => 0.999_999_9)).toBe(1_000);
    expect(equalJitterDelay(3, DEFAULT_BACKOFF, () => 0.5)).toBe(6_000);
    expect(equalJitterDelay(40, DEFAULT_BACKOFF, () => 0)).toBe(30_000);
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
