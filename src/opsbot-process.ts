import { COMMANDS } from '../commands/index.js';
import { type RunningOpsbot, startOpsbot } from './app.js';
import { auditSecret } from './audit/audit-secret.js';
import { systemClock } from './clock.js';
import { envVariableFor } from './config/secret-variables.js';
import { type Config, type Env, loadConfig } from './config.js';
import { ConfigError, UserFacingError } from './errors.js';
import { EXIT } from './exit-codes.js';
import { CONFIG_SECTIONS, FEATURES } from './features.js';
import { INTEGRATIONS } from './integrations/index.js';
import { IntegrationRegistry } from './integrations/registry.js';
import { slack } from './integrations/slack.js';
import type { ProcessGuard } from './process-guard.js';
import { appTokenProblem } from './slack/socket-receiver.js';

/** Hard limit for a graceful stop; SIGTERM to exit within this many milliseconds. */
const STOP_LIMIT_MS = 10_000;

/**
 * The server process, loaded by `main.ts` once the Node.js version is known to be good: reads the
 * environment, calls the one wiring function ({@link startOpsbot}) with the real integrations and
 * commands, then runs until SIGTERM/SIGINT (exit 0), a programming error reported by the `guard`
 * (drain, exit 1), or a secret from the `env` source that can never become usable (exit 2). The
 * only place that reads `process.env` and installs signal handlers.
 */
export async function runOpsbot(env: Env, options: { guard?: ProcessGuard } = {}): Promise<number> {
  let config: Config;
  let app: RunningOpsbot;
  try {
    config = loadConfig(env, {
      secretNames: [...INTEGRATIONS.map((i) => i.name), auditSecret.name],
      sections: CONFIG_SECTIONS,
    });
    app = await startOpsbot({
      config,
      env,
      integrations: INTEGRATIONS,
      commands: COMMANDS,
      features: FEATURES,
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
  options.guard?.attach(log);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (code: number) => {
      if (stopping) return;
      stopping = true;
      const failsafe = setTimeout(() => {
        log.error('graceful stop took too long; exiting');
        resolve(EXIT.failure);
      }, STOP_LIMIT_MS - 500);
      failsafe.unref();
      app.stop(STOP_LIMIT_MS - 2_000).then(
        () => {
          clearTimeout(failsafe);
          log.flush();
          resolve(code);
        },
        (error: unknown) => {
          log.error({ err: error }, 'stop failed');
          resolve(EXIT.failure);
        },
      );
    };
    const onSignal = (signal: NodeJS.Signals) => {
      log.info({ signal }, 'stopping');
      stop(EXIT.ok);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    // The guard has logged the fault (fatal); drain and exit non-zero.
    options.guard?.fatal.then(() => stop(EXIT.failure));
    app.loading.then(() => {
      if (stopping || config.secrets.source !== 'env') return;
      const problem = envSecretProblem(app, config);
      if (!problem) return;
      log.error({ problem }, 'opsbot cannot start');
      process.stderr.write(`opsbot cannot start: ${problem}\n`);
      stop(EXIT.config);
    });
  });
}

/**
 * With the `env` source a secret cannot change while opsbot runs, so one that is unusable after the
 * first load stays unusable: the problem in one line (never the value), or undefined when all is well.
 */
export function envSecretProblem(app: Pick<RunningOpsbot, 'provider'>, config: Config): string | undefined {
  const required = [...new IntegrationRegistry(INTEGRATIONS).catalog().values()].filter((s) => s.required);
  for (const { name } of required) {
    if (app.provider.isLoaded(name)) continue;
    return `${envVariableFor(name)}: ${whyUnusable(() => app.provider.current(name))}`;
  }
  if (config.slack.mode === 'socket' && !app.provider.current(slack.secret).value.reveal().appToken) {
    return appTokenProblem(envVariableFor('slack'), false);
  }
  return undefined;
}

/** The user-facing reason a read fails (it names the problem, never the value). */
function whyUnusable(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    if (error instanceof UserFacingError) return error.message;
  }
  return 'it could not be loaded';
}
