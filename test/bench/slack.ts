import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import bolt from '@slack/bolt';
import { startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { BENCH_POLICY, benchProbe, currentSigningSecret, envNumber } from './bench-probe.js';
import { ackLatencies, type LoadPlan, type LoadResult, percentile, startLoadWorker } from './load.js';

/**
 * `npm run bench -- slack`: signed slash commands through opsbot (signature check against the
 * provider's secrets, Bolt, routing, access policy, audit into SQLite, a trivial handler whose ack
 * is its whole answer) side by side with a bare Bolt app that only acks the same requests.
 * 1. fixed rate: BENCH_SLACK_RATE (200) requests/s for BENCH_SLACK_SECONDS (30), bare Bolt then
 *    opsbot — ack latency p50/p99, and for opsbot request sent → its audit record stored p50/p99
 *    (the ack comes before routing, policy, handler and audit; the audit record comes after all);
 * 2. saturation: 50 concurrent senders, BENCH_SLACK_SATURATE_SECONDS (5) per app and round, 5
 *    rounds, each interleaving the two apps in 4 slices A B B A A B B A (so a machine whose speed
 *    drifts, a shared VM, weighs on both alike); each side's median slice, its min–max spread,
 *    and the median of the per-round ratios.
 * The load generator runs in a child process of its own (load-worker.ts), so neither app shares
 * its event loop with the sender. Each request is `/bench ping <n>` with n unique across the
 * benchmark; its audit record carries `args: n=<n>`. After every opsbot run the benchmark waits
 * (at most 10 s) until every request acked with 200 has its audit record, and fails if one is
 * missing; at the end it verifies the audit chain.
 */

const ROUNDS = 5;
/** Slices per app per round (each `BENCH_SLACK_SATURATE_SECONDS / SLICES` long), interleaved. */
const SLICES = 4;
const CONCURRENCY = 50;
const AUDIT_WAIT_MS = 10_000;

export async function benchSlack(): Promise<void> {
  const seconds = envNumber('BENCH_SLACK_SECONDS', 30);
  const saturateSeconds = envNumber('BENCH_SLACK_SATURATE_SECONDS', 5);
  const rate = envNumber('BENCH_SLACK_RATE', 200);
  const audits = new BenchAudits();
  const sink = await responseSink();
  const load = await startLoadWorker();
  try {
    // BENCH_SLACK_SECURITY=1: with the detections tailing the trail (production pacing), timing
    // each of their passes: the share of the event loop they take is what they cost requests.
    let tail: { stats(): { passes: number; records: number; busyMs: number; recordsMs: number } } | undefined;
    const since = performance.now();
    const bot = await startSandboxBot({
      configYaml: BENCH_POLICY,
      extraCommands: [benchProbe],
      onAuditStored: (record) => audits.stored(record),
      ...(process.env.BENCH_SLACK_SECURITY === '1'
        ? {
            security: {
              everyMs: 5_000,
              onBuilt: (built) => {
                tail = built;
              },
            },
          }
        : {}),
    });
    try {
      const signingSecret = currentSigningSecret(bot);
      const bare = await bareBolt(signingSecret, bot.slack.apiUrl);
      try {
        const clock = await load.clockOffset();
        console.log(
          `slack.load_worker.clock_offset: ${clock.offsetMs.toFixed(3)} ms (worker − bot process, ±${clock.uncertaintyMs.toFixed(3)} ms)`,
        );
        let nextN = 1;
        const drive = async (url: string, plan: LoadPlan) => {
          const result = await load.run({
            ...plan,
            url,
            firstN: nextN,
            signingSecret,
            responseUrl: sink.url,
          });
          nextN += result.sent;
          return result;
        };
        const opsbotUrl = `${bot.base}/slack/events`;

        report('bare_bolt.fixed_rate', await drive(bare.url, { mode: 'fixed', rate, seconds }));
        const opsFixed = await drive(opsbotUrl, { mode: 'fixed', rate, seconds });
        report('opsbot.fixed_rate', opsFixed);
        await audits.expectEveryAcked('opsbot.fixed_rate', opsFixed);
        const toStored = audits.requestToStoredMs(opsFixed);
        console.log(`slack.opsbot.request_to_audit_stored_p50: ${percentile(toStored, 50).toFixed(2)} ms`);
        console.log(`slack.opsbot.request_to_audit_stored_p99: ${percentile(toStored, 99).toFixed(2)} ms`);

        const bareRuns: LoadResult[] = [];
        const opsRuns: LoadResult[] = [];
        const ratios: number[] = [];
        // Each round interleaves the two apps in short slices, A B B A …, so that the machine's
        // speed drifting during a round (a shared VM) weighs on both alike.
        const slice = {
          mode: 'saturate',
          concurrency: CONCURRENCY,
          seconds: Math.max(1, saturateSeconds / SLICES),
        } as const;
        for (let round = 0; round < ROUNDS; round++) {
          const bareSlices: LoadResult[] = [];
          const opsSlices: LoadResult[] = [];
          for (let i = 0; i < SLICES; i++) {
            const order = i % 2 === 0 ? (['bare', 'ops'] as const) : (['ops', 'bare'] as const);
            for (const which of order) {
              if (which === 'bare') bareSlices.push(await drive(bare.url, slice));
              else {
                const ops = await drive(opsbotUrl, slice);
                opsSlices.push(ops);
                await audits.expectEveryAcked(`opsbot.saturated.round${round + 1}`, ops);
              }
            }
          }
          bareRuns.push(...bareSlices);
          opsRuns.push(...opsSlices);
          ratios.push(throughputOf(opsSlices) / throughputOf(bareSlices));
        }
        report('bare_bolt.saturated', medianRun(bareRuns));
        spread('bare_bolt.saturated', bareRuns);
        report('opsbot.saturated', medianRun(opsRuns));
        spread('opsbot.saturated', opsRuns);
        const pct = (r: number) => (r * 100).toFixed(1);
        console.log(
          `slack.throughput_ratio_spread: ${pct(Math.min(...ratios))}–${pct(Math.max(...ratios))} % (per round, ${ROUNDS} rounds)`,
        );
        console.log(
          `slack.throughput_ratio: ${pct(median(ratios))} % (opsbot / bare Bolt, median of ${ROUNDS}, goal >= 80 %)`,
        );

        const detections = tail?.stats();
        if (detections && detections.passes > 0) {
          const wall = performance.now() - since;
          const perRecordUs = (1_000 * detections.recordsMs) / Math.max(1, detections.records);
          // At opsbot's saturated rate every request adds one record: what checking them costs the loop.
          const saturated = throughputOf(opsRuns);
          console.log(
            `slack.detections: ${detections.passes} passes checked ${detections.records} records, holding the event loop ${detections.busyMs.toFixed(0)} ms of ${(wall / 1_000).toFixed(0)} s (${((100 * detections.busyMs) / wall).toFixed(2)} %)`,
          );
          console.log(
            `slack.detections.per_record: ${perRecordUs.toFixed(2)} us (read and checked, measured during this run)`,
          );
          console.log(
            `slack.detections.share_at_saturation: ${((saturated * perRecordUs) / 10_000).toFixed(2)} % of the event loop (${saturated.toFixed(0)} records/s × ${perRecordUs.toFixed(2)} us; per-pass work: ${(detections.busyMs - detections.recordsMs).toFixed(0)} ms over ${detections.passes} passes)`,
          );
        }
        console.log(audits.summary());
        const chain = await verifyAuditChain(bot.state);
        if (!chain.ok) {
          console.log(
            `slack.audit_records: ${chain.checked} records, chain BROKEN at ${chain.brokenAt}: ${chain.why}`,
          );
          throw new Error(`the audit chain does not verify: record ${chain.brokenAt}, ${chain.why}`);
        }
        if (chain.checked < audits.total) {
          throw new Error(
            `the audit chain holds ${chain.checked} records, fewer than the ${audits.total} bench records stored`,
          );
        }
        console.log(`slack.audit_records: ${chain.checked} records, chain verified`);
        console.log(`slack.responses_received: ${sink.count()} posts to response_url`);
      } finally {
        await bare.stop();
      }
    } finally {
      await bot.stop();
    }
  } finally {
    await load.stop();
    sink.close();
  }
}

/**
 * The bench requests' audit records as opsbot stores them: request number → when it was stored
 * (epoch ms, sub-ms, stamped as the load worker stamps send times).
 */
class BenchAudits {
  readonly #storedAt = new Map<number, number>();
  #notSuccess = 0;
  #checkedRuns = 0;
  #checkedAcked = 0;
  #extra = 0;

  get total(): number {
    return this.#storedAt.size;
  }

  stored(record: { action: string; outcome: string; details: Record<string, unknown> }): void {
    const at = performance.timeOrigin + performance.now();
    // The probe is read-only, so no intent record precedes it; skip any all the same: time the final one.
    if (record.action !== 'bench:ping' || record.outcome === 'intent') return;
    const n = /^n=(\d{1,9})$/.exec(String(record.details.args ?? ''))?.[1];
    if (n === undefined) return;
    this.#storedAt.set(Number(n), at);
    if (record.outcome !== 'success') this.#notSuccess++;
  }

  /**
   * Waits (at most 10 s) until every request of `run` acked with 200 has its audit record; throws,
   * after printing the shortfall, if some never arrive or a bench request was not handled successfully.
   */
  async expectEveryAcked(name: string, run: LoadResult): Promise<void> {
    let missing: number[] = [];
    run.ackMs.forEach((ms, i) => {
      if (!Number.isNaN(ms)) missing.push(run.firstN + i);
    });
    const acked = missing.length;
    const deadline = performance.now() + AUDIT_WAIT_MS;
    for (;;) {
      missing = missing.filter((n) => !this.#storedAt.has(n));
      if (missing.length === 0 || performance.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    let inRun = 0;
    for (let n = run.firstN; n < run.firstN + run.sent; n++) if (this.#storedAt.has(n)) inRun++;
    if (missing.length > 0) {
      console.log(
        `slack.${name}.audit_shortfall: ${missing.length} requests (${acked} acked with 200, ${inRun} audit records after ${AUDIT_WAIT_MS / 1_000} s; first missing n=${missing[0]})`,
      );
      throw new Error(`${missing.length} of ${acked} acked requests of ${name} have no audit record`);
    }
    if (this.#notSuccess > 0) {
      console.log(`slack.${name}.audit_not_success: ${this.#notSuccess} records`);
      throw new Error(`${this.#notSuccess} bench requests were not handled successfully (see the policy)`);
    }
    this.#checkedRuns++;
    this.#checkedAcked += acked;
    this.#extra += inRun - acked;
  }

  /** Request sent (worker's clock) → its audit record stored (this process's clock), for acked requests. */
  requestToStoredMs(run: LoadResult): number[] {
    const out: number[] = [];
    run.ackMs.forEach((ms, i) => {
      const stored = this.#storedAt.get(run.firstN + i);
      if (!Number.isNaN(ms) && stored !== undefined) out.push(stored - (run.sentAtMs[i] as number));
    });
    return out;
  }

  summary(): string {
    const extra = this.#extra > 0 ? `; ${this.#extra} more audited whose ack did not arrive as 200` : '';
    return `slack.opsbot.audited: ${this.#checkedAcked} of ${this.#checkedAcked} acked requests (${this.#checkedRuns} runs checked${extra})`;
  }
}

type ChainResult = { ok: boolean; checked: number; brokenAt?: number; why?: string };

/** The audit chain check, whichever shape the state store has: `audit.verify()` or `verifyAudit()`. */
async function verifyAuditChain(state: unknown): Promise<ChainResult> {
  const s = state as {
    audit?: { verify?: () => Promise<ChainResult> };
    verifyAudit?: () => Promise<ChainResult>;
  };
  if (typeof s.audit?.verify === 'function') return s.audit.verify();
  if (typeof s.verifyAudit === 'function') return s.verifyAudit();
  throw new Error('the state store has neither audit.verify() nor verifyAudit()');
}

function throughput(run: LoadResult): number {
  return run.ok / run.seconds;
}

/** Requests acked per second over several runs together. */
function throughputOf(runs: readonly LoadResult[]): number {
  const ok = runs.reduce((sum, r) => sum + r.ok, 0);
  const seconds = runs.reduce((sum, r) => sum + r.seconds, 0);
  return ok / seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** The run of median throughput (an odd number of runs). */
function medianRun(runs: LoadResult[]): LoadResult {
  return [...runs].sort((a, b) => throughput(a) - throughput(b))[Math.floor(runs.length / 2)] as LoadResult;
}

function report(name: string, result: LoadResult): void {
  const acks = ackLatencies(result);
  const errors = Object.entries(result.errors).map(([why, count]) => `${count}× ${why}`);
  const failed = `${result.failed} failed${errors.length ? `: ${errors.join(', ')}` : ''}`;
  console.log(`slack.${name}.sent: ${result.sent} requests (${failed})`);
  console.log(`slack.${name}.ack_p50: ${percentile(acks, 50).toFixed(2)} ms`);
  console.log(`slack.${name}.ack_p99: ${percentile(acks, 99).toFixed(2)} ms`);
  console.log(`slack.${name}.throughput: ${throughput(result).toFixed(0)} requests/s`);
}

function spread(name: string, runs: LoadResult[]): void {
  const values = runs.map(throughput);
  console.log(
    `slack.${name}.throughput_spread: ${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)} requests/s (${runs.length} runs)`,
  );
}

async function bareBolt(
  signingSecret: string,
  apiUrl: string,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const app = new bolt.App({
    signingSecret,
    token: 'xoxb-bench-not-a-secret',
    botId: 'B0OPSBOT',
    botUserId: 'U0OPSBOT',
    clientOptions: { slackApiUrl: apiUrl },
    logLevel: bolt.LogLevel.ERROR,
  });
  app.command('/bench', async ({ ack }) => {
    await ack();
  });
  const server = (await app.start({ port: 0, host: '127.0.0.1' })) as unknown as { address(): AddressInfo };
  return {
    url: `http://127.0.0.1:${server.address().port}/slack/events`,
    stop: () => app.stop() as Promise<void>,
  };
}

async function responseSink(): Promise<{ url: string; count: () => number; close: () => void }> {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`,
    count: () => count,
    close: () => server.close(),
  };
}
