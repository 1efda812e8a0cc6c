import type { AuditEvent, AuditTrail } from '../audit/sink.js';
import type { Clock } from '../clock.js';
import type { Component } from '../component.js';
import type { DevEnv, DevenvApi } from '../integrations/devenv.js';
import type { SlackApi } from '../integrations/slack-api.js';
import type { Logger } from '../log.js';
import { Counter, type Registry } from '../metrics.js';
import { actions, section } from '../slack/blocks.js';
import type { DedupeStore, LeaseStore } from '../store/state.js';
import { inlineCode } from '../text/escape.js';
import { finishedWithin } from '../time/deadline.js';
import { extendButton, stopButton } from './buttons.js';

/** Owners are warned this long before their environment expires. */
export const WARN_BEFORE_MS = 30 * 60_000;
const DAY = 86_400_000;
/** How long a replica holds an expired instance to terminate it (then another may retry). */
const REAP_LEASE_MS = 60_000;

export interface ReaperDeps {
  api: Pick<DevenvApi, 'reaperList' | 'reaperTerminate'>;
  dedupe: DedupeStore;
  /** Each expired instance is terminated by the one replica holding its lease (`devenv-reap:<id>`). */
  leases: LeaseStore;
  /** This replica's name in leases. */
  owner: string;
  slack: Pick<SlackApi, 'postMessage'>;
  /** Each termination's intent is stored before TerminateInstances; none is terminated without it. */
  audit: AuditTrail;
  clock: Clock;
  log: Logger;
  metrics: Registry;
  /** Who hears of opsbot's instances without a valid Owner or ExpiresAt. */
  admins: readonly string[];
  intervalMs: number;
}

export interface PassResult {
  seen: number;
  warned: number;
  terminated: number;
  reported: number;
}

/**
 * The dev-environment reaper (a component): every `OPSBOT_DEVENV_REAPER_SECONDS` it reads every
 * instance opsbot manages: tagged `ManagedBy=opsbot` and launched from a configured launch template
 * (EC2's own `aws:ec2launchtemplate:id` tag, which nobody can set by hand), so an instance someone
 * merely tagged is never touched. EC2 tags are the source of truth, so a restarted or second
 * replica finds everything. It acts as its own STS session (`opsbot.reaper`):
 * - 30 minutes before `ExpiresAt`, DMs the owner once per instance and expiry, with Extend and Stop;
 * - terminates those whose `ExpiresAt` has passed: the `devenv:reap` intent is stored in the audit
 *   trail first (none is terminated without it), the outcome after;
 * - reports an instance without a valid `Owner`/`ExpiresAt` to the admins once, and never touches it.
 * What it remembers (warned, reported) is in State's dedupe store, and each termination is done by
 * the replica that takes the instance's lease, so every replica may run it: one warning, one
 * termination. A replica that dies before terminating loses the lease; the next pass anywhere retries.
 */
