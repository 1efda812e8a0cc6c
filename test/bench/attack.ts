import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import type { AttackJob, AttackResult } from './attack-worker.js';
import { BENCH_POLICY, benchProbe, currentSigningSecret, envNumber } from './bench-probe.js';
import { ackLatencies, percentile, startLoadWorker } from './load.js';

/**
 * `npm run bench -- attack`: the red-team's memory attack on `/slack/events`, bounded, on
 * 127.0.0.1, while Slack goes on sending signed commands.
 * - the bot (sandbox harness) runs in this process; its RSS is sampled every 50 ms;
 * - the attacker (attack-worker.ts, a process of its own) keeps BENCH_ATTACK_CONNECTIONS (1,000)
 *   connections that each send a bogus signature and trickle 1 MiB − 1 byte (BENCH_ATTACK_CHUNK_BYTES,
 *   16 KiB, every 250 ms: all of it within 16 s), reconnecting 500 ms after the server closes one,
 *   for BENCH_ATTACK_SECONDS (20); it also asks
 *   `/healthz` and `/readyz` every 200 ms;
 * - the load generator (load-worker.ts, another process) sends signed `/bench ping <n>` commands at
 *   BENCH_ATTACK_RATE (20) per second from one second into the attack until one second before
 *   its end, and measures each ack.
 * Prints `attack.*` lines: RSS before, peak and after, signed ack p50/p99 and how many were
 * acked, how the attacking connections were refused, and how `/healthz` and `/readyz` fared.
 */

const MB = 1024 * 1024;

export async function benchAttack(): Promise<void> {
  const seconds = envNumber('BENCH_ATTACK_SECONDS', 20);
  const connections = envNumber('BENCH_ATTACK_CONNECTIONS', 1_000);
  const rate = envNumber('BENCH_ATTACK_RATE', 20);
  const chunkBytes = envNumber('BENCH_ATTACK_CHUNK_BYTES', 16 * 1024);
  if (seconds < 4) throw new Error('BENCH_ATTACK_SECONDS must be at least 4');
  const sink = await responseSink();
  const load = await startLoadWorker();
  const attacker = await startAttackWorker();
  try {
    const bot = await startSandboxBot({
      configYaml: BENCH_POLICY,
      extraCommands: [benchProbe],
      logLevel: 'warn',
    });
    try {
      const url = `${bot.base}/slack/events`;
      const signingSecret = currentSigningSecret(bot);
      const job = { url, signingSecret, responseUrl: sink.url };
      // Warm up (JIT, SQLite, Bolt) so that the figures compare the attack, not the first requests.
      await load.run({ ...job, mode: 'fixed', rate, seconds: 2, firstN: 1 });
      const rssBefore = process.memoryUsage().rss;
      let atPeak = process.memoryUsage();
      const sampler = setInterval(() => {
        const usage = process.memoryUsage();
        if (usage.rss > atPeak.rss) atPeak = usage;
      }, 50);
      try {
        const attack = attacker.run({
          port: bot.app.address.port,
          connections,
          seconds,
          chunkBytes,
          intervalMs: 250,
          reconnectMs: 500,
        });
        await new Promise((r) => setTimeout(r, 1_000));
        const signed = await load.run({
          ...job,
          mode: 'fixed',
          rate,
          seconds: seconds - 2,
          firstN: 1_000_000,
        });
        const result = await attack;
        clearInterval(sampler);
        await new Promise((r) => setTimeout(r, 2_000));
        const rssAfter = process.memoryUsage().rss;
        const acks = ackLatencies(signed);
        const failures = Object.entries(signed.errors).map(([why, n]) => `${n}× ${why}`);
        console.log(
          `attack.connections: ${connections} attacking connections for ${seconds} s (bogus signature, 1 MiB − 1 byte trickled ${(chunkBytes / 1024).toFixed(0)} KiB / 250 ms each), ${result.opened} opened in all, at most ${result.peakOpen} at once, ${(result.bytesSent / MB).toFixed(1)} MB sent`,
        );
        console.log(`attack.rss_before: ${(rssBefore / MB).toFixed(0)} MB`);
        console.log(`attack.rss_peak: ${(Math.max(rssBefore, atPeak.rss) / MB).toFixed(0)} MB`);
        console.log(
          `attack.memory_at_peak: heap ${(atPeak.heapUsed / MB).toFixed(0)} of ${(atPeak.heapTotal / MB).toFixed(0)} MB, array buffers ${(atPeak.arrayBuffers / MB).toFixed(0)} MB`,
        );
        console.log(`attack.rss_after: ${(rssAfter / MB).toFixed(0)} MB`);
        console.log(`attack.signed_ack_p50: ${percentile(acks, 50).toFixed(1)} ms`);
        console.log(`attack.signed_ack_p99: ${percentile(acks, 99).toFixed(1)} ms`);
        console.log(`attack.signed_ack_max: ${percentile(acks, 100).toFixed(1)} ms`);
        console.log(
          `attack.signed_acked: ${signed.ok} of ${signed.sent}${failures.length ? ` (${failures.join(', ')})` : ''}`,
        );
        console.log(`attack.refused: ${describeOutcomes(result)}`);
        for (const [name, probes] of [
          ['healthz', result.healthz],
          ['readyz', result.readyz],
        ] as const) {
          const p99 = percentile(probes.latenciesMs, 99).toFixed(1);
          console.log(`attack.${name}_ok: ${probes.ok} of ${probes.ok + probes.failed} (p99 ${p99} ms)`);
        }
        console.log(`attack.server_refusals: ${await refusalMetrics(bot)}`);
      } finally {
        clearInterval(sampler);
      }
    } finally {
      await bot.stop();
    }
  } finally {
    await attacker.stop();
    await load.stop();
    sink.close();
  }
}

