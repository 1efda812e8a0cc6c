import type { Clock } from '../clock.js';
import type { Component } from '../component.js';
import type { Logger } from '../log.js';
import type { LeaseStore } from '../store/state.js';
import { PeriodicPass } from '../time/periodic.js';

/** How often expired requests are closed (a press after expiry is refused whenever it comes). */
export const SWEEP_EVERY_MS = 60_000;
export const SWEEP_LEASE = 'approvals-sweep';

/**
 * Closes approval requests that expired with no decision, on the one replica holding the
 * `approvals-sweep` lease: their messages say so and a decision record (`expired`) is written.
 */
export class ApprovalSweeper implements Component {
  readonly name = 'approvals-sweep';
  readonly #loop: PeriodicPass;
  readonly #leases: LeaseStore;
  readonly #owner: string;
  #held = false;

  constructor(deps: {
    approvals: { sweep(): Promise<number> };
    leases: LeaseStore;
    owner: string;
    clock: Clock;
    log: Logger;
    everyMs?: number;
  }) {
    const every = deps.everyMs ?? SWEEP_EVERY_MS;
    this.#leases = deps.leases;
    this.#owner = deps.owner;
    this.#loop = new PeriodicPass({
      clock: deps.clock,
      everyMs: every,
      pass: async () => {
        this.#held = (await deps.leases.acquire(SWEEP_LEASE, deps.owner, 3 * every)) !== undefined;
        if (this.#held) await deps.approvals.sweep();
      },
      failed: (error) => deps.log.warn({ err: error }, 'the approvals sweep failed; the next one retries'),
    });
  }

  async start(): Promise<void> {
    this.#loop.start();
  }

  async stop(deadline: number): Promise<boolean> {
    const done = await this.#loop.stop(deadline);
    if (this.#held) await this.#leases.release(SWEEP_LEASE, this.#owner).catch(() => undefined);
    return done;
  }
}