export class DevenvReaper implements Component {
  readonly name = 'devenv-reaper';
  readonly #deps: ReaperDeps;
  readonly #passes: Counter<'outcome'>;
  #cancel: (() => void) | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(deps: ReaperDeps) {
    this.#deps = deps;
    this.#passes = new Counter({
      name: 'opsbot_devenv_reaper_passes_total',
      help: 'Dev-environment reaper passes, by outcome',
      labelNames: ['outcome'],
      registers: [deps.metrics],
    });
  }

  async start(): Promise<void> {
    this.#schedule();
  }

  async stop(deadline: number): Promise<boolean> {
    this.#stopped = true;
    this.#cancel?.();
    if (!this.#running) return true;
    const { clock } = this.#deps;
    return finishedWithin(clock, this.#running, deadline - clock.now());
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#cancel = this.#deps.clock.schedule(() => {
      this.#running = this.pass()
        .then(() => this.#passes.inc({ outcome: 'ok' }))
        .catch((error: unknown) => {
          this.#passes.inc({ outcome: 'error' });
          this.#deps.log.warn({ err: error }, 'a dev-environment reaper pass failed; the next one retries');
        })
        .finally(() => this.#schedule());
    }, this.#deps.intervalMs);
  }

  /** One pass over every managed instance. Safe to run at any time, in any number of replicas. */
  async pass(): Promise<PassResult> {
    const { api, clock } = this.#deps;
    const now = clock.now();
    const result: PassResult = { seen: 0, warned: 0, terminated: 0, reported: 0 };
    const expired: DevEnv[] = [];
    for (const env of await api.reaperList()) {
      result.seen++;
      if (!env.tagsValid || env.expiresAt === undefined || env.owner === undefined) {
        if (await this.#report(env)) result.reported++;
      } else if (env.expiresAt <= now) expired.push(env);
      else if (env.expiresAt - now <= WARN_BEFORE_MS && (await this.#warn(env, now))) result.warned++;
    }
    // One replica per instance terminates it (and says so); the others leave it alone.
    const mine: DevEnv[] = [];
    for (const env of expired) {
      if (await this.#deps.leases.acquire(`devenv-reap:${env.id}`, this.#deps.owner, REAP_LEASE_MS))
        mine.push(env);
    }
    // Intent before side effect: an instance whose intent record cannot be stored is left for a
    // later pass (its lease lapses), never terminated unrecorded.
    const intents = await Promise.allSettled(
      mine.map((env) => this.#deps.audit.record(reapEvent(env, 'intent'))),
    );
    const recorded = mine.filter((env, i) => {
      const intent = intents[i];
      if (intent?.status === 'fulfilled') return true;
      this.#deps.log.warn(
        { err: intent?.reason, instance: env.id },
        'could not store the intent to terminate an expired dev environment; it is left for the next pass',
      );
      return false;
    });
    if (recorded.length > 0) {
      try {
        await api.reaperTerminate(recorded.map((e) => e.id));
      } catch (error) {
        for (const env of recorded) this.#deps.audit.write(reapEvent(env, 'error'));
        throw error;
      }
      for (const env of recorded) this.#deps.audit.write(reapEvent(env, 'success'));
      result.terminated = recorded.length;
      for (const env of recorded) {
        // Terminating twice is harmless; telling the owner twice (two replicas) is not.
        if (!(await this.#deps.dedupe.putIfAbsent(`devenv-reaped:${env.id}`, DAY))) continue;
        await this.#tell(
          env.owner as string,
          `:wastebasket: Your dev environment ${name(env)} expired and was terminated.`,
        );
      }
    }
    return result;
  }

  async #warn(env: DevEnv, now: number): Promise<boolean> {
    if (!(await this.#deps.dedupe.putIfAbsent(`devenv-warned:${env.id}:${env.expiresAt}`, DAY))) return false;
    const minutes = Math.max(1, Math.round(((env.expiresAt ?? now) - now) / 60_000));
    const text = `:alarm_clock: Your dev environment ${name(env)} expires in ${minutes} minutes. Extend it (the button, or \`/devenv extend ${env.name} --by 2h\` where you use /devenv), or let it go.`;
    await this.#tell(env.owner as string, text, [
      section(text),
      // Judged in the channel it was started from (a DM has no rules of its own).
      actions(
        [extendButton(env, 'primary'), stopButton(env, 'Stop now')],
        env.channel ? `devenv@${env.channel}` : undefined,
      ),
    ]);
    return true;
  }

  async #report(env: DevEnv): Promise<boolean> {
    if (!(await this.#deps.dedupe.putIfAbsent(`devenv-untagged:${env.id}`, 30 * DAY))) return false;
    this.#deps.audit.write({
      action: 'devenv:untagged',
      outcome: 'success',
      actor: 'opsbot.reaper',
      details: { instance: env.id },
    });
    const text = `:warning: ${inlineCode(env.id)} was launched from opsbot's launch template and is tagged ManagedBy=opsbot, but has no valid Owner or ExpiresAt tag, so opsbot will never stop it. Fix its tags, or terminate it yourself.`;
    for (const admin of this.#deps.admins) await this.#tell(admin, text);
    return true;
  }

  /** A DM (a bot may post to a user id); a failure is logged, never stops the pass. */
  async #tell(
    userId: string,
    text: string,
    blocks?: Parameters<SlackApi['postMessage']>[0]['blocks'],
  ): Promise<void> {
    try {
      await this.#deps.slack.postMessage({ channel: userId, text, ...(blocks ? { blocks } : {}) });
    } catch (error) {
      this.#deps.log.warn({ err: error, user: userId }, 'could not DM about a dev environment');
    }
  }
}

function reapEvent(env: DevEnv, outcome: 'intent' | 'success' | 'error'): AuditEvent {
  return {
    action: 'devenv:reap',
    outcome,
    actor: 'opsbot.reaper',
    details: {
      instance: env.id,
      owner: env.owner,
      expiresAt: new Date(env.expiresAt ?? 0).toISOString(),
    },
  };
}

function name(env: DevEnv): string {
  return env.name && env.name !== env.id ? `${inlineCode(env.name)} (${env.id})` : inlineCode(env.id);
}
