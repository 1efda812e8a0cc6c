import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDELIVERY_BACKOFF } from '../../../src/alerts/dispatcher.js';
import { SOCKET_BACKOFF } from '../../../src/slack/socket-receiver.js';
import { BUSY_BACKOFF } from '../../../src/store/sqlite-db.js';
import { cappedExponentialDelay, equalJitterDelay, jitteredInterval } from '../../../src/time/backoff.js';

/**
 * Each place that had a formula of its own now names a policy for the shared one: same bases, same
 * caps, the same wait for every attempt as the formula it replaced (written out here as it was).
 */
const attempts = fc.integer({ min: 0, max: 10_000 });
const randoms = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('the named backoff policies wait exactly as the formulas they replaced', () => {
  it('an alert that could not be shown: 1 s × 2^attempts, the exponent stopping at 8 (256 s)', () => {
    fc.assert(
      fc.property(attempts, (n) => {
        expect(cappedExponentialDelay(n, REDELIVERY_BACKOFF)).toBe(
          Math.min(300_000, 1_000 * 2 ** Math.min(n, 8)),
        );
      }),
    );
    expect([0, 1, 8, 9, 50].map((n) => cappedExponentialDelay(n, REDELIVERY_BACKOFF))).toEqual([
      1_000, 2_000, 256_000, 256_000, 256_000,
    ]);
  });

  it('a locked SQLite database: 1 ms, doubling, at most 50 ms', () => {
    fc.assert(
      fc.property(attempts, (n) => {
        expect(cappedExponentialDelay(n, BUSY_BACKOFF)).toBe(Math.min(50, 2 ** n));
      }),
    );
  });

  it('a Socket Mode reconnect after failure n: half to all of min(60 s, 1 s × 2^(n-1))', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), randoms, (failures, r) => {
        const ceiling = Math.min(60_000, 1_000 * 2 ** Math.min(failures - 1, 30));
        expect(equalJitterDelay(failures - 1, SOCKET_BACKOFF, () => r)).toBe(
          Math.round(ceiling / 2 + (r * ceiling) / 2),
        );
      }),
    );
  });

  it("a start waiting for the user's start lock: 250 ms × (0.5 + jitter)", () => {
    fc.assert(
      fc.property(randoms, (r) => {
        expect(jitteredInterval(250, 0.5, () => r)).toBe(Math.round(250 * (0.5 + r)));
      }),
    );
  });
});
