import type { Clock } from '../clock.js';
import type { DedupeStore } from './state.js';

/** Windows whose count is known full are remembered (no store call) up to this many keys. */
const MAX_FULL_REMEMBERED = 1_000;

/**
 * At most `perWindow` of something per key per window (`windowMs`), counted in State's dedupe
 * store so every replica counts the same ones: the n-th of a window is the key
 * `<prefix>:<key>:<window>:<n>`. A window this replica found full is remembered until it ends, so
 * a burst past the limit costs no more store calls.
 *
 * @example
 * const limit = new WindowLimit(state.dedupe, clock, { prefix: 'leak-notice', perWindow: 3, windowMs: 60_000 });
 * if (await limit.take(`${author}:${channel}`)) notify();
 */
export class WindowLimit {
  readonly #dedupe: Pick<DedupeStore, 'putIfAbsent'>;
  readonly #clock: Clock;
  readonly #o: { prefix: string; perWindow: number; windowMs: number };
  /** `key` → the window known full. */
  readonly #full = new Map<string, number>();

  constructor(
    dedupe: Pick<DedupeStore, 'putIfAbsent'>,
    clock: Clock,
    options: { prefix: string; perWindow: number; windowMs: number },
  ) {
    this.#dedupe = dedupe;
    this.#clock = clock;
    this.#o = options;
  }

  /** True when one more may go out now for `key` (and counts it). */
  async take(key: string): Promise<boolean> {
    const window = Math.floor(this.#clock.now() / this.#o.windowMs);
    if (this.#full.get(key) === window) return false;
    for (let n = 0; n < this.#o.perWindow; n++) {
      const slot = `${this.#o.prefix}:${key}:${window}:${n}`;
      if (await this.#dedupe.putIfAbsent(slot, 2 * this.#o.windowMs)) return true;
    }
    if (this.#full.size >= MAX_FULL_REMEMBERED) this.#full.clear();
    this.#full.set(key, window);
    return false;
  }
}
