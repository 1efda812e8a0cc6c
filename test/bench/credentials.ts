import { Writable } from 'node:stream';
import { credentialEventsTo } from '../../src/audit/credential-events.js';
import { type Clock, systemClock } from '../../src/clock.js';
import { FreshCredentials } from '../../src/credentials/fresh-credentials.js';
import { createCredentials } from '../../src/credentials/from-config.js';
import { github } from '../../src/integrations/github.js';
import { createLogger, SecretRedactor } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { ProtectedApi } from '../../src/sandbox/protected-api.js';
import { SimulatedSecretsManager } from '../../src/sandbox/secrets-manager.js';
import { CATALOG } from '../helpers/catalog.js';
import { elapse, FakeClock } from '../helpers/fake-clock.js';
import { MemoryAuditSink } from '../helpers/memory-audit-sink.js';

/**
 * `npm run bench -- credentials`:
 * 1. warm read latency of the provider (p50/p99);
 * 2. Secrets Manager calls per secret per hour at 200 reads/s (a simulated hour on a fake clock);
 * 3. a rotation storm: one rotation every 2 s for 60 s (BENCH_STORM_SECONDS) while 200 calls/s run
 *    through withFreshCredentials against an API that rejects a stale credential the moment it rotates.
 */
export async function benchCredentials(): Promise<void> {
  const sm = new SimulatedSecretsManager();
  const { url } = await sm.start();
  try {
    await warmReads(url, sm);
    await callsPerHour(url, sm);
    await rotationStorm(url, sm);
  } finally {
    await sm.stop();
  }
}

const quiet = () =>
  createLogger({
    level: 'warn',
    redactor: new SecretRedactor(),
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });

