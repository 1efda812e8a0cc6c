import { type Clock, systemClock } from './clock.js';
import { within } from './time/deadline.js';

/**
 * Readiness: named checks that must all pass before `/readyz` answers 200. A component registers
 * its own check (secrets loaded; `state`: an audit record could be written now, a write probe
 * bounded to a fraction of a second) when it is wired in `app.ts`. A check that has not answered
 * within `timeoutMs` counts as not ready. `/healthz` runs none of them: it answers at once.
 */
export type ReadinessCheck = () => boolean | Promise<boolean>;

/** What works but not as it should (a secret source away while last good values serve); listed, not failing. */
export type DegradedCheck = () => readonly string[];

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, boolean>;
  /** By component: what is degraded (only present when something is). */
  degraded?: Record<string, readonly string[]>;
}

export class Readiness {
  readonly #checks = new Map<string, ReadinessCheck>();
  readonly #degraded = new Map<string, DegradedCheck>();
  readonly #clock: Clock;
  #shuttingDown = false;

  /** `clock` times each check's answer (the app's clock; the system clock by default). */
  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  register(name: string, check: ReadinessCheck): void {
    this.#checks.set(name, check);
  }

  /** A component's account of what is degraded; reported beside the checks, never making them fail. */
  registerDegraded(name: string, check: DegradedCheck): void {
    this.#degraded.set(name, check);
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
    const degraded: Record<string, readonly string[]> = {};
    for (const [name, check] of this.#degraded) {
      try {
        const lines = check();
        if (lines.length > 0) degraded[name] = lines.slice(0, 20);
      } catch {
        degraded[name] = ['could not tell'];
      }
    }
    return {
      ready: Object.values(checks).every(Boolean),
      checks,
      ...(Object.keys(degraded).length > 0 ? { degraded } : {}),
    };
  }
}

/** The check's answer; false when it throws or has not answered within `ms`. */
function answerWithin(clock: Clock, check: ReadinessCheck, ms: number): Promise<boolean> {
  const answer = Promise.resolve().then(check);
  return within(clock, answer, ms, () => new Error(`no answer within ${ms} ms`)).catch(() => false);
}
