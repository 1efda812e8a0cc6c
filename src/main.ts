import { pathToFileURL } from 'node:url';
import { COMMANDS } from '../commands/index.js';
import { startOpsbot } from './app.js';
import { TrailAuditSink } from './audit/sink.js';
import { systemClock } from './clock.js';
import { type Env, loadConfig } from './config.js';
import { createCredentials } from './credentials/from-config.js';
import { ConfigError } from './errors.js';
import { createLogger, SecretRedactor } from './log.js';
import { createMetrics } from './metrics.js';
import { quietSqliteWarning } from './quiet-warnings.js';
import { openState } from './store/open.js';

/** Exit codes: 0 clean stop, 1 runtime failure, 2 configuration error. */
export const EXIT = { ok: 0, failure: 1, config: 2 } as const;

/** Hard limit for a graceful stop; SIGTERM to exit within this many milliseconds. */
const STOP_LIMIT_MS = 10_000;

/**
 * The composition root: configuration → logger → (secret source → provider → integrations → store)
 * → HTTP app. The only place that reads `process.env` and installs signal handlers.
 */
export async function main(env: Env = process.env): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT.config;
    }
    throw error;
  }

  const redactor = new SecretRedactor();
  const log = createLogger({ level: config.logLevel, redactor });
  const key = env.OPSBOT_SECRET_FILE_KEY;
  if (key) redactor.register(key.trim());
  const metrics = createMetrics();
  let state: ReturnType<typeof openState>;
  try {
    state = openState(config.state);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT.config;
    }
    throw error;
  }
  const audit = new TrailAuditSink(state, log);
  const { provider, metrics: credentialMetrics } = createCredentials({
    config,
    env,
    log,
    redactor,
    registry: metrics,
    audit,
    clock: systemClock,
  });
  const app = await startOpsbot({
    config,
    log,
    metrics,
    credentials: provider,
    credentialMetrics,
    state,
    audit,
    clock: systemClock,
    commands: COMMANDS,
  });

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
