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
 * The one exponential formula: min(cap, base × 2^attempt), `attempt` counting from 0 (a fraction
 * is rounded down, a negative counts as 0, and past 30 the ceiling no longer grows). A wait that is
 * deliberately the same every time (no jitter) is this; the jittered ones below are built on it.
 *
 * @example
 * cappedExponentialDelay(0, DEFAULT_BACKOFF); // 1000
 * cappedExponentialDelay(9, DEFAULT_BACKOFF); // 60000
 */
export function cappedExponentialDelay(attempt: number, policy: BackoffPolicy): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  return Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
}

/**
 * "Full jitter" backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniform random
 * delay between 0 and min(cap, base × 2^attempt). `attempt` counts from 0.
 *
 * @example
 * fullJitterDelay(0, DEFAULT_BACKOFF, Math.random); // 0 … 1000 ms
 * fullJitterDelay(9, DEFAULT_BACKOFF, Math.random); // 0 … 60000 ms
 */
export function fullJitterDelay(attempt: number, policy: BackoffPolicy, random: Random): number {
  return Math.floor(random() * cappedExponentialDelay(attempt, policy));
}

/**
 * "Equal jitter" backoff (same article): half to all of min(cap, base × 2^attempt), rounded, so a
 * retry never comes back almost at once (a reconnect to a service that rate-limits attempts).
 *
 * @example
 * equalJitterDelay(0, DEFAULT_BACKOFF, Math.random); // 500 … 1000 ms
 */
export function equalJitterDelay(attempt: number, policy: BackoffPolicy, random: Random): number {
  const ceiling = cappedExponentialDelay(attempt, policy);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** A poll interval spread ±`spread` (0.2 = ±20%) so that replicas and secrets do not poll in lockstep. */
export function jitteredInterval(intervalMs: number, spread: number, random: Random): number {
  return Math.round(intervalMs * (1 - spread + 2 * spread * random()));
}
