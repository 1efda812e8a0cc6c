import { ErrorCode as WebApiErrorCode } from '@slack/web-api';
import type { Clock } from '../clock.js';
import { ErrorCode, UserFacingError } from '../errors.js';

/** Slack asked us to wait longer than a user should: say so instead of hanging. */
export class SlackRateLimitedError extends UserFacingError {
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number, options?: { cause?: unknown }) {
    super(
      `Slack asked opsbot to slow down for ${Math.ceil(retryAfterMs / 1_000)} s. Try again in a minute.`,
      { code: ErrorCode.RateLimited, ...options },
    );
    this.retryAfterMs = retryAfterMs;
  }
}

export interface RetryAfterOptions {
  clock: Clock;
  /** Longest wait we accept on a caller's behalf before giving up with {@link SlackRateLimitedError}. */
  maxWaitMs?: number;
  /** Attempts per call, the first included. */
  maxAttempts?: number;
  /** Keys remembered at once (bounded). */
  maxKeys?: number;
}

/**
 * Honours Slack's 429 Retry-After per key (a method, or a method in one channel), so one
 * rate-limited channel never stalls calls to any other. The WebClient is built with
 * `rejectRateLimitedCalls`, so it throws on a 429 instead of pausing its whole queue; this waits
 * out that key's Retry-After (later calls with the same key wait too) and tries again.
 *
 * @example
 * await retryAfter.run(`chat.postMessage:${channel}`, () => client.chat.postMessage({ channel, text }));
 */
export class RetryAfter {
  readonly #clock: Clock;
  readonly #maxWaitMs: number;
  readonly #maxAttempts: number;
  readonly #maxKeys: number;
  readonly #blockedUntil = new Map<string, number>();

  constructor(options: RetryAfterOptions) {
    this.#clock = options.clock;
    this.#maxWaitMs = options.maxWaitMs ?? 30_000;
    this.#maxAttempts = options.maxAttempts ?? 3;
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

  async run<T>(key: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const wait = this.waitFor(key);
      if (wait > this.#maxWaitMs) throw new SlackRateLimitedError(wait);
      if (wait > 0) await this.#sleep(wait);
      try {
        return await call();
      } catch (error) {
        const retryAfterMs = rateLimitedFor(error);
        if (retryAfterMs === undefined) throw error;
        this.#block(key, retryAfterMs);
        if (attempt >= this.#maxAttempts || retryAfterMs > this.#maxWaitMs) {
          throw new SlackRateLimitedError(retryAfterMs, { cause: error });
        }
      }
    }
  }

  #block(key: string, ms: number): void {
    this.#blockedUntil.delete(key);
    this.#blockedUntil.set(key, this.#clock.now() + ms);
    while (this.#blockedUntil.size > this.#maxKeys) {
      this.#blockedUntil.delete(this.#blockedUntil.keys().next().value as string);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#clock.schedule(resolve, ms));
  }
}

/** The Retry-After of a Web API rate-limited error, in milliseconds. */
export function rateLimitedFor(error: unknown): number | undefined {
  const e = error as { code?: string; retryAfter?: number } | undefined;
  if (e?.code !== WebApiErrorCode.RateLimitedError) return undefined;
  const seconds = Number(e.retryAfter);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.max(1, seconds) * 1_000 : 1_000;
}

/** The key a call is rate-limited under: chat.* per channel (Slack limits posting per channel), else per method. */
export function rateLimitKey(method: string, channel?: string): string {
  return channel && method.startsWith('chat.') ? `${method}:${channel}` : method;
}
