import type { Clock } from '../clock.js';
import type { AlertAction } from '../command-kit/command-spec.js';
import type { Component } from '../component.js';
import { LogThrottle } from '../http/log-throttle.js';
import type { SlackApi } from '../integrations/slack-api.js';
import type { Logger } from '../log.js';
import { Counter, Gauge, type Registry } from '../metrics.js';
import type { State } from '../store/state.js';
import { type BackoffPolicy, cappedExponentialDelay } from '../time/backoff.js';
import { finishedWithin, sleep } from '../time/deadline.js';
import { PeriodicPass } from '../time/periodic.js';
import { WakeableIdle } from '../time/wakeable-idle.js';
import {
  type DeliverDeps,
  deliverOne,
  foldIntoDigest,
  inCurrentDigest,
  type QueuedAlert,
  readQueued,
  settleDigest,
} from './deliver.js';
import { IntakeRouter } from './intake-router.js';
import type { AlertEvent } from './payload.js';
import type { RootData } from './roots.js';
import { INTAKE_TOPIC, topicFor } from './routes.js';

export interface DispatcherOptions {
  /** Spacing of posts to one channel: Slack allows about one message per second per channel. */
  postIntervalMs: number;
  /** Spacing of message updates in one channel. */
  updateIntervalMs: number;
  /** More alerts than this waiting for a channel: fold them into a digest. */
  digestThreshold: number;
  /** While folding, the pause between digest updates (alerts gather meanwhile: fewer, fuller updates). */
  digestIntervalMs: number;
  /** The channel's lease and each claim: how long a crashed replica holds a channel back. */
  leaseMs: number;
  /** While a channel has alerts waiting that are not due yet (a retry's backoff), how often it looks again. */
  pollMs: number;
  /**
   * How often the work signals are read for alerts another replica stored (this one's webhooks wake
   * their channel at once): `watchMs` after a change, doubling while nothing changes, up to `watchMaxMs`.
   */
  watchMs: number;
  watchMaxMs: number;
  /**
   * A channel with nothing waiting lets go of its lease and sleeps until woken (its webhook, or a
   * signal); it looks once more after this long all the same (an alert whose signal was lost).
   */
  quietMs: number;
}

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = {
  postIntervalMs: 1_000,
  updateIntervalMs: 1_000,
  digestThreshold: 8,
  digestIntervalMs: 2_000,
  leaseMs: 10_000,
  pollMs: 1_000,
  watchMs: 1_000,
  // An alert the intake function stored reaches an idle bot within this (4 reads a minute).
  watchMaxMs: 15_000,
  quietMs: 30 * 60_000,
};

/**
 * An alert that could not be shown is due again after 1 s × 2^attempts, at most 256 s, without
 * jitter: only the channel's dispatcher (the lease holder) retries it. 256 s is the ceiling this
 * wait always had (its exponent stopped at 8, so its nominal 300 s cap never applied).
 */
export const REDELIVERY_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 256_000 };

export interface DispatcherDeps {
  state: Pick<State, 'outbox' | 'messages' | 'leases' | 'signals'>;
  slack: SlackApi;
  clock: Clock;
  log: Logger;
  metrics: Registry;
  appUrl: string;
  /** Other commands' buttons on alert roots (Create Jira issue…), as offered now. */
  alertActions?: () => readonly AlertAction[];
  /** This process's name in claims and leases. */
  owner: string;
  onRecoveredWhileMuted?: (root: RootData, channel: string) => Promise<void>;
  options?: Partial<DispatcherOptions>;
  /**
   * The bot's routes. With them the dispatcher also routes what the intake function stored (its
   * signal wakes the {@link IntakeRouter}), so an alert reaches its channel's loop as if this
   * replica's webhook had taken it.
   */
  route?: (alert: AlertEvent) => string | undefined;
}

/**
 * Delivers routed alerts from the outbox to Slack, one loop per channel: a channel's 429 (its
 * Retry-After) or a slow answer holds that channel only. Each loop holds the channel's lease, so
 * that across replicas one process posts to a channel; it claims alerts oldest first, paces posts
 * to about one per second, and under a burst folds what is waiting into a digest. An alert is
 * marked done only once Slack shows it; a crash leaves it in the outbox to be delivered on restart,
 * and message refs in State make sure it is not posted twice (README.md, "Alert delivery").
 */
