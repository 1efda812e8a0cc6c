import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** Spawning opsbot as operators run it, and waiting on what it serves and logs. */
export const ROOT = new URL('../..', import.meta.url).pathname;

/** Only PATH and HOME from the outside: the test controls every opsbot setting. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...extra };
}

export function startMain(env: NodeJS.ProcessEnv): {
  child: ChildProcess;
  output: () => { stdout: string; stderr: string };
} {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env,
    stdio: 'pipe',
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return { child, output: () => ({ stdout, stderr }) };
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(url: string, timeoutMs = 10_000): Promise<Response> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fetch(url);
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function waitForStatus(url: string, status: number, timeoutMs = 10_000): Promise<Response> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(url);
    if (res.status === status || Date.now() > until) return res;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitForLog(
  output: () => { stdout: string },
  msg: string,
  timeoutMs = 10_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!output().stdout.includes(`"msg":"${msg}"`)) {
    if (Date.now() > until) throw new Error(`no "${msg}" log line within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
