import type { Logger } from '../log.js';

/**
 * Logs a kind of event at most once per interval, with how many were held back since the last
 * line. Refusals under attack come by the thousand per second; one line every few seconds says as
 * much, and the metrics count every one.
 *
 * @example
 * const throttle = new LogThrottle(log);
 * throttle.warn('unsigned', { reason }, 'refused a Slack request that failed verification');
 */
export class LogThrottle {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { at: number; heldBack: number }>();

  constructor(log: Logger, options: { intervalMs?: number; now?: () => number } = {}) {
    this.#log = log;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Warns unless a line of this `key` went out within the interval; keys are a small fixed set. */
  warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.#now();
    const last = this.#last.get(key);
    if (last && now - last.at < this.#intervalMs) {
      last.heldBack++;
      return;
    }
    const heldBack = last?.heldBack ?? 0;
    this.#last.set(key, { at: now, heldBack: 0 });
    this.#log.warn(heldBack > 0 ? { ...fields, alsoSince: heldBack } : fields, msg);
  }
}
