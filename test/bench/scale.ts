import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertCycle, type DatadogWebhookBody } from '../../src/sandbox/datadog-webhook-sender.js';
import { openDynamoState } from '../../src/store/dynamodb.js';
import { inParallel, shownCounts, stopHard } from '../helpers/alert-accounting.js';
import { type DynamoProxy, startDynamoProxy } from '../helpers/dynamodb-proxy.js';
import { startMoto } from '../helpers/moto.js';
import { ROOT } from '../helpers/process.js';
import {
  ALERT_CHANNELS,
  ALERTS_CONFIG,
  commandOn,
  emulatorClient,
  newReplicaWorkspace,
  newStateTable,
  type Replica,
  startReplica,
} from '../helpers/replicas.js';
import { envNumber } from './bench-probe.js';

/**
 * `npm run bench -- scale`: 1, 2 and 3 replicas of the server (this build) sharing one DynamoDB
 * table on moto_server, reached through a proxy that passes one call at a time (moto's writes are
 * not atomic across its threads; DynamoDB's are) and counts every call by operation. For each size:
 * webhook intake (alerts accepted per second, spread over the replicas), the time until every alert
 * is visible in Slack, command acks per second (`/opsbot whoami`, spread over the replicas), and
 * DynamoDB calls per alert and per command. Then the audit trail's write rate: 1, 2, 3 and 5 State
 * instances appending at once, with a network round trip per call ({@link benchAuditContention}).
 * `OPSBOT_BENCH_SCALE=0.5` halves the work. Absolute numbers are moto's (≈5 ms a call, one at a
 * time), not DynamoDB's (≈5-10 ms a call, in parallel): the ratios and calls per operation carry over.
 * Last, the idle cost: DynamoDB calls per replica-minute with nothing happening ({@link benchIdle}).
 */
const CHANNELS = ALERT_CHANNELS;
const CONFIG = ALERTS_CONFIG;

/** `OPSBOT_BENCH_SCALE_REPLICAS=3` runs one size only (default 1, 2 and 3). */
function replicaCounts(): number[] {
  const only = envNumber('OPSBOT_BENCH_SCALE_REPLICAS', 0);
  return only >= 1 && only <= 5 ? [only] : [1, 2, 3];
}

