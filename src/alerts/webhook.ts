import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Component } from '../component.js';
import { type Route, readBody, refuse, sendJson } from '../http/server.js';
import { type AlertRoutes, routeAlert } from './routes.js';
import {
  type AlertDestination,
  DatadogWebhookCore,
  WEBHOOK_PATH,
  WEBHOOK_SECRET_HEADER,
  type WebhookCoreDeps,
} from './webhook-core.js';

export {
  MAX_WEBHOOK_BODY_BYTES,
  WEBHOOK_PATH,
  WEBHOOK_SECRET_HEADER,
} from './webhook-core.js';

export interface WebhookDeps extends Omit<WebhookCoreDeps, 'destination' | 'component' | 'stored'> {
  routes: AlertRoutes;
  /** Tells the channel's dispatcher there is new work. */
  stored?: (channel: string) => void | Promise<void>;
}

/** An alert's destination by the bot's routes: a channel, or the unrouted record. */
export function routedDestination(
  routes: AlertRoutes,
  alert: Parameters<typeof routeAlert>[1],
): AlertDestination {
  const channel = routeAlert(routes, alert);
  return channel ? { kind: 'channel', channel } : { kind: 'unrouted' };
}

/**
 * `POST /webhooks/datadog` on opsbot's own listener (README.md, "Datadog"): the node http transport
 * of {@link DatadogWebhookCore}, with the bot's routes. The header is read before the body, and a
 * refusal closes the connection, so whatever body the client still sends is never read.
 */
export class DatadogWebhook implements Component {
  readonly name = 'datadog-webhook';
  readonly routes: readonly Route[];
  readonly #core: DatadogWebhookCore;

  constructor(deps: WebhookDeps) {
    const { routes, stored, ...rest } = deps;
    this.#core = new DatadogWebhookCore({
      ...rest,
      component: this.name,
      destination: (alert) => routedDestination(routes, alert),
      // The channel's dispatcher is told of new work only (a duplicate was told when it was stored).
      stored: async (destination, added) => {
        if (added && destination.kind === 'channel') await stored?.(destination.channel);
      },
    });
    this.routes = [{ method: 'POST', path: WEBHOOK_PATH, handler: (req, res) => this.#handle(req, res) }];
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const presented = req.headers[WEBHOOK_SECRET_HEADER];
    const answer = await this.#core.handle({
      secret: typeof presented === 'string' ? presented : undefined,
      body: (limit) => readBody(req, limit),
    });
    if (answer.status === 202) sendJson(res, answer.status, answer.body);
    else refuse(res, answer.status, answer.body, answer.retryAfterSeconds);
  }
}
