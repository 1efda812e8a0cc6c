import type { Clock } from '../clock.js';
import { finishedWithin } from './deadline.js';

/**
 * A pass run every `everyMs` on `clock`, one at a time (the next is scheduled when the last ends,
 * failed or not), until stopped: the loop behind the components that check something periodically
 * under a lease (the secrets reminder, the scheduled access review, the detections' tail).
 *
 * @example
 * const loop = new PeriodicPass({ clock, everyMs: 60_000, pass: () => this.pass(), failed: (e) => log.warn({ err: e }, '…') });
 * loop.start();
 * await loop.stop(deadline); // waits (bounded) for a pass under way
 */
export interface PeriodicPassOptions {
  clock: Clock;
  everyMs: number;
  pass: () => Promise<unknown>;
  /** The wait before the next pass, asked after each one (default `everyMs`; the first is `everyMs`): a loop that backs off while idle. */
  nextMs?: () => number;
  /** A pass that threw: logged by the owner; the next pass retries. */
  failed: (error: unknown) => void;
}

export class PeriodicPass {
  readonly #o: PeriodicPassOptions;
  #cancel: (() => void) | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(options: PeriodicPassOptions) {
    this.#o = options;
  }

  start(): void {
    this.#schedule(this.#o.everyMs);
  }

  /** The pass under way, if any (an owner's stop may wait on more than it). */
  get running(): Promise<unknown> | undefined {
    return this.#running;
  }

  /** No pass after this one; true when the one under way (if any) ended before `deadline`. */
  async stop(deadline: number): Promise<boolean> {
    this.#stopped = true;
    this.#cancel?.();
    if (!this.#running) return true;
    return finishedWithin(this.#o.clock, this.#running, deadline - this.#o.clock.now());
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#cancel = this.#o.clock.schedule(() => {
      this.#running = this.#o
        .pass()
        .catch((error: unknown) => this.#o.failed(error))
        .finally(() => this.#schedule(this.#o.nextMs?.() ?? this.#o.everyMs));
    }, ms);
  }
}
