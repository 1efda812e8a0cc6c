import { type Clock, systemClock } from './clock.js';
import { within } from './time/deadline.js';

/**
 * Readiness: named checks that must all pass before `/readyz` answers 200. A component registers
 * its own check (secrets loaded; `state`: an audit record could be written now, a write probe
 * bounded to a fraction of a second) when it is wired in `app.ts`. A check that has not answered
 * within `timeoutMs` counts as not ready. `/healthz` runs none of them: it answers at once.
 */
export type ReadinessCheck = () => boolean | Promise<boolean>;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, boolean>;
}

export class Readiness {
  readonly #checks = new Map<string, ReadinessCheck>();
  readonly #clock: Clock;
  #shuttingDown = false;

  /** `clock` times each check's answer (the app's clock; the system clock by default). */
  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  register(name: string, check: ReadinessCheck): void {
    this.#checks.set(name, check);
  }

  /** Once shutting down, the process reports not ready so load balancers drain it. */
  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  async report(timeoutMs = 2_000): Promise<ReadinessReport> {
    const checks: Record<string, boolean> = {};
    await Promise.all(
      [...this.#checks].map(async ([name, check]) => {
        checks[name] = await answerWithin(this.#clock, check, timeoutMs);
      }),
    );
    if (this.#shuttingDown) checks.shutdown = false;
    return { ready: Object.values(checks).every(Boolean), checks };
  }
}

/** The check's answer; false when it throws or has not answered within `ms`. */
function answerWithin(clock: Clock, check: ReadinessCheck, ms: number): Promise<boolean> {
  const answer = Promise.resolve().then(check);
  return within(clock, answer, ms, () => new Error(`no answer within ${ms} ms`)).catch(() => false);
}
