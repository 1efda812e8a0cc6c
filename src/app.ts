import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { Readiness } from './health.js';
import { HttpServer, sendJson, sendText } from './http/server.js';
import type { Logger } from './log.js';
import type { Registry } from './metrics.js';

export interface OpsbotDeps {
  config: Config;
  log: Logger;
  metrics: Registry;
  /** Host to bind; 127.0.0.1 in tests and the console, all interfaces in production. */
  host?: string;
}

export interface RunningOpsbot {
  address: AddressInfo;
  readiness: Readiness;
  /** Graceful stop: not ready, stop accepting, finish in-flight work, close components. */
  stop(deadlineMs?: number): Promise<{ drained: boolean }>;
}

type Closer = () => Promise<void> | void;

/**
 * Builds and starts the bot from its dependencies. `main.ts` passes real ones; tests and the
 * console pass simulated ones. Nothing here reads `process.env`.
 */
export async function startOpsbot(deps: OpsbotDeps): Promise<RunningOpsbot> {
  const { config, log, metrics } = deps;
  const readiness = new Readiness();
  const closers: Closer[] = [];

  const server = new HttpServer({
    log,
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
      {
        method: 'GET',
        path: '/metrics',
        handler: async (_req, res) => sendText(res, 200, await metrics.metrics(), metrics.contentType),
      },
    ],
  });

  for (const warning of config.warnings) log.warn(warning);

  const address = await server.listen(config.port, deps.host);
  log.info(
    { port: address.port, secretSource: config.secrets.source, slackMode: config.slack.mode },
    'opsbot listening',
  );

  let stopping: Promise<{ drained: boolean }> | undefined;
  return {
    address,
    readiness,
    stop(deadlineMs = 8_000) {
      stopping ??= (async () => {
        readiness.markShuttingDown();
        const result = await server.close(deadlineMs);
        for (const close of closers.reverse()) {
          try {
            await close();
          } catch (error) {
            log.warn({ err: error }, 'a component failed to close cleanly');
          }
        }
        log.info({ drained: result.drained }, 'opsbot stopped');
        return result;
      })();
      return stopping;
    },
  };
}
