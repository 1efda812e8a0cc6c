import type { Clock } from '../clock.js';
import { ErrorCode, UserFacingError } from '../errors.js';
import { sleep } from '../time/deadline.js';

/** Longest wait ever honoured: a Retry-After of years (or garbage) is clamped, never a RangeError. */
export const MAX_RATE_LIMIT_WAIT_MS = 24 * 3_600_000;

/**
 * A service asked opsbot to wait longer than a user should: say so, with when to try again.
 *
 * @example
 * throw new RateLimitedError('GitHub', 120_000, new Date(clock.now() + 120_000));
 * // "GitHub asks opsbot to wait before calling it again (rate limit): try again in 2 minutes, after 14:05 UTC."
 */
export class RateLimitedError extends UserFacingError {
  constructor(
    readonly service: string,
    readonly waitMs: number,
    readonly until: Date,
    options?: { cause?: unknown },
  ) {
    const wait =
      waitMs < 90_000
        ? `${Math.max(1, Math.ceil(waitMs / 1_000))} s`
        : `${Math.ceil(waitMs / 60_000)} minutes`;
    super(
      `${service} asks opsbot to wait before calling it again (rate limit): try again in ${wait}, after ${until
        .toISOString()
        .slice(11, 16)} UTC.`,
      { code: ErrorCode.RateLimited, ...options },
    );
  }
}

/** How long a failed call asks us to wait (Retry-After, a reset time…), or undefined if it is no rate limit. */
export type WaitOf = (error: unknown, nowMs: number) => number | undefined;

export interface RateLimitPolicy {
  /** The service's name in messages: `Slack`, `GitHub`. */
  service: string;
  waitOf: WaitOf;
  /** Longest wait taken silently on a caller's behalf before answering "try again after…". */
  maxWaitMs: number;
  /** Attempts per call, the first included. */
  maxAttempts: number;
}

export interface RateLimitsOptions {
  clock: Clock;
  /** Keys remembered at once (bounded; the oldest is forgotten first). */
  maxKeys?: number;
}

/**
 * Rate limits in one place, for every integration: a service's 429 (or 403 with a reset header)
 * blocks one key — a channel for Slack's chat.*, a method, a repository — for the time it asks, so
 * calls under any other key go on. A call under a blocked key waits it out if that is short (the
 * policy's `maxWaitMs`) and retries; otherwise the user is told when to try again
 * ({@link RateLimitedError}).
 *
 * @example
 * const limits = new RateLimits({ clock });
 * await limits.run(`chat.postMessage:${channel}`, slackPolicy, () => client.chat.postMessage(args));
 */
export class RateLimits {
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #blockedUntil = new Map<string, number>();

  constructor(options: RateLimitsOptions) {
    this.#clock = options.clock;
    this.#maxKeys = options.maxKeys ?? 10_000;
  }

  /** Milliseconds until `key` may be called again (0 when it is free). */
  waitFor(key: string): number {
    const until = this.#blockedUntil.get(key);
    if (until === undefined) return 0;
    const wait = until - this.#clock.now();
    if (wait <= 0) this.#blockedUntil.delete(key);
    return Math.max(0, wait);
  }

  /** Blocks `key` for `ms` (clamped to {@link MAX_RATE_LIMIT_WAIT_MS}). */
  block(key: string, ms: number): void {
    this.#blockedUntil.delete(key);
    this.#blockedUntil.set(key, this.#clock.now() + clampWait(ms));
    while (this.#blockedUntil.size > this.#maxKeys) {
      this.#blockedUntil.delete(this.#blockedUntil.keys().next().value as string);
    }
  }

  async run<T>(key: string, policy: RateLimitPolicy, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const wait = this.waitFor(key);
      if (wait > policy.maxWaitMs) throw this.#tooLong(policy, wait);
      if (wait > 0) await this.#sleep(wait);
      try {
        return await call();
      } catch (error) {
        const asked = policy.waitOf(error, this.#clock.now());
        if (asked === undefined) throw error;
        const waitMs = clampWait(asked);
        this.block(key, waitMs);
        if (attempt >= policy.maxAttempts || waitMs > policy.maxWaitMs) {
          throw this.#tooLong(policy, waitMs, error);
        }
      }
    }
  }

  #tooLong(policy: RateLimitPolicy, waitMs: number, cause?: unknown): RateLimitedError {
    const until = new Date(this.#clock.now() + waitMs);
    return new RateLimitedError(policy.service, waitMs, until, cause === undefined ? undefined : { cause });
  }

  #sleep(ms: number): Promise<void> {
    return sleep(this.#clock, ms);
  }
}

function clampWait(ms: number): number {
  return Number.isFinite(ms) ? Math.min(MAX_RATE_LIMIT_WAIT_MS, Math.max(1, ms)) : MAX_RATE_LIMIT_WAIT_MS;
}

/** Seconds of a `Retry-After` header (or field), as milliseconds; undefined when absent or not a number. */
export function retryAfterMs(value: unknown): number | undefined {
  const seconds = Number(value);
  return value !== undefined && value !== null && value !== '' && Number.isFinite(seconds) && seconds >= 0
    ? clampWait(Math.max(1, seconds) * 1_000)
    : undefined;
}
