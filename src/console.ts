import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { ConsoleOptions } from './console/session.js';
import { nodeVersionProblem } from './node-version.js';
import { quietSqliteWarning } from './quiet-warnings.js';

/**
 * `npm run console` (`tsx src/console.ts`): the whole bot in a terminal against simulated Slack,
 * Secrets Manager and GitHub, no account needed (src/console/session.ts); `npm run console --
 * --socket-mode` runs it as deployed with no inbound path. This entry checks the
 * Node.js version before anything else is loaded: the bot needs node:sqlite, so the rest is
 * imported only once the version is known to be new enough. Ctrl-C, SIGTERM and Ctrl-D stop the
 * bot and remove its temp dir.
 */
export async function runConsole(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  options: ConsoleOptions = {},
): Promise<void> {
  const session = await import('./console/session.js');
  return session.runConsole(input, output, options);
}

const SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/** The console's arguments (`npm run console -- --socket-mode`), or what to say about them. */
export function consoleArgs(argv: readonly string[]): { socketMode: boolean } | { problem: string } {
  let socketMode = false;
  for (const arg of argv.slice(0, 10)) {
    if (arg === '--socket-mode') socketMode = true;
    else
      return {
        problem: `${arg.slice(0, 40)}: the console takes --socket-mode (Slack over Socket Mode, alerts through the intake function, AWS events through a queue) or nothing (HTTP mode)`,
      };
  }
  return { socketMode };
}

/** Runs the console on stdin/stdout; the first signal stops it cleanly, a second one at once. */
async function main(): Promise<void> {
  const stop = new AbortController();
  let exitCode = 0;
  let dir: string | undefined;
  for (const [signal, code] of Object.entries(SIGNALS)) {
    process.on(signal, () => {
      if (stop.signal.aborted) {
        if (dir) rmSync(dir, { recursive: true, force: true });
        process.exit(code);
      }
      exitCode = code;
      stop.abort();
    });
  }
  // `OPSBOT_SECRET_SOURCE=vault npm run console`: the bot reads the simulated Vault instead.
  const source = process.env.OPSBOT_SECRET_SOURCE?.trim();
  if (source && source !== 'aws' && source !== 'vault') {
    process.stderr.write(
      `OPSBOT_SECRET_SOURCE=${source.slice(0, 20)}: the console simulates aws (Secrets Manager) or vault; unset it or use one of those\n`,
    );
    process.exit(2);
  }
  const args = consoleArgs(process.argv.slice(2));
  if ('problem' in args) {
    process.stderr.write(`${args.problem}\n`);
    process.exit(2);
  }
  await runConsole(process.stdin, process.stdout, {
    signal: stop.signal,
    ...(source === 'vault' ? { secretSource: 'vault' as const } : {}),
    ...(args.socketMode ? { socketMode: true } : {}),
    onStart: (bot) => {
      dir = bot.dir;
    },
    // On a terminal readline reads Ctrl-C as a key: make it the signal it is elsewhere.
    onInterrupt: () => process.kill(process.pid, 'SIGINT'),
  });
  process.exit(exitCode);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const problem = nodeVersionProblem(process.versions.node);
  if (problem) {
    process.stderr.write(`${problem}\n`);
    process.exit(2);
  }
  quietSqliteWarning();
  main().catch((error: unknown) => {
    process.stderr.write(`console failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
