import type { Clock } from '../clock.js';
import type { DedupeStore } from '../store/state.js';
import { WindowLimit } from '../store/window-limit.js';

/** At most this many leak notices (author's warning and report) per author and channel per minute. */
export const NOTICES_PER_MINUTE = 3;
const MINUTE = 60_000;

/**
 * A burst of leaks from one author in one channel (a pasted .env file, a bot gone wrong) warns
 * them and reports them a few times a minute, not once per message; counted in State
 * ({@link WindowLimit}), so every replica counts the same notices.
 */
export class NoticeLimit {
  readonly #limit: WindowLimit;

  constructor(dedupe: DedupeStore, clock: Clock, perMinute = NOTICES_PER_MINUTE) {
    this.#limit = new WindowLimit(dedupe, clock, {
      prefix: 'leak-notice',
      perWindow: perMinute,
      windowMs: MINUTE,
    });
  }

  /** True when a notice for `author` in `channel` may go out now (and counts it). */
  take(author: string, channel: string): Promise<boolean> {
    return this.#limit.take(`${author}:${channel}`);
  }
}