/** `413× declared_1MiB, 503× chunked …`: how the attacking connections ended, by status and mode. */
function describeOutcomes(result: AttackResult): string {
  const parts: string[] = [];
  for (const [mode, counts] of Object.entries(result.outcomes)) {
    const byStatus = Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([status, n]) => `${n}× ${status === 'closed' ? 'closed without answer' : status}`);
    parts.push(`${mode}: ${byStatus.join(', ') || 'none ended'}`);
  }
  return parts.join('; ');
}

/** The bot's own counts: `opsbot_http_refused_total` and the Slack receiver's outcomes. */
async function refusalMetrics(bot: SandboxBot): Promise<string> {
  const text = await bot.metrics.metrics();
  const lines = text
    .split('\n')
    .filter((l) => /^opsbot_(http_refused_total|slack_requests_total)\{/.test(l))
    .map((l) => l.replace(/^opsbot_/, ''));
  return lines.join(', ') || 'none';
}

interface AttackWorker {
  run(job: AttackJob): Promise<AttackResult>;
  stop(): Promise<void>;
}

/** Forks attack-worker (.js when compiled, .ts under a TypeScript loader). */
async function startAttackWorker(): Promise<AttackWorker> {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const path = fileURLToPath(new URL(`./attack-worker.${extension}`, import.meta.url));
  if (!existsSync(path)) throw new Error(`the attack worker is not where it should be: ${path}`);
  const child = fork(path, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  type Message =
    | { type: 'ready' }
    | { type: 'result'; result: AttackResult }
    | { type: 'error'; message: string };
  const next = (timeoutMs: number, what: string) =>
    new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      child.once('message', (m: Message) => {
        clearTimeout(timer);
        resolve(m);
      });
      exited.then(() => reject(new Error('the attack worker exited')));
    });
  await next(10_000, 'the attack worker to start');
  return {
    async run(job) {
      const answer = next(job.seconds * 1_000 + 30_000, 'the attack to finish');
      child.send(job);
      const message = await answer;
      if (message.type === 'error') throw new Error(`the attack worker failed: ${message.message}`);
      if (message.type !== 'result')
        throw new Error(`unexpected answer from the attack worker: ${message.type}`);
      return message.result;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.disconnect();
      const late = new Promise<'late'>((r) => setTimeout(r, 5_000, 'late').unref());
      if ((await Promise.race([exited, late])) === 'late') child.kill('SIGKILL');
    },
  };
}

async function responseSink(): Promise<{ url: string; close: () => void }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end('ok'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`,
    close: () => server.close(),
  };
}