export class AlertDispatcher implements Component {
  readonly name = 'alert-dispatcher';
  readonly #options: DispatcherOptions;
  readonly #channels = new Map<string, ChannelLoop>();
  readonly #delivered: Counter<'how'>;
  readonly #failed: Counter;
  readonly #deps: DispatcherDeps;
  readonly #throttle: LogThrottle;
  /** The signal counters read last, and the wait before the next read (backs off while idle). */
  #seen: ReadonlyMap<string, number> | undefined;
  #watchEvery: number;
  readonly #watch: PeriodicPass;
  readonly #intake: IntakeRouter | undefined;

  constructor(channels: readonly string[], deps: DispatcherDeps) {
    this.#options = { ...DEFAULT_DISPATCHER_OPTIONS, ...deps.options };
    this.#delivered = new Counter({
      name: 'opsbot_alerts_delivered_total',
      help: 'Alerts shown in Slack, by how: root, reply (in the root thread), digest',
      labelNames: ['how'],
      registers: [deps.metrics],
    });
    this.#failed = new Counter({
      name: 'opsbot_alert_delivery_failures_total',
      help: 'Alert deliveries that failed and were put back in the outbox to be retried',
      registers: [deps.metrics],
    });
    const pending = new Map<string, number>();
    new Gauge({
      name: 'opsbot_alerts_pending',
      help: 'Alerts in the outbox not yet shown in Slack, by channel (as last seen by its dispatcher)',
      labelNames: ['channel'],
      registers: [deps.metrics],
      collect() {
        for (const [channel, n] of pending) this.set({ channel }, n);
      },
    });
    // The dispatcher names itself in its log lines (given a logger that already names a component,
    // pino would write the key twice).
    const log = deps.log.child({ component: this.name });
    const throttle = new LogThrottle(log, { now: () => deps.clock.now() });
    this.#deps = deps;
    this.#throttle = throttle;
    this.#watchEvery = this.#options.watchMs;
    this.#watch = new PeriodicPass({
      clock: deps.clock,
      everyMs: this.#options.watchMs,
      nextMs: () => this.#watchEvery,
      pass: () => this.#readSignals(),
      failed: (error) => this.#watchFailed(error),
    });
    const route = deps.route;
    this.#intake = route
      ? new IntakeRouter({
          outbox: deps.state.outbox,
          route,
          routed: (channel) => this.stored(channel),
          clock: deps.clock,
          log,
          metrics: deps.metrics,
          owner: deps.owner,
          leaseMs: this.#options.leaseMs,
          pollMs: this.#options.pollMs,
          quietMs: this.#options.quietMs,
        })
      : undefined;
    for (const channel of channels) {
      this.#channels.set(
        channel,
        new ChannelLoop(channel, { ...deps, log }, this.#options, {
          delivered: (how, n) => this.#delivered.inc({ how }, n),
          failed: () => this.#failed.inc(),
          pending: (n) => pending.set(channel, n),
          throttle,
        }),
      );
    }
  }

  async start(): Promise<void> {
    if (this.#channels.size === 0 && !this.#intake) return;
    // The counters as they stand before any channel looks: a signal from here on wakes its channel.
    await this.#readSignals().catch((error: unknown) => this.#watchFailed(error));
    for (const loop of this.#channels.values()) loop.start();
    this.#intake?.start();
    this.#watch.start();
  }

  async stop(deadline: number): Promise<boolean> {
    const watched = this.#watch.stop(deadline);
    const routed = this.#intake?.stop(deadline) ?? true;
    const results = await Promise.all([...this.#channels.values()].map((loop) => loop.stop(deadline)));
    return (await watched) && (await routed) && results.every(Boolean);
  }

  /** New work for `channel` (the webhook just stored an alert): look now rather than at the next poll. */
  wake(channel: string): void {
    this.#channels.get(channel)?.wake();
  }

  /**
   * The webhook stored an alert for `channel`: this replica's loop looks now, and the channel's
   * work signal moves so that the other replicas' watchers see it (a failed signal is logged: the
   * alert is stored, and this replica delivers it).
   */
  async stored(channel: string): Promise<void> {
    this.wake(channel);
    await this.#deps.state.signals
      .bump(channel)
      .catch((error: unknown) =>
        this.#throttle.warn(
          'signal',
          { err: error, channel },
          'could not signal a stored alert to the other replicas',
        ),
      );
  }

  /**
   * Reads the work signals (one read for every channel, and the intake function's) and wakes the
   * channels whose signal moved, and the intake router when the intake's did:
   * the next read `watchMs` after a change, backing off to `watchMaxMs` while nothing changes. This,
   * not a poll of each channel's outbox, is what an idle replica costs the store.
   */
  async #readSignals(): Promise<void> {
    const now = await this.#deps.state.signals.read();
    const seen = this.#seen;
    let moved = false;
    const changed = (key: string) => seen !== undefined && (now.get(key) ?? 0) !== (seen.get(key) ?? 0);
    for (const channel of this.#channels.keys())
      if (changed(channel)) {
        moved = true;
        this.wake(channel);
      }
    if (this.#intake && changed(INTAKE_TOPIC)) {
      moved = true;
      this.#intake.wake();
    }
    this.#seen = now;
    const o = this.#options;
    this.#watchEvery = moved ? o.watchMs : Math.min(this.#watchEvery * 2, o.watchMaxMs);
  }

  #watchFailed(error: unknown): void {
    this.#watchEvery = this.#options.watchMaxMs;
    this.#throttle.warn('watch', { err: error }, 'could not read the alert work signals; retrying');
  }
}

interface LoopHooks {
  delivered(how: string, n: number): void;
  failed(): void;
  pending(n: number): void;
  throttle: LogThrottle;
}

class ChannelLoop {
  readonly #topic: string;
  readonly #lease: string;
  #running: Promise<void> | undefined;
  #stopping = false;
  readonly #pause: WakeableIdle;
  #nextPost = 0;
  #nextUpdate = 0;
  #leaseRenewed = 0;

  constructor(
    readonly channel: string,
    readonly deps: DispatcherDeps,
    readonly options: DispatcherOptions,
    readonly hooks: LoopHooks,
  ) {
    this.#topic = topicFor(channel);
    this.#lease = `alert-dispatch:${channel}`;
    this.#pause = new WakeableIdle(deps.clock);
  }

  start(): void {
    this.#running = this.#loop().catch((error: unknown) =>
      this.deps.log.error({ err: error, channel: this.channel }, 'the alert dispatcher stopped unexpectedly'),
    );
    this.#keepLease();
  }

  /**
   * Renews the lease in the background while it is held, so that a long wait inside a batch (a
   * Slack Retry-After of up to 30 s) does not let it lapse and another replica take the channel.
   */
  #keepLease(): void {
    this.deps.clock.schedule(() => {
      if (this.#stopping) return;
      if (this.#leaseRenewed > 0)
        this.#holdLease()
          .then((held) => {
            if (!held) this.#leaseRenewed = 0;
          })
          .catch(() => undefined);
      this.#keepLease();
    }, this.options.leaseMs / 3);
  }

  wake(): void {
    this.#pause.wake();
  }

  /** Lets the batch in hand finish by `deadline` (what is not done stays in the outbox), then lets go of the lease. */
  async stop(deadline: number): Promise<boolean> {
    this.#stopping = true;
    this.wake();
    const { clock } = this.deps;
    const finished = this.#running
      ? await finishedWithin(clock, this.#running, deadline - clock.now())
      : true;
    await this.deps.state.leases.release(this.#lease, this.deps.owner).catch(() => false);
    return finished;
  }

  async #loop(): Promise<void> {
    const { state, clock, owner } = this.deps;
    while (!this.#stopping) {
      try {
        if (!(await this.#holdLease())) {
          await this.#idle(this.options.leaseMs / 2);
          continue;
        }
        const backlog = await state.outbox.pending(this.#topic);
        this.hooks.pending(backlog);
        const digest = backlog > this.options.digestThreshold;
        // This loop holds the channel's lease: it is the only one working on the channel, and takes
        // over, oldest first, what a process that died left claimed (its digest is still current).
        const items = await state.outbox.claim(this.#topic, owner, digest ? 100 : 1, this.options.leaseMs, {
          takeOver: true,
        });
        if (items.length === 0) {
          // A digest that holds more than it shows (a Slack failure, a crash) is shown now.
          await settleDigest(this.#deliverDeps(), this.channel).catch((error: unknown) =>
            this.hooks.throttle.warn(
              `settle:${this.channel}`,
              { err: error, channel: this.channel },
              'could not update the alert digest in Slack; retrying',
            ),
          );
          if (backlog > 0) {
            // Alerts wait that are not due yet (a retry's backoff): look again soon, holding the channel.
            await this.#idle(this.options.pollMs);
            continue;
          }
          // Nothing waits: let go of the channel and sleep until woken (a webhook here, a signal
          // from another replica), or a long while.
          await this.#letGo();
          await this.#idle(this.options.quietMs);
          continue;
        }
        const queued = new Map(items.map((item) => [item.id, readQueued(item.payload)]));
        const byAlert = new Map(items.map((item) => [(queued.get(item.id) as QueuedAlert).alert.id, item]));
        const finished = new Set<string>();
        const done = async (alertIds: string[]) => {
          for (const id of alertIds) {
            const item = byAlert.get(id);
            if (!item || finished.has(item.id)) continue;
            finished.add(item.id);
            await state.outbox.complete(item.id, owner);
          }
        };
        try {
          if (digest) {
            const alerts = [...queued.values()].map((q) => q.alert);
            const { digested, own } = await foldIntoDigest(this.#deliverDeps(), this.channel, alerts, done);
            this.hooks.delivered('digest', digested);
            if (own) this.hooks.delivered('own', own);
            if (!this.#stopping) await this.#sleep(this.options.digestIntervalMs);
          } else {
            for (const q of queued.values()) {
              const how = await deliverOne(this.#deliverDeps(), this.channel, q.alert);
              await done([q.alert.id]);
              this.hooks.delivered(how, 1);
            }
          }
        } catch (error) {
          // An alert already stored in the current digest is part of it (the digest is shown on the
          // next pass, even an idle one): done. What was not shown goes back, due again after a
          // backoff that grows with its attempts; it can never land in a second digest.
          for (const item of items) {
            if (finished.has(item.id)) continue;
            const alert = (queued.get(item.id) as QueuedAlert).alert;
            if (await inCurrentDigest(state.messages, this.channel, alert.id).catch(() => false)) {
              await state.outbox.complete(item.id, owner).catch(() => false);
              continue;
            }
            this.hooks.failed();
            const waitMs = cappedExponentialDelay(item.attempts, REDELIVERY_BACKOFF);
            await state.outbox.release(item.id, owner, clock.now() + waitMs).catch(() => false);
          }
          this.hooks.throttle.warn(
            `deliver:${this.channel}`,
            { err: error, channel: this.channel },
            'could not deliver alerts to Slack; they stay in the outbox and are retried',
          );
        }
      } catch (error) {
        this.hooks.throttle.warn(
          `loop:${this.channel}`,
          { err: error, channel: this.channel },
          'the alert dispatcher could not reach the state store; retrying',
        );
        await this.#idle(this.options.pollMs);
      }
    }
  }

  #deliverDeps(): DeliverDeps {
    const { state, slack, clock, appUrl, onRecoveredWhileMuted, alertActions } = this.deps;
    return {
      messages: state.messages,
      slack,
      now: () => clock.now(),
      appUrl,
      ...(alertActions ? { alertActions } : {}),
      pace: (kind) => this.#pace(kind),
      renderFailed: (error, key) =>
        this.hooks.throttle.warn(
          `render:${this.channel}`,
          { err: error, channel: this.channel, key },
          'could not render an alert message; it was shown in its plain form',
        ),
      ...(onRecoveredWhileMuted
        ? { onRecoveredWhileMuted: (root) => onRecoveredWhileMuted(root, this.channel) }
        : {}),
    };
  }

  /** Lets go of the channel's lease while idle: another replica's webhook may then deliver at once. */
  async #letGo(): Promise<void> {
    if (this.#leaseRenewed === 0) return;
    this.#leaseRenewed = 0;
    await this.deps.state.leases.release(this.#lease, this.deps.owner).catch(() => false);
  }

  /** Takes (or renews) the channel's lease; renewed at most every third of its length. */
  async #holdLease(): Promise<boolean> {
    const now = this.deps.clock.now();
    if (now - this.#leaseRenewed < this.options.leaseMs / 3) return true;
    const lease = await this.deps.state.leases.acquire(this.#lease, this.deps.owner, this.options.leaseMs);
    if (lease) this.#leaseRenewed = now;
    return lease !== undefined;
  }

  /** Waits for the channel's next post or update slot (and keeps the lease while waiting). */
  async #pace(kind: 'post' | 'update'): Promise<void> {
    const now = this.deps.clock.now();
    const slot = kind === 'post' ? this.#nextPost : this.#nextUpdate;
    if (slot > now) await this.#sleep(slot - now);
    const at = this.deps.clock.now();
    if (kind === 'post') this.#nextPost = at + this.options.postIntervalMs;
    else this.#nextUpdate = at + this.options.updateIntervalMs;
    await this.#holdLease();
  }

  #sleep(ms: number): Promise<void> {
    return sleep(this.deps.clock, ms);
  }

  /** Waits `ms`, or less when woken. */
  #idle(ms: number): Promise<void> {
    return this.#pause.idle(ms);
  }
}
