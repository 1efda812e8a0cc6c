import type { Clock } from '../clock.js';
import type { DedupeStore } from '../store/state.js';

/** At most this many leak notices (author's warning and report) per author and channel per minute. */
export const NOTICES_PER_MINUTE = 3;
const MINUTE = 60_000;

/**
 * A burst of leaks from one author in one channel (a pasted .env file, a bot gone wrong) warns
 * them and reports them a few times a minute, not once per message. Counted in State's dedupe
 * store, so every replica counts the same notices: the n-th notice of a minute is key n.
 */
export class NoticeLimit {
  readonly #dedupe: DedupeStore;
  readonly #clock: Clock;
  readonly #perMinute: number;

  constructor(dedupe: DedupeStore, clock: Clock, perMinute = NOTICES_PER_MINUTE) {
    this.#dedupe = dedupe;
    this.#clock = clock;
    this.#perMinute = perMinute;
  }

  /** True when a notice for `author` in `channel` may go out now (and counts it). */
  async take(author: string, channel: string): Promise<boolean> {
    const minute = Math.floor(this.#clock.now() / MINUTE);
    for (let n = 0; n < this.#perMinute; n++) {
      if (await this.#dedupe.putIfAbsent(`leak-notice:${author}:${channel}:${minute}:${n}`, 2 * MINUTE))
        return true;
    }
    return false;
  }
}
