import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readiness } from './health.js';
import type { Logger } from './log.js';

/** Answers one HTTP request (the listener in `http/server.ts` has already admitted it). */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** An HTTP route a component serves on opsbot's port. */
export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handler: RouteHandler;
}

/**
 * Anything long-lived: the HTTP listener, the Slack receivers, and (to come) the webhook receiver,
 * the alert dispatcher and the dev-environment reaper. The app starts components in order and
 * stops them in reverse, all against one deadline. A new component is written as one of these and
 * added to the list in `app.ts`; its routes are served on opsbot's port and its readiness check
 * counts towards `/readyz`.
 */
export interface Component {
  /** Names it in logs and in `/readyz` (`secrets`, `slack`, `state`). */
  name: string;
  start?(): Promise<void>;
  /** Finish or hand back in-flight work by `deadline` (epoch ms); false when something was cut short. */
  stop?(deadline: number): Promise<boolean | undefined> | Promise<void>;
  /** Part of `/readyz`: false (or a throw, or no answer within 2 s) means not ready. */
  ready?(): boolean | Promise<boolean>;
  /** Part of `/readyz`'s `degraded`: what works but not as it should (never makes the replica unready). */
  degraded?(): readonly string[];
  /** HTTP routes it serves on opsbot's listener. */
  routes?: readonly Route[];
}

/** Starts components in order and stops them in reverse, with one deadline for all of them. */
export class Lifecycle {
  readonly #components: readonly Component[];
  readonly #log: Logger;
  readonly #now: () => number;
  #started: Component[] = [];

  constructor(
    components: readonly Component[],
    deps: { log: Logger; readiness: Readiness; now: () => number },
  ) {
    const names = new Set<string>();
    for (const c of components) {
      if (names.has(c.name)) throw new Error(`two components are named "${c.name}"`);
      names.add(c.name);
      if (c.ready) deps.readiness.register(c.name, c.ready.bind(c));
      if (c.degraded) deps.readiness.registerDegraded(c.name, c.degraded.bind(c));
    }
    this.#components = components;
    this.#log = deps.log;
    this.#now = deps.now;
  }

  /** Every route of every component. */
  routes(): Route[] {
    return this.#components.flatMap((c) => c.routes ?? []);
  }

  /** Starts each component in order; if one fails, the ones already started are stopped. */
  async start(): Promise<void> {
    for (const component of this.#components) {
      try {
        await component.start?.();
        this.#started.push(component);
      } catch (error) {
        await this.stop(this.#now() + 2_000);
        throw error;
      }
    }
  }

  /** Stops started components in reverse order; each failure is logged and the rest still stop. */
  async stop(deadline: number): Promise<{ drained: boolean }> {
    let drained = true;
    for (const component of this.#started.splice(0).reverse()) {
      try {
        if ((await component.stop?.(deadline)) === false) drained = false;
      } catch (error) {
        drained = false;
        this.#log.warn({ err: error, component: component.name }, 'a component failed to stop cleanly');
      }
    }
    return { drained };
  }
}
