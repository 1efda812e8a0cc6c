import { Agent, request } from 'node:http';

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  seconds: number;
  latenciesMs: number[];
}

export type RequestFactory = () => { body: string; headers: Record<string, string> };

/**
 * Fires signed requests at `url` at a fixed rate (open loop: a slow server does not slow the
 * sender) for `seconds`, measuring each acknowledgement.
 */
export async function fixedRate(
  url: string,
  make: RequestFactory,
  rate: number,
  seconds: number,
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const inflight: Promise<void>[] = [];
  const started = performance.now();
  const total = Math.round(rate * seconds);
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1_000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      one(agent, url, make()).then(
        (ms) => {
          ok++;
          latencies.push(ms);
        },
        () => {
          failed++;
        },
      ),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - started) / 1_000;
  agent.destroy();
  return { sent: total, ok, failed, seconds: elapsed, latenciesMs: latencies };
}

/** Closed loop: `concurrency` senders, each sending its next request when the last is acked. */
export async function saturate(
  url: string,
  make: RequestFactory,
  concurrency: number,
  seconds: number,
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  const end = started + seconds * 1_000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        try {
          latencies.push(await one(agent, url, make()));
          ok++;
        } catch {
          failed++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1_000;
  agent.destroy();
  return { sent: ok + failed, ok, failed, seconds: elapsed, latenciesMs: latencies };
}

function one(
  agent: Agent,
  url: string,
  req: { body: string; headers: Record<string, string> },
): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const r = request(url, { method: 'POST', headers: req.headers, agent }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(performance.now() - t0)
          : reject(new Error(`status ${res.statusCode}`)),
      );
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
