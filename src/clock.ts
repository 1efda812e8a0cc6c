/**
 * Time, injected. Production passes {@link systemClock}; tests pass a fake clock so rotation, TTLs,
 * backoff and deadlines are tested without real waiting.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` after `ms` milliseconds; returns a function that cancels it. Never keeps the process alive. */
  schedule(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, ms));
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** A number in [0, 1); injected so jitter is reproducible in tests. */
export type Random = () => number;