function rig(url: string, clock: Clock, prefix: string) {
  const log = quiet();
  return createCredentials({
    config: {
      secrets: { source: 'aws', prefix, pollSeconds: 60, maxStaleSeconds: 21_600 },
      aws: { region: 'us-east-1' },
    },
    catalog: CATALOG,
    env: {},
    log,
    redactor: new SecretRedactor(),
    registry: createMetrics({ defaultMetrics: false }),
    events: credentialEventsTo(new MemoryAuditSink()),
    clock,
    aws: { endpoint: url, credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' } },
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const token = (tag: string) => `github_pat_bench_${tag}_${Math.random().toString(16).slice(2)}`;

async function warmReads(url: string, sm: SimulatedSecretsManager): Promise<void> {
  sm.create('bench-warm/github', JSON.stringify({ token: token('warm') }));
  const { provider } = rig(url, new FakeClock(), 'bench-warm/');
  await provider.start(['github']);
  const n = 200_000;
  const samples = new Float64Array(n);
  for (let i = 0; i < 20_000; i++) provider.current('github');
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    provider.current('github');
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  console.log(`credentials.warm_read.p50: ${(percentile(sorted, 50) / 1e3).toFixed(3)} us`);
  console.log(`credentials.warm_read.p99: ${(percentile(sorted, 99) / 1e3).toFixed(3)} us`);
  const asyncSamples: number[] = [];
  for (let i = 0; i < 50_000; i++) {
    const t0 = process.hrtime.bigint();
    await provider.get('github');
    asyncSamples.push(Number(process.hrtime.bigint() - t0));
  }
  asyncSamples.sort((a, b) => a - b);
  console.log(`credentials.warm_get_async.p99: ${(percentile(asyncSamples, 99) / 1e3).toFixed(3)} us`);
  provider.stop();
}

async function callsPerHour(url: string, sm: SimulatedSecretsManager): Promise<void> {
  const name = 'bench-hour/github';
  sm.create(name, JSON.stringify({ token: token('hour') }));
  const clock = new FakeClock();
  const { provider } = rig(url, clock, 'bench-hour/');
  sm.resetCalls();
  await provider.start(['github']);
  let reads = 0;
  for (let second = 0; second < 3_600; second++) {
    for (let i = 0; i < 200; i++) {
      provider.current('github');
      reads += 1;
    }
    if (second === 1_800) sm.rotate(name);
    await elapse(clock, provider, 1_000);
  }
  const describes = sm.calls.DescribeSecret ?? 0;
  const gets = sm.calls.GetSecretValue ?? 0;
  console.log(`credentials.hour.reads: ${reads} reads`);
  console.log(`credentials.hour.describe_secret_calls: ${describes} calls/secret/hour`);
  console.log(
    `credentials.hour.get_secret_value_calls: ${gets} calls/secret/hour (1 rotation + the first load)`,
  );
  provider.stop();
}

async function rotationStorm(url: string, sm: SimulatedSecretsManager): Promise<void> {
  const seconds = Number(process.env.BENCH_STORM_SECONDS ?? 60);
  const name = 'bench-storm/github';
  sm.create(name, JSON.stringify({ token: token('storm') }));
  const api = new ProtectedApi({ secrets: sm, secretName: name, field: 'token' });
  const apiUrl = (await api.start()).url;
  const { provider, metrics } = rig(url, systemClock, 'bench-storm/');
  sm.resetCalls();
  await provider.start(['github']);

  const clients = new FreshCredentials({
    provider,
    factory: {
      secret: github.secret,
      createClient: (secret) => ({ token: 'token' in secret ? secret.token : '' }),
      isAuthFailure: (error) => (error as { status?: number }).status === 401,
    },
    metrics,
    log: quiet(),
  });
  const call = async (gh: { token: string }) => {
    const res = await fetch(`${apiUrl}/whoami`, { headers: { authorization: `Bearer ${gh.token}` } });
    if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status });
    return (await res.json()) as { version: string };
  };

  const rotatedAt = new Map<string, number>(); // version id → when it became AWSCURRENT
  const pickedUpAt = new Map<string, number>(); // version id → first successful call with it
  const unsubscribe = sm.onStageChange((change) => {
    if (change.name === name && change.stages.includes('AWSCURRENT') && !rotatedAt.has(change.versionId)) {
      rotatedAt.set(change.versionId, performance.now());
    }
  });

  const latencies: number[] = [];
  let failed = 0;
  let ok = 0;
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  const end = started + seconds * 1_000;
  const rotator = setInterval(() => sm.rotate(name), 2_000);
  let next = started;
  while (performance.now() < end) {
    next += 5; // 200 calls per second
    const t0 = performance.now();
    const p = clients
      .withFreshCredentials(call)
      .then((body) => {
        ok += 1;
        if (!pickedUpAt.has(body.version)) pickedUpAt.set(body.version, performance.now());
      })
      .catch(() => {
        failed += 1;
      })
      .finally(() => {
        latencies.push(performance.now() - t0);
        inFlight.delete(p);
      });
    inFlight.add(p);
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  clearInterval(rotator);
  await Promise.all(inFlight);
  unsubscribe();

  const pickups = [...rotatedAt]
    .map(([version, at]) => (pickedUpAt.get(version) ?? Number.NaN) - at)
    .filter((ms) => !Number.isNaN(ms))
    .sort((a, b) => a - b);
  latencies.sort((a, b) => a - b);
  console.log(`credentials.storm.rotations: ${rotatedAt.size} rotations in ${seconds} s`);
  console.log(`credentials.storm.calls: ${ok + failed} calls`);
  console.log(`credentials.storm.failed_calls: ${failed} calls`);
  console.log(`credentials.storm.pickup.p50: ${percentile(pickups, 50).toFixed(1)} ms`);
  console.log(`credentials.storm.pickup.p99: ${percentile(pickups, 99).toFixed(1)} ms`);
  console.log(`credentials.storm.call_latency.p50: ${percentile(latencies, 50).toFixed(2)} ms`);
  console.log(`credentials.storm.call_latency.p99: ${percentile(latencies, 99).toFixed(2)} ms`);
  console.log(`credentials.storm.describe_secret_calls: ${sm.calls.DescribeSecret ?? 0} calls`);
  console.log(`credentials.storm.get_secret_value_calls: ${sm.calls.GetSecretValue ?? 0} calls`);
  clients.close();
  provider.stop();
  await api.stop();
}
