import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.js';
import type { Lifecycle } from '../component.js';
import type { Readiness } from '../health.js';
import { HttpServer, type Route, sendJson, sendText } from '../http/server.js';
import type { Logger } from '../log.js';
import type { Registry } from '../metrics.js';

/** opsbot's listeners: `/healthz`, `/readyz`, the components' routes, and `/metrics` (on its own port when one is set). */
export class OpsbotServers {
  readonly #main: HttpServer;
  readonly #metrics: HttpServer | undefined;

  constructor(deps: {
    log: Logger;
    clock: Clock;
    metrics: Registry;
    readiness: Readiness;
    lifecycle: Lifecycle;
    /** OPSBOT_METRICS_PORT: /metrics on a listener of its own (not exposed beyond the task). */
    separateMetrics: boolean;
  }) {
    const { log, clock, metrics, readiness } = deps;
    const metricsRoute = {
      method: 'GET',
      path: '/metrics',
      handler: async (_req, res) => sendText(res, 200, await metrics.metrics(), metrics.contentType),
    } satisfies Route;
    this.#metrics = deps.separateMetrics ? new HttpServer({ log, clock, routes: [metricsRoute] }) : undefined;
    this.#main = new HttpServer({
      log,
      clock,
      registry: metrics,
      routes: [
        { method: 'GET', path: '/healthz', handler: (_req, res) => sendText(res, 200, 'ok\n') },
        {
          method: 'GET',
          path: '/readyz',
          handler: async (_req, res) => {
            const report = await readiness.report();
            sendJson(res, report.ready ? 200 : 503, report);
          },
        },
        ...(this.#metrics ? [] : [metricsRoute]),
        ...deps.lifecycle.routes(),
      ],
    });
  }

  async listen(
    port: number,
    metricsPort: number | undefined,
    host: string | undefined,
  ): Promise<{ address: AddressInfo; metricsAddress?: AddressInfo }> {
    const metricsAddress =
      this.#metrics && metricsPort !== undefined ? await this.#metrics.listen(metricsPort, host) : undefined;
    const address = await this.#main.listen(port, host);
    return { address, ...(metricsAddress ? { metricsAddress } : {}) };
  }

  /** Stops accepting; true when every in-flight request finished within the deadline. */
  async close(deadlineMs: number): Promise<{ drained: boolean }> {
    const [main] = await Promise.all([this.#main.close(deadlineMs), this.#metrics?.close(deadlineMs)]);
    return main;
  }
}
