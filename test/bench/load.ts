import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The parent's side of the Slack benchmark's load generator. The generator itself
 * (`load-worker.ts`) runs in a child process, so the app under test does not share its event loop
 * (or its CPU time) with the sender; both apps are driven by the same worker alike.
 */

/** How to send: open loop at a fixed rate, or closed loop with a number of senders. */
export type LoadPlan =
  | { mode: 'fixed' /** Requests per second. */; rate: number; seconds: number }
  | { mode: 'saturate' /** Senders, each waiting for its ack. */; concurrency: number; seconds: number };

/** What to send: signed `/bench ping <n>` commands, n counting up from `firstN`. */
export type LoadJob = LoadPlan & {
  /** http://127.0.0.1:PORT/…; the worker sends nowhere else. */
  url: string;
  firstN: number;
  signingSecret: string;
  /** Each request's response_url is `${responseUrl}/${n}`. */
  responseUrl: string;
};

export interface LoadResult {
  /** Request numbers are firstN … firstN + sent − 1; arrays below are indexed by n − firstN. */
  firstN: number;
  sent: number;
  /** Acked with HTTP 200. */
  ok: number;
  failed: number;
  seconds: number;
  /** When each request was sent: epoch ms, sub-ms (`performance.timeOrigin + performance.now()`). */
  sentAtMs: Float64Array;
  /** Send → 200 ack in ms; NaN when the request failed. */
  ackMs: Float64Array;
  /** Failure reasons (status, socket error, timeout) and how often each happened. */
  errors: Record<string, number>;
}

export type ToWorker = { type: 'run'; id: number; job: LoadJob } | { type: 'clock'; id: number };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: LoadResult }
  | { type: 'error'; id: number; message: string }
  | { type: 'clock'; id: number; epochMs: number };

export interface LoadWorker {
  pid: number | undefined;
  /** Runs a job; rejects if it does not finish within its own length plus a grace period. */
  run(job: LoadJob): Promise<LoadResult>;
  /**
   * How far the worker's epoch clock is from this process's (worker − here, ms), from the IPC
   * round trip with the smallest delay; `uncertaintyMs` is half that round trip.
   */
  clockOffset(samples?: number): Promise<{ offsetMs: number; uncertaintyMs: number }>;
  /** Disconnects (the worker exits on its own); kills it if it has not exited within 5 s. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const RUN_GRACE_MS = 30_000;
const CLOCK_TIMEOUT_MS = 2_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * Forks the compiled `load-worker.js` next to this module (`load-worker.ts` when this module runs
 * from source under a TypeScript loader, which fork passes on through execArgv).
 */
export async function startLoadWorker(): Promise<LoadWorker> {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const path = fileURLToPath(new URL(`./load-worker.${extension}`, import.meta.url));
  if (!existsSync(path)) throw new Error(`the load worker is not where it should be: ${path}`);
  const child = fork(path, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve: (m: FromWorker) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited: Error | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = new Error(`the load worker exited (code ${code}, signal ${signal})`);
      for (const p of pending.values()) p.reject(exited);
      pending.clear();
      resolve();
    });
  });
  let failure: Error | undefined;
  child.on('error', (error) => {
    failure = error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  });
  let ready: (() => void) | undefined;
  child.on('message', (message: FromWorker) => {
    if (message.type === 'ready') {
      ready?.();
      return;
    }
    const p = pending.get(message.id);
    pending.delete(message.id);
    p?.resolve(message);
  });
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ready = resolve;
        child.once('error', reject);
        exitedPromise.then(() => reject(exited));
      }),
      START_TIMEOUT_MS,
      'the load worker to start',
    );
  } catch (error) {
    await stopChild(child, exitedPromise);
    throw error;
  }

  const ask = (message: ToWorker, timeoutMs: number, what: string): Promise<FromWorker> => {
    const gone = exited ?? failure;
    if (gone) return Promise.reject(gone);
    const answer = new Promise<FromWorker>((resolve, reject) => {
      pending.set(message.id, { resolve, reject });
      child.send(message, (error) => {
        if (error) reject(error);
      });
    });
    return withTimeout(answer, timeoutMs, what).finally(() => pending.delete(message.id));
  };

  return {
    pid: child.pid,
    async run(job) {
      const answer = await ask(
        { type: 'run', id: nextId++, job },
        job.seconds * 1_000 + RUN_GRACE_MS,
        `a ${job.seconds} s ${job.mode} run against ${job.url}`,
      );
      if (answer.type === 'error') throw new Error(`the load worker failed: ${answer.message}`);
      if (answer.type !== 'result') throw new Error(`unexpected answer from the load worker: ${answer.type}`);
      return answer.result;
    },
    async clockOffset(samples = 25) {
      let best = { offsetMs: 0, uncertaintyMs: Number.POSITIVE_INFINITY };
      for (let i = 0; i < samples; i++) {
        const before = performance.timeOrigin + performance.now();
        const answer = await ask({ type: 'clock', id: nextId++ }, CLOCK_TIMEOUT_MS, 'the load worker clock');
        const after = performance.timeOrigin + performance.now();
        if (answer.type !== 'clock')
          throw new Error(`unexpected answer from the load worker: ${answer.type}`);
        const half = (after - before) / 2;
        if (half < best.uncertaintyMs)
          best = { offsetMs: answer.epochMs - (before + half), uncertaintyMs: half };
      }
      return best;
    },
    stop: () => stopChild(child, exitedPromise),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.connected) child.disconnect();
  const timer = new Promise<'timeout'>((r) => setTimeout(r, STOP_TIMEOUT_MS, 'timeout').unref());
  if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout') {
    child.kill('SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS).unref())]);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Ack latencies (ms) of the requests that were acked with 200. */
export function ackLatencies(result: LoadResult): number[] {
  return Array.from(result.ackMs).filter((ms) => !Number.isNaN(ms));
}

/** Nearest-rank percentile; NaN for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
