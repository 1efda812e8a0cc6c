import type { Random } from '../clock.js';

export interface BackoffPolicy {
  /** The first retry waits up to this long. */
  baseMs: number;
  /** No retry waits longer than this. */
  capMs: number;
}

/** Background retries: 1 s, doubling, capped at 60 s. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 60_000 };

/**
 * "Full jitter" backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniform random
 * delay between 0 and min(cap, base × 2^attempt). `attempt` counts from 0.
 *
 * @example
 * fullJitterDelay(0, DEFAULT_BACKOFF, Math.random); // 0 … 1000 ms
 * fullJitterDelay(9, DEFAULT_BACKOFF, Math.random); // 0 … 60000 ms
 */
export function fullJitterDelay(attempt: number, policy: BackoffPolicy, random: Random): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}

/** A poll interval spread ±`spread` (0.2 = ±20%) so that replicas and secrets do not poll in lockstep. */
export function jitteredInterval(intervalMs: number, spread: number, random: Random): number {
  return Math.round(intervalMs * (1 - spread + 2 * spread * random()));
}
