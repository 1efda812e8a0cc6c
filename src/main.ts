import { pathToFileURL } from 'node:url';
import { COMMANDS } from '../commands/index.js';
import { startOpsbot } from './app.js';
import { systemClock } from './clock.js';
import { type Env, loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { INTEGRATIONS } from './integrations/index.js';
import { quietSqliteWarning } from './quiet-warnings.js';

/** Exit codes: 0 clean stop, 1 runtime failure, 2 configuration error. */
export const EXIT = { ok: 0, failure: 1, config: 2 } as const;

/** Hard limit for a graceful stop; SIGTERM to exit within this many milliseconds. */
const STOP_LIMIT_MS = 10_000;

/**
 * The production entry point: reads the environment, then calls the one wiring function
 * ({@link startOpsbot}) with the real integrations and commands. The only place that reads
 * `process.env` and installs signal handlers.
 */
export async function main(env: Env = process.env): Promise<number> {
  let app: Awaited<ReturnType<typeof startOpsbot>>;
  try {
    const config = loadConfig(env, { secretNames: INTEGRATIONS.map((i) => i.name) });
    app = await startOpsbot({
      config,
      env,
      integrations: INTEGRATIONS,
      commands: COMMANDS,
      clock: systemClock,
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT.config;
    }
    throw error;
  }
  const { log } = app;

  return new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      log.info({ signal }, 'stopping');
      const failsafe = setTimeout(() => {
        log.error('graceful stop took too long; exiting');
        resolve(EXIT.failure);
      }, STOP_LIMIT_MS - 500);
      failsafe.unref();
      app.stop(STOP_LIMIT_MS - 2_000).then(
        () => {
          clearTimeout(failsafe);
          log.flush();
          resolve(EXIT.ok);
        },
        (error: unknown) => {
          log.error({ err: error }, 'stop failed');
          resolve(EXIT.failure);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  quietSqliteWarning();
  main().then(
    (code) => {
      process.exitCode = code;
      setTimeout(() => process.exit(code), 200).unref();
    },
    (error: unknown) => {
      process.stderr.write(
        `opsbot failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exit(EXIT.failure);
    },
  );
}
