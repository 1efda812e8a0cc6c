import type { Clock } from '../../src/clock.js';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that only moves when told. `advance(ms)` runs every timer that falls due, in time order,
 * with `now()` set to each timer's due time. `delays()` lists what is scheduled, for backoff tests.
 */
export class FakeClock implements Clock {
  #now: number;
  #next = 1;
  #timers: Timer[] = [];

  constructor(start = Date.UTC(2026, 10, 23, 12, 0, 0)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  schedule(fn: () => void, ms: number): () => void {
    const timer = { id: this.#next++, at: this.#now + Math.max(0, ms), fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t.id !== timer.id);
    };
  }

  /** Milliseconds until each scheduled timer fires, soonest first. */
  delays(): number[] {
    return this.#timers.map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t.id !== due.id);
      this.#now = due.at;
      due.fn();
    }
    this.#now = end;
  }

  /** Moves to the next timer and runs it; returns how far it moved. */
  runNext(): number {
    const delays = this.delays();
    if (delays.length === 0) throw new Error('no timer is scheduled');
    const step = delays[0] as number;
    this.advance(step);
    return step;
  }
}

/** Moves `clock` forward by `ms` in steps, letting the provider finish each refresh the step started. */
export async function elapse(
  clock: FakeClock,
  provider: { settled(): Promise<void> },
  ms: number,
  stepMs = 1_000,
): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) {
    clock.advance(Math.min(stepMs, ms - done));
    await provider.settled();
  }
}
