import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoTime } from '../../../src/time/iso-time.js';

describe('isoTime', () => {
  it('answers what Date#toISOString does, asked in any order and again for the same millisecond', () => {
    const ms = fc.oneof(
      fc.integer({ min: 0, max: 4_102_444_800_000 }), // 1970 … 2100
      fc.double({ min: -1e13, max: 3e14, noNaN: true }), // before 1970, fractions, past 9999
      fc.integer({ min: 1_765_000_000_000, max: 1_765_000_002_500 }), // neighbouring milliseconds
    );
    fc.assert(
      fc.property(
        fc.array(fc.oneof(ms, fc.constant(1_765_000_000_000)), { minLength: 1, maxLength: 20 }),
        (times) => {
          for (const t of [...times, ...times]) expect(isoTime(t)).toBe(new Date(t).toISOString());
        },
      ),
      { numRuns: 300 },
    );
  });
});
