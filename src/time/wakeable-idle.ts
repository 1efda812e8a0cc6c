import type { Clock } from '../clock.js';

/**
 * A loop's pause that new work cuts short: {@link idle} waits `ms` on the clock, or less when
 * {@link wake} is called meanwhile; a wake that comes while the loop is busy makes its next idle
 * return at once, so no wake is lost between a look at the work and the pause after it.
 */
export class WakeableIdle {
  readonly #clock: Clock;
  #wake: (() => void) | undefined;
  #woken = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  /** Waits `ms`, or less when woken. */
  async idle(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const cancel = this.#clock.schedule(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        cancel();
        this.#wake = undefined;
        this.#woken = false;
        resolve();
      };
    });
  }
}
