import type { Clock } from '../clock.js';
import { UserFacingError } from '../errors.js';
import type { LeaseStore } from '../store/state.js';
import { jitteredInterval } from '../time/backoff.js';
import { sleep } from '../time/deadline.js';

/**
 * How long a start holds the user's lock at most without renewing it: a replica that dies while
 * starting frees it this long after its last renewal (longer than RunInstances with the SDK's retries).
 */
export const START_LOCK_MS = 3 * 60_000;
/** How long a second `/devenv up` of the same user waits for the first before it gives up. */
export const START_WAIT_MS = 3 * 60_000;
/** How often a waiting start tries the lock again (±50%, so that waiting starts spread out). */
const RETRY_EVERY_MS = 250;

/** The lease name of a user's starts (State's lease store, `lease#devenv-up:<team>:<user>`). */
export function startLockName(teamId: string, userId: string): string {
  return `devenv-up:${teamId || '-'}:${userId}`;
}

export interface StartLockDeps {
  leases: LeaseStore;
  clock: Clock;
  /** The jitter of retries (default Math.random). */
  random?: () => number;
}

/**
 * One user's `/devenv up` at a time, in every replica: a lease in State (`devenv-up:<team>:<user>`)
 * taken before the quota and name checks and held until the instance RunInstances started is
 * visible to DescribeInstances (so the next check counts it), or until it lapses. Held by one start
 * (`holder`, unique per request); renewed while it works.
 */
export class StartLock {
  readonly #deps: StartLockDeps;
  readonly #name: string;
  readonly #holder: string;
  #held = false;

  constructor(deps: StartLockDeps, name: string, holder: string) {
    this.#deps = deps;
    this.#name = name;
    this.#holder = holder;
  }

  /**
   * Waits (at most {@link START_WAIT_MS}) until no other start of this user holds the lock, then
   * takes it. `onWait` is told once when it has to wait. Refuses with a sentence when the wait is over.
   */
  async acquire(onWait?: () => Promise<void> | void): Promise<void> {
    const { clock } = this.#deps;
    const started = clock.now();
    let told = false;
    for (;;) {
      if (await this.#deps.leases.acquire(this.#name, this.#holder, START_LOCK_MS)) {
        this.#held = true;
        return;
      }
      if (clock.now() - started >= START_WAIT_MS)
        throw new UserFacingError(
          'Another `/devenv up` of yours is still starting. Wait for its answer, then try again (`/devenv list` shows what you have).',
        );
      if (!told) {
        told = true;
        await onWait?.();
      }
      await sleep(clock, jitteredInterval(RETRY_EVERY_MS, 0.5, this.#deps.random ?? Math.random));
    }
  }

  /** Extends the lock by {@link START_LOCK_MS} from now; false when it was lost (it lapsed and another start took it). */
  async renew(): Promise<boolean> {
    if (!this.#held) return false;
    this.#held = (await this.#deps.leases.acquire(this.#name, this.#holder, START_LOCK_MS)) !== undefined;
    return this.#held;
  }

  /** Lets the next start of this user go ahead. */
  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await this.#deps.leases.release(this.#name, this.#holder);
  }
}
