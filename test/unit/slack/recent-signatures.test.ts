import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentSignatures } from '../../../src/slack/recent-signatures.js';

describe('RecentSignatures', () => {
  it('refuses a repeat within the window, forgets it after, and stays bounded', () => {
    let now = 0;
    const recent = new RecentSignatures(() => now, 1_000, 3);
    expect(recent.seenBefore('v0=a')).toBe(false);
    expect(recent.seenBefore('v0=a')).toBe(true);
    now = 1_000;
    expect(recent.seenBefore('v0=a')).toBe(false);
    for (const s of ['b', 'c', 'd']) recent.seenBefore(s);
    // 'v0=a' was the oldest of four with room for three: forgotten.
    expect(recent.seenBefore('v0=a')).toBe(false);
  });

  it('matches a simple model of "seen within the window"', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 700 })), {
          maxLength: 60,
        }),
        (steps) => {
          let now = 0;
          const recent = new RecentSignatures(() => now, 1_000);
          const model = new Map<string, number>();
          for (const [sig, advance] of steps) {
            now += advance;
            const at = model.get(sig);
            const expected = at !== undefined && now - at < 1_000;
            if (!expected) model.set(sig, now);
            expect(recent.seenBefore(sig)).toBe(expected);
          }
        },
      ),
    );
  });
});
