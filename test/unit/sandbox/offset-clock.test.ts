import { describe, expect, it } from 'vitest';
import { OffsetClock } from '../../../src/sandbox/offset-clock.js';

describe('OffsetClock (the console’s :time)', () => {
  it('moves time forward only, and fires timers that came due at once', async () => {
    const clock = new OffsetClock();
    const fired: string[] = [];
    clock.schedule(() => fired.push('soon'), 60_000);
    clock.schedule(() => fired.push('later'), 3_600_000);
    const cancel = clock.schedule(() => fired.push('cancelled'), 1_000);
    cancel();
    const before = clock.now();
    clock.advance(25 * 60_000);
    expect(clock.now() - before).toBeGreaterThanOrEqual(25 * 60_000);
    expect(fired).toEqual(['soon']);
    clock.advance(-10_000);
    expect(clock.offsetMs).toBe(25 * 60_000);
    clock.advance(40 * 60_000);
    expect(fired).toEqual(['soon', 'later']);
    // Real time still runs them, once.
    clock.schedule(() => fired.push('real'), 5);
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toEqual(['soon', 'later', 'real']);
  });
});
