import type { Clock } from '../clock.js';

/**
 * Real time plus an offset that only grows: the console's `:time +25m` moves the whole sandbox
 * (the bot, the simulated EC2 and STS) into the future, so expiry warnings and the reaper can be
 * seen without waiting. Timers due by the new time fire at once.
 */
export class OffsetClock implements Clock {
  #offsetMs = 0;
  readonly #timers = new Set<{ due: number; fire: () => void }>();

  now(): number {
    return Date.now() + this.#offsetMs;
  }

  schedule(fn: () => void, ms: number): () => void {
    const timer = { due: this.now() + Math.max(0, ms), fire: () => {} };
    const handle = setTimeout(() => timer.fire(), Math.max(0, ms));
    handle.unref();
    timer.fire = () => {
      clearTimeout(handle);
      if (!this.#timers.delete(timer)) return;
      fn();
    };
    this.#timers.add(timer);
    return () => {
      clearTimeout(handle);
      this.#timers.delete(timer);
    };
  }

  /** Moves time forward by `ms` (never back); fires every timer now due. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms <= 0) return;
    this.#offsetMs += ms;
    const now = this.now();
    for (const timer of [...this.#timers]) if (timer.due <= now) timer.fire();
  }

  /** How far ahead of real time the sandbox is. */
  get offsetMs(): number {
    return this.#offsetMs;
  }
}
