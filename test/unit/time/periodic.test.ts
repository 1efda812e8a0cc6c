import { describe, expect, it } from 'vitest';
import { PeriodicPass } from '../../../src/time/periodic.js';
import { FakeClock } from '../../helpers/fake-clock.js';

describe('PeriodicPass', () => {
  it('runs the pass every period, one at a time; a failing pass is reported and the loop goes on', async () => {
    const clock = new FakeClock();
    const failures: unknown[] = [];
    let runs = 0;
    let release: () => void = () => {};
    const loop = new PeriodicPass({
      clock,
      everyMs: 1_000,
      pass: async () => {
        runs += 1;
        if (runs === 2) throw new Error('boom');
        if (runs === 3) await new Promise<void>((r) => (release = r));
      },
      failed: (error) => failures.push(error),
    });
    loop.start();
    expect(runs).toBe(0);
    clock.advance(1_000);
    await Promise.resolve();
    expect(runs).toBe(1);
    await loop.running;
    clock.advance(1_000);
    await loop.running;
    expect(runs).toBe(2);
    expect(failures).toHaveLength(1);
    clock.advance(1_000);
    // The third pass hangs: no fourth starts while it runs, however long.
    clock.advance(10_000);
    expect(runs).toBe(3);
    // Stop waits at most until the deadline for the pass under way: false, it did not end in time.
    const stopping = loop.stop(clock.now() + 500);
    clock.advance(500);
    expect(await stopping).toBe(false);
    release();
    await loop.running;
    clock.advance(5_000);
    expect(runs).toBe(3);
  });

  it('stopped before any pass, it answers at once and never runs', async () => {
    const clock = new FakeClock();
    let runs = 0;
    const loop = new PeriodicPass({
      clock,
      everyMs: 100,
      pass: async () => {
        runs += 1;
      },
      failed: () => {},
    });
    loop.start();
    expect(await loop.stop(clock.now())).toBe(true);
    clock.advance(1_000);
    expect(runs).toBe(0);
  });
});