export async function benchScale(): Promise<void> {
  const scale = envNumber('OPSBOT_BENCH_SCALE', 1);
  const alerts = Math.max(30, Math.round(240 * scale));
  const commands = Math.max(30, Math.round(150 * scale));
  const moto = await startMoto();
  if (!moto) {
    console.log('scale: skipped (moto_server is not installed: pip install "moto[server]")');
    return;
  }
  const proxy = await startDynamoProxy(moto.url);
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-bench-scale-'));
  writeFileSync(join(dir, 'opsbot.yaml'), CONFIG);
  // ROOT is where this file was compiled to (npm run bench compiles src/ next to it).
  const entry = join(ROOT, 'src/main.js');
  const baseline: { alerts?: number; commands?: number } = {};
  // `OPSBOT_BENCH_SCALE_ONLY=audit` runs the audit trail's part alone.
  const auditOnly = process.env.OPSBOT_BENCH_SCALE_ONLY === 'audit';
  try {
    for (const n of auditOnly ? [] : replicaCounts()) {
      process.stderr.write(`scale: ${n} replica(s)…\n`);
      const ws = await newReplicaWorkspace([...CHANNELS, 'C0DEV']);
      const table = await newStateTable(proxy.url, 'opsbot-bench');
      const replicas: Replica[] = [];
      try {
        for (let i = 0; i < n; i++)
          replicas.push(await startReplica(ws, { entry, dir, dynamodbUrl: proxy.url, table }));
        process.stderr.write(`scale: ${n} replica(s) ready; alerts…\n`);
        await new Promise((r) => setTimeout(r, 1_000));

        // Webhook intake, spread over the replicas like a load balancer.
        const bodies = Array.from(
          { length: alerts },
          (_, i) =>
            alertCycle({
              monitorId: 10_000 + i,
              name: `Bench alert ${i}`,
              tags: i % 2 ? ['team:payments'] : ['service:web'],
            })[0] as DatadogWebhookBody,
        );
        proxy.reset();
        const started = performance.now();
        const results = await inParallel(bodies, 16, (b, i) => (replicas[i % n] as Replica).webhooks.send(b));
        const intakeS = (performance.now() - started) / 1_000;
        const intakeCalls = proxy.total();
        const accepted = results.filter((r) => r.status === 202).length;
        const ids = bodies.map((b) => b.id);
        const visibleBy = Date.now() + 120_000;
        while (Date.now() < visibleBy && !ids.every((id) => shownCounts(ws.slack, CHANNELS).has(id)))
          await new Promise((r) => setTimeout(r, 100));
        const visibleS = (performance.now() - started) / 1_000;
        const deliveryCalls = proxy.total() - intakeCalls;
        const alertRate = accepted / intakeS;
        baseline.alerts ??= alertRate;
        console.log(`scale.replicas_${n}.alerts_accepted_per_s: ${alertRate.toFixed(1)} alerts/s`);
        console.log(
          `scale.replicas_${n}.alerts_ratio_to_1: ${(alertRate / (baseline.alerts ?? alertRate)).toFixed(2)} x`,
        );
        console.log(`scale.replicas_${n}.alerts_all_visible: ${visibleS.toFixed(1)} s (${alerts} alerts)`);
        const alertCalls = proxy.counts();
        console.log(
          `scale.replicas_${n}.dynamodb_calls_per_alert: ${((intakeCalls + deliveryCalls) / alerts).toFixed(2)} calls (every replica's calls from the first webhook until all were visible: intake, claims, leases, refs, signals; ${Object.entries(
            alertCalls,
          )
            .map(([op, c]) => `${op} ${(c / alerts).toFixed(2)}`)
            .join(', ')})`,
        );

        process.stderr.write(`scale: commands…\n`);
        // Command acks, spread over the replicas.
        await new Promise((r) => setTimeout(r, 1_000));
        proxy.reset();
        const cmdStarted = performance.now();
        const acks = await inParallel(
          Array.from({ length: commands }, (_, i) => i),
          8,
          (i) => commandOn(ws, replicas[i % n] as Replica, 'U0DEV', '/opsbot whoami'),
        );
        const cmdS = (performance.now() - cmdStarted) / 1_000;
        await new Promise((r) => setTimeout(r, 500));
        const cmdCalls = proxy.counts();
        const total = Object.values(cmdCalls).reduce((a, b) => a + b, 0);
        const commandRate = acks.length / cmdS;
        baseline.commands ??= commandRate;
        const ackMs = acks.map((a) => a.ackMs).sort((a, b) => a - b);
        console.log(`scale.replicas_${n}.command_acks_per_s: ${commandRate.toFixed(1)} commands/s`);
        console.log(
          `scale.replicas_${n}.commands_ratio_to_1: ${(commandRate / (baseline.commands ?? commandRate)).toFixed(2)} x`,
        );
        console.log(
          `scale.replicas_${n}.command_ack_p50: ${(ackMs[Math.floor(ackMs.length / 2)] ?? 0).toFixed(1)} ms`,
        );
        console.log(
          `scale.replicas_${n}.dynamodb_calls_per_command: ${(total / commands).toFixed(2)} calls (${Object.entries(
            cmdCalls,
          )
            .map(([op, c]) => `${op} ${(c / commands).toFixed(2)}`)
            .join(', ')})`,
        );
      } finally {
        for (const r of replicas) await stopHard(r.child);
        await withTimeout(ws.slack.stop(), 5_000);
      }
    }
    await benchAuditContention(moto.url, Math.max(20, Math.round(100 * scale)));
    if (!auditOnly) await benchIdle(proxy, entry, dir);
  } finally {
    await proxy.stop();
    await moto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The audit trail's write rate (README, "One audit trail across replicas"): 1, 2, 3 and 5 stores
 * appending `perWriter` records each, all at once, one at a time each (as replicas under steady
 * load do), through a proxy that gives every call a network round trip of
 * `OPSBOT_BENCH_DYNAMO_LATENCY_MS` (default 8 ms, DynamoDB's usual) while moto still takes one call
 * at a time: appends per second, DynamoDB calls and refused transactions per append, and a verify.
 */
async function benchAuditContention(motoUrl: string, perWriter: number): Promise<void> {
  const latencyMs = envNumber('OPSBOT_BENCH_DYNAMO_LATENCY_MS', 8);
  const proxy = await startDynamoProxy(motoUrl, { latencyMs });
  try {
    for (const writers of [1, 2, 3, 5]) {
      const table = await newStateTable(proxy.url, 'opsbot-bench-audit');
      const client = emulatorClient(proxy.url);
      const states = Array.from({ length: writers }, () => openDynamoState({ table, client }));
      process.stderr.write(`scale: audit trail with ${writers} writer(s)…\n`);
      try {
        await Promise.all(states.map((s) => s.ready()));
        proxy.reset();
        const started = performance.now();
        let failed = 0;
        await Promise.all(
          states.map(async (s, w) => {
            for (let i = 0; i < perWriter; i++)
              await s.audit
                .append({ action: 'bench:append', actor: `writer-${w}`, outcome: 'success', details: { i } })
                // An append that gave up (StateBusyError) is an action that would not have run.
                .catch(() => {
                  failed += 1;
                });
          }),
        );
        const ms = performance.now() - started;
        const appends = writers * perWriter - failed;
        const calls = proxy.total();
        const conflicts = states.reduce((sum, s) => sum + s.audit.conflicts(), 0);
        const check = await (states[0] as (typeof states)[number]).audit.verify();
        const key = `scale.audit_writers_${writers}`;
        console.log(
          `${key}.appends_per_s: ${((appends / ms) * 1_000).toFixed(1)} appends/s (${latencyMs} ms a call)`,
        );
        console.log(`${key}.ms_per_append_per_writer: ${((ms * writers) / appends).toFixed(1)} ms`);
        console.log(
          `${key}.calls_per_append: ${(calls / appends).toFixed(2)} calls (${Object.entries(proxy.counts())
            .map(([op, c]) => `${op} ${(c / appends).toFixed(2)}`)
            .join(', ')})`,
        );
        console.log(`${key}.conflicts_per_append: ${(conflicts / appends).toFixed(2)} refused transactions`);
        console.log(`${key}.appends_failed: ${failed} of ${writers * perWriter}`);
        console.log(`${key}.trail_intact: ${check.ok ? 1 : 0} (${check.checked} records)`);
      } finally {
        for (const s of states) s.close();
        client.destroy();
      }
    }
  } finally {
    await proxy.stop();
  }
}

/**
 * Idle cost (README, "State: one process or several"): n replicas with c routed channels, no alert
 * and no command, counting every DynamoDB call for `OPSBOT_BENCH_IDLE_SECONDS` (default 20) once
 * they have settled: calls per replica-minute, by operation, at 1, 3 and 20 channels and 1, 2 and 3
 * replicas. `OPSBOT_BENCH_IDLE_SECONDS=0` skips it.
 */
async function benchIdle(proxy: DynamoProxy, entry: string, dir: string): Promise<void> {
  const seconds = envNumber('OPSBOT_BENCH_IDLE_SECONDS', 20);
  const settle = envNumber('OPSBOT_BENCH_IDLE_SETTLE_SECONDS', 5);
  if (seconds <= 0) return;
  for (const channels of [1, 3, 20]) {
    const ids = Array.from({ length: channels }, (_, i) => `C0IDLE${String(i).padStart(2, '0')}`);
    const routes = ids
      .slice(1)
      .map((id, i) => `    - match: { tags: ["team:t${i}"] }\n      channel: ${id}\n`)
      .join('');
    const config = join(dir, `idle-${channels}.yaml`);
    writeFileSync(
      config,
      `access:\n  admins: [U0ADMIN]\nalerts:\n  defaultChannel: ${ids[0]}\n${routes ? `  routes:\n${routes}` : ''}`,
    );
    for (const n of replicaCounts()) {
      process.stderr.write(`scale: idle, ${channels} channel(s), ${n} replica(s)…\n`);
      const ws = await newReplicaWorkspace(ids);
      const table = await newStateTable(proxy.url, 'opsbot-bench-idle');
      const replicas: Replica[] = [];
      try {
        for (let i = 0; i < n; i++)
          replicas.push(
            await startReplica(ws, {
              entry,
              dir,
              dynamodbUrl: proxy.url,
              table,
              extraEnv: { OPSBOT_CONFIG: config },
            }),
          );
        // Start-up done (leases taken, the first passes run): from here on nothing happens. The
        // waits back off (the signal watcher to 30 s, the detections to 60 s): a longer settle
        // (`OPSBOT_BENCH_IDLE_SETTLE_SECONDS`, default 5) measures the steady state.
        await new Promise((r) => setTimeout(r, settle * 1_000));
        proxy.reset();
        await new Promise((r) => setTimeout(r, seconds * 1_000));
        const counts = proxy.counts();
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        const perReplicaMinute = (c: number) => (c / n / seconds) * 60;
        console.log(
          `scale.idle.channels_${channels}.replicas_${n}.dynamodb_calls_per_replica_minute: ${perReplicaMinute(total).toFixed(1)} (${Object.entries(
            counts,
          )
            .map(([op, c]) => `${op} ${perReplicaMinute(c).toFixed(1)}`)
            .join(', ')})`,
        );
      } finally {
        for (const r of replicas) await stopHard(r.child);
        await withTimeout(ws.slack.stop(), 5_000);
      }
    }
  }
}

/** Stops waiting after `ms` (a server that keeps idle connections open must not hold the bench). */
function withTimeout(p: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]).finally(() =>
    clearTimeout(timer),
  );
}
