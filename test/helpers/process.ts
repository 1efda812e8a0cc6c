import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** Spawning opsbot as operators run it, and waiting on what it serves and logs. */
export const ROOT = new URL('../..', import.meta.url).pathname;

/** Only PATH and HOME from the outside: the test controls every opsbot setting. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...extra };
}

export interface StartOptions {
  /** The script to run: `src/main.ts` (through tsx) by default; a `.js` path runs without tsx. */
  entry?: string;
  /** Node options before the script (`--import` preloads). */
  nodeArgs?: string[];
  /** Arguments after the script. */
  args?: string[];
  cwd?: string;
}

/** Runs opsbot's server (or another entry point) as a child process, collecting its output. */
export function startMain(
  env: NodeJS.ProcessEnv,
  options: StartOptions = {},
): {
  child: ChildProcess;
  output: () => { stdout: string; stderr: string };
} {
  const entry = options.entry ?? 'src/main.ts';
  const loader = entry.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(
    process.execPath,
    [...loader, ...(options.nodeArgs ?? []), entry, ...(options.args ?? [])],
    { cwd: options.cwd ?? ROOT, env, stdio: 'pipe' },
  );
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

export async function waitFor(url: string, timeoutMs = 30_000): Promise<Response> {
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

export async function waitForStatus(url: string, status: number, timeoutMs = 30_000): Promise<Response> {
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
  timeoutMs = 30_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!output().stdout.includes(`"msg":"${msg}"`)) {
    if (Date.now() > until) throw new Error(`no "${msg}" log line within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves with the exit code, or with `'running'` if the child is still up after `timeoutMs`. */
export function exitWithin(child: ChildProcess, timeoutMs: number): Promise<number | null | 'running'> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('running'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/**
 * Compiles the production build (what `npm run build` makes, what `npm start` runs) into
 * `node_modules/.cache/opsbot-build-<pid>`, inside node_modules so it resolves the installed
 * dependencies as `dist/` does. Returns the output directory; the caller removes it.
 */
export function buildProduction(): string {
  const out = join(ROOT, 'node_modules/.cache', `opsbot-build-${process.pid}`);
  try {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--outDir', out],
      { cwd: ROOT, stdio: 'pipe' },
    );
  } catch (error) {
    rmSync(out, { recursive: true, force: true });
    const output = (error as { stdout?: Buffer }).stdout?.toString() ?? '';
    throw new Error(`the production build failed (fix it, then run the test again):\n${output}`);
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  return out;
}

/**
 * A `--import` preload that makes this Node.js look like Node 20: `process.versions.node` says
 * 20.11.1 and importing `node:sqlite` fails as it does there. Loaded after tsx, so its hook sees
 * every import first.
 */
export const FAKE_NODE_20 = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
Object.defineProperty(process.versions, 'node', { value: '20.11.1' });
registerHooks({
  resolve(specifier, context, next) {
    if (specifier === 'node:sqlite') {
      const error = new Error('No such built-in module: node:sqlite');
      error.code = 'ERR_UNKNOWN_BUILTIN_MODULE';
      throw error;
    }
    return next(specifier, context);
  },
});
`)}`;
