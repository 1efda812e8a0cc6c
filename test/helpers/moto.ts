import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './process.js';

export interface Moto {
  url: string;
  stop(): Promise<void>;
}

function findMotoServer(): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' });
  const found = which.status === 0 ? which.stdout.trim() : '';
  if (found) return found;
  return ['/root/.pyenv/shims/moto_server', '/usr/local/bin/moto_server'].find((p) => existsSync(p));
}

/**
 * Starts moto_server (an independent Secrets Manager emulator) on 127.0.0.1, or returns undefined
 * when it is not installed. Callers must say so loudly: see {@link warnMotoMissing}.
 */
export async function startMoto(): Promise<Moto | undefined> {
  const bin = findMotoServer();
  if (!bin && process.env.CI === 'true') {
    // In CI the independent check is not optional: a missing emulator fails the run, never skips it.
    throw new Error(
      'moto_server is required when CI=true (pip install "moto[server]"); the moto runs cannot be skipped in CI',
    );
  }
  if (!bin) return undefined;
  const port = await freePort();
  const child: ChildProcess = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 20_000;
  for (;;) {
    try {
      await fetch(`${url}/moto-api/`);
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > until) {
        kill();
        throw new Error(`moto_server did not start on ${url}`, { cause: error });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    async stop() {
      process.removeListener('exit', kill);
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A visible warning: the moto runs of `suite` are skipped, never silently. */
export function warnMotoMissing(suite: string): void {
  console.warn(
    `\n*** moto_server not found: the moto runs of ${suite} are SKIPPED. Install it (pip install "moto[server]") to hold the sandbox to an independent Secrets Manager. ***\n`,
  );
}
