import { pathToFileURL } from 'node:url';
import type { Env } from './config.js';
import { EXIT } from './exit-codes.js';
import { nodeVersionProblem } from './node-version.js';
import { ProcessGuard } from './process-guard.js';
import { quietSqliteWarning } from './quiet-warnings.js';

export { EXIT } from './exit-codes.js';

/**
 * The production entry point (`npm start` runs the build of this file). It imports nothing that
 * needs Node 22: it checks the Node.js version first, then loads the server (`runOpsbot` in
 * `opsbot-process.ts`) with a dynamic import, so on Node 20 the answer is one line instead of a
 * stack trace ending in "No such built-in module: node:sqlite". Run as a process, it first installs
 * the {@link ProcessGuard}: no error reaches Node's default printer.
 *
 * @returns the exit code: {@link EXIT}.
 */
export async function main(env: Env = process.env, options: { guard?: ProcessGuard } = {}): Promise<number> {
  const problem = nodeVersionProblem(process.versions.node);
  if (problem) {
    process.stderr.write(`${problem}\n`);
    return EXIT.config;
  }
  const { runOpsbot } = await import('./opsbot-process.js');
  return runOpsbot(env, options);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // First: from here on no error reaches Node's default printer (a raw stack on stderr).
  const guard = new ProcessGuard().install();
  quietSqliteWarning();
  main(process.env, { guard }).then(
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
