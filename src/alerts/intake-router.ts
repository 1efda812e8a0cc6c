import type { Clock } from '../clock.js';
import { LogThrottle } from '../http/log-throttle.js';
import type { Logger } from '../log.js';
import { Counter, type Registry } from '../metrics.js';
import type { OutboxItem, OutboxMove, OutboxStore } from '../store/state.js';
import { finishedWithin } from '../time/deadline.js';
import { WakeableIdle } from '../time/wakeable-idle.js';
import { type QueuedAlert, readQueued } from './deliver.js';
import type { AlertEvent } from './payload.js';
import { INTAKE_TOPIC, topicFor, UNROUTED_TOPIC } from './routes.js';

/** Intake alerts claimed per look (each is moved on its own, oldest first). */
const ROUTE_BATCH = 25;

export interface IntakeRouterDeps {
  outbox: Pick<OutboxStore, 'claim' | 'move'>;
  /** The bot's routes: the channel an alert goes to, or none (kept as unrouted). */
  route: (alert: AlertEvent) => string | undefined;
  /** Tells the channel's dispatcher of the alerts moved to it (this replica's loop and the others'). */
  routed: (channel: string) => Promise<void>;
  clock: Clock;
  /** Names `alert-dispatcher` already (the router is part of it). */
  log: Logger;
  metrics: Registry;
  /** This process's name in claims. */
  owner: string;
  /** How long a claim keeps other replicas off an alert (a crashed router's claims then lapse). */
  leaseMs: number;
  /** After a store failure, the pause before the next look. */
  pollMs: number;
  /** With nothing to route, it looks again after this long all the same (a signal that was lost). */
  quietMs: number;
}

/**
 * Routes the alerts the intake function stored (README.md, "Datadog alerts without a public
 * endpoint"): the intake has no configuration, so it stores every alert under the intake topic and
 * bumps the intake's work signal; the dispatcher's watcher wakes this router, which claims them
 * oldest first, routes each with the bot's own routes and moves it to its channel's topic (or keeps
 * it as unrouted), then tells that channel's dispatcher. The move is conditional on this replica's
 * claim, so of any number of replicas exactly one moves each alert, and its dedupe key (its id)
 * never changes: an alert Datadog also sent to the bot's own endpoint was refused there as a
 * duplicate, or is refused here at enqueue. What it cannot read is kept as unrouted.
 */
export class IntakeRouter {
  readonly #deps: IntakeRouterDeps;
  readonly #pause: WakeableIdle;
  readonly #throttle: LogThrottle;
  readonly #moved: Counter<'outcome'>;
  #running: Promise<void> | undefined;
  #stopping = false;

  constructor(deps: IntakeRouterDeps) {
    this.#deps = deps;
    this.#pause = new WakeableIdle(deps.clock);
    this.#throttle = new LogThrottle(deps.log, { now: () => deps.clock.now() });
    this.#moved = new Counter({
      name: 'opsbot_intake_alerts_routed_total',
      help: 'Alerts the intake function stored that this replica routed, by outcome (routed, unrouted)',
      labelNames: ['outcome'],
      registers: [deps.metrics],
    });
  }

  start(): void {
    this.#running = this.#loop().catch((error: unknown) =>
      this.#deps.log.error({ err: error }, 'the intake router stopped unexpectedly'),
    );
  }

  /** The intake stored alerts (its signal moved): look now. */
  wake(): void {
    this.#pause.wake();
  }

  /** Lets the alert in hand finish by `deadline`; what is still claimed is taken again once its claim lapses. */
  async stop(deadline: number): Promise<boolean> {
    this.#stopping = true;
    this.#pause.wake();
    const { clock } = this.#deps;
    return this.#running ? finishedWithin(clock, this.#running, deadline - clock.now()) : true;
  }

  async #loop(): Promise<void> {
    const { outbox, owner, leaseMs } = this.#deps;
    while (!this.#stopping) {
      try {
        const items = await outbox.claim(INTAKE_TOPIC, owner, ROUTE_BATCH, leaseMs);
        if (items.length === 0) {
          await this.#pause.idle(this.#deps.quietMs);
          continue;
        }
        const channels = new Set<string>();
        for (const item of items) {
          if (this.#stopping) break;
          const channel = await this.#routeOne(item);
          if (channel) channels.add(channel);
        }
        for (const channel of channels) await this.#deps.routed(channel);
      } catch (error) {
        this.#throttle.warn(
          'intake',
          { err: error },
          'could not route the alerts the intake function stored; retrying',
        );
        await this.#pause.idle(this.#deps.pollMs);
      }
    }
  }

  /** Moves one claimed alert to its channel's topic; the channel, when it moved there. */
  async #routeOne(item: OutboxItem): Promise<string | undefined> {
    let queued: QueuedAlert | undefined;
    try {
      queued = readQueued(item.payload);
    } catch {
      // Not an alert this version can read: kept as a record, as the intake stored it.
    }
    const channel = queued ? this.#deps.route(queued.alert) : undefined;
    const to: OutboxMove =
      queued && channel
        ? { topic: topicFor(channel), payload: JSON.stringify({ alert: queued.alert, channel }) }
        : { topic: UNROUTED_TOPIC, payload: item.payload, done: true };
    // False: this replica's claim lapsed and another one took the alert; it routes it.
    if (!(await this.#deps.outbox.move(item.id, this.#deps.owner, to))) return undefined;
    this.#moved.inc({ outcome: channel ? 'routed' : 'unrouted' });
    if (!channel)
      this.#throttle.warn(
        'unroutable',
        { monitor: queued?.alert.monitorId, tags: queued?.alert.tags.slice(0, 10) },
        'an alert from the intake function matched no route and alerts.defaultChannel is not set; it is kept as unrouted (see /dd alerts)',
      );
    return channel;
  }
}
