import { Writable } from 'node:stream';
import { credentialEventsTo } from '../../src/audit/credential-events.js';
import type { Clock } from '../../src/clock.js';
import { createCredentials } from '../../src/credentials/from-config.js';
import { VaultHttp } from '../../src/credentials/vault/http.js';
import { awsIamLogin } from '../../src/credentials/vault/login.js';
import { VaultSession } from '../../src/credentials/vault/session.js';
import { createLogger, SecretRedactor } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { CATALOG } from '../helpers/catalog.js';
import { elapse, FakeClock } from '../helpers/fake-clock.js';
import { MemoryAuditSink } from '../helpers/memory-audit-sink.js';
import { startVaultRig, type VaultRig } from '../helpers/vault-rig.js';

/**
 * `npm run bench -- vault`: the `vault` secret source against the simulated Vault (its AWS login
 * through the simulated STS, which verifies every signature):
 * 1. warm read cost (p50/p99 of `provider.current`, and of the async `get`);
 * 2. Vault calls per secret per hour at the default poll (60 s), with the token renewed and replaced
 *    as its lease (1 h) and maximum (4 h) say — a simulated hour on a fake clock;
 * 3. time from a new KV version to the bot serving it: by polling (simulated seconds, 200 versions
 *    written at random moments) and when opsbot is told to check at once (wall time);
 * 4. a login storm: every replica (BENCH_VAULT_REPLICAS, default 100) restarting at once; then the
 *    same storm of whole replicas (provider and all) against a Vault with a rate-limit quota of 25
 *    logins/s on its AWS login: 429 is transient, and each replica backs off with full jitter.
 */
export async function benchVault(): Promise<void> {
  const rigClock = new FakeClock(Date.UTC(2026, 11, 6));
  const rig = await startVaultRig({ now: () => rigClock.now(), ttlSeconds: 3_600, maxTtlSeconds: 14_400 });
  try {
    await warmReads(rig, rigClock);
    await callsPerHour(rig, rigClock);
    await timeToServe(rig, rigClock);
    await loginStorm(rig);
  } finally {
    await rig.stop();
  }
  await loginStormUnderQuota();
}

const quiet = () =>
  createLogger({
    level: 'warn',
    redactor: new SecretRedactor(),
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });

function credentials(rig: VaultRig, clock: Clock) {
  return createCredentials({
    config: {
      secrets: {
        source: 'vault',
        prefix: 'opsbot/',
        pollSeconds: 60,
        maxStaleSeconds: 21_600,
        vault: {
          addr: rig.vault.url,
          auth: 'aws',
          role: 'opsbot',
          authMount: 'aws',
          kvMount: 'secret',
          k8sTokenFile: '/dev/null',
        },
      },
      aws: {},
    },
    catalog: CATALOG,
    env: { AWS_ENDPOINT_URL_STS: rig.sts.url },
    log: quiet(),
    redactor: new SecretRedactor(),
    registry: createMetrics({ defaultMetrics: false }),
    events: credentialEventsTo(new MemoryAuditSink()),
    clock,
    vaultAwsCredentials: rig.credentials,
  });
}

function percentile(sorted: ArrayLike<number>, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const jiraValue = (n: number) => ({
  email: 'opsbot@example.com',
  apiToken: `jira-bench-${n}-${Math.random()}`,
});

async function warmReads(rig: VaultRig, clock: FakeClock): Promise<void> {
  rig.vault.writeSecret('secret', 'opsbot/jira', jiraValue(0));
  const { provider } = credentials(rig, clock);
  await provider.start(['jira']);
  const n = 200_000;
  const samples = new Float64Array(n);
  for (let i = 0; i < 20_000; i++) provider.current('jira');
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    provider.current('jira');
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  samples.sort();
  console.log(`vault.warm_read.p50: ${(percentile(samples, 50) / 1e3).toFixed(3)} us`);
  console.log(`vault.warm_read.p99: ${(percentile(samples, 99) / 1e3).toFixed(3)} us`);
  const before = rig.vault.requests.length;
  const gets = new Float64Array(50_000);
  for (let i = 0; i < gets.length; i++) {
    const t0 = process.hrtime.bigint();
    await provider.get('jira');
    gets[i] = Number(process.hrtime.bigint() - t0);
  }
  gets.sort();
  console.log(`vault.warm_get_async.p99: ${(percentile(gets, 99) / 1e3).toFixed(3)} us`);
  console.log(`vault.warm_reads.vault_calls: ${rig.vault.requests.length - before} calls for 250000 reads`);
  await provider.close();
}

async function callsPerHour(rig: VaultRig, clock: FakeClock): Promise<void> {
  rig.vault.writeSecret('secret', 'opsbot/datadog', {
    apiKey: 'a'.repeat(32),
    appKey: 'b'.repeat(40),
    webhookSecret: 'c'.repeat(32),
  });
  const { provider, source } = credentials(rig, clock);
  // The provider's refreshes and the source's token work (renewals, new logins) settle each step.
  const both = { settled: () => Promise.all([provider.settled(), source.settled?.()]).then(() => {}) };
  const from = rig.vault.requests.length;
  await provider.start(['jira', 'datadog']);
  // Four simulated hours: the token's lease is 1 h (renewed at 40 min), its maximum 4 h (a new login).
  for (let second = 0; second < 4 * 3_600; second += 1) {
    if (second === 1_800) rig.vault.writeSecret('secret', 'opsbot/jira', jiraValue(1));
    await elapse(clock, both, 1_000);
  }
  const calls = rig.vault.requests.slice(from);
  const count = (pattern: RegExp) => calls.filter((r) => pattern.test(r.path)).length;
  const perSecretHour = (n: number) => (n / 2 / 4).toFixed(1);
  console.log(`vault.hour.metadata_reads: ${perSecretHour(count(/\/metadata\//))} calls/secret/hour`);
  console.log(
    `vault.hour.data_reads: ${perSecretHour(count(/\/data\//))} calls/secret/hour (the first load and 1 new version in 4 h)`,
  );
  console.log(
    `vault.hour.logins: ${(count(/\/login$/) / 4).toFixed(2)} /hour (one per replica, not per secret)`,
  );
  console.log(`vault.hour.renewals: ${(count(/renew-self$/) / 4).toFixed(2)} /hour`);
  console.log(
    `vault.hour.refused: ${calls.filter((r) => r.status === 403).length} requests with a refused token`,
  );
  await provider.close();
}

async function timeToServe(rig: VaultRig, clock: FakeClock): Promise<void> {
  const { provider } = credentials(rig, clock);
  await provider.start(['jira']);
  const polled: number[] = [];
  let n = 10;
  for (let i = 0; i < 200; i++) {
    await elapse(clock, provider, Math.floor(Math.random() * 60_000), 1_000);
    const version = rig.vault.writeSecret('secret', 'opsbot/jira', jiraValue(n++));
    const written = clock.now();
    while (provider.current('jira').versionId !== String(version)) await elapse(clock, provider, 1_000);
    polled.push((clock.now() - written) / 1_000);
  }
  polled.sort((a, b) => a - b);
  console.log(`vault.new_version_to_served.polling.p50: ${percentile(polled, 50)} s (poll 60 s ± jitter)`);
  console.log(`vault.new_version_to_served.polling.max: ${polled.at(-1)} s`);
  const told: number[] = [];
  for (let i = 0; i < 50; i++) {
    const version = rig.vault.writeSecret('secret', 'opsbot/jira', jiraValue(n++));
    const t0 = performance.now();
    await provider.checkNow('jira');
    if (provider.current('jira').versionId !== String(version)) throw new Error('checkNow did not load it');
    told.push(performance.now() - t0);
    clock.advance(1_100); // checkNow's own limit: one check per second per secret
  }
  told.sort((a, b) => a - b);
  console.log(`vault.new_version_to_served.check_now.p50: ${percentile(told, 50).toFixed(2)} ms`);
  await provider.close();
}

async function loginStorm(rig: VaultRig): Promise<void> {
  const replicas = Number(process.env.BENCH_VAULT_REPLICAS ?? 100);
  const clock: Clock = { now: () => Date.now(), schedule: () => () => {} };
  const before = rig.vault.requests.length;
  const sessions = Array.from({ length: replicas }, () => {
    const vault = new VaultHttp({ addr: rig.vault.url });
    return {
      vault,
      session: new VaultSession({
        vault,
        login: awsIamLogin({
          role: 'opsbot',
          mount: 'aws',
          stsUrl: rig.sts.url,
          credentials: rig.credentials,
        }),
        clock,
        log: quiet(),
        masker: new SecretRedactor(),
      }),
    };
  });
  const t0 = performance.now();
  const settled = await Promise.allSettled(sessions.map(({ session }) => session.token()));
  const ms = performance.now() - t0;
  const failed = settled.filter((s) => s.status === 'rejected').length;
  const logins = rig.vault.requests.slice(before).filter((r) => r.path.endsWith('/login')).length;
  console.log(`vault.login_storm.replicas: ${replicas}`);
  console.log(`vault.login_storm.logins: ${logins} (${failed} failed)`);
  console.log(
    `vault.login_storm.all_logged_in: ${ms.toFixed(0)} ms (${((logins / ms) * 1_000).toFixed(0)} logins/s, each one signed STS call replayed by Vault)`,
  );
  await Promise.all(sessions.map(({ session }) => session.close()));
  for (const { vault } of sessions) vault.close();
  console.log(
    `vault.login_storm.tokens_left_after_shutdown: ${rig.vault.liveTokens().filter((t) => t.method === 'aws').length}`,
  );
}

async function loginStormUnderQuota(): Promise<void> {
  const replicas = Number(process.env.BENCH_VAULT_REPLICAS ?? 100);
  const quota = 25;
  const rig = await startVaultRig({ ttlSeconds: 3_600, maxTtlSeconds: 14_400 });
  try {
    rig.vault.writeSecret('secret', 'opsbot/jira', jiraValue(0));
    rig.vault.setRateLimitQuota('auth/aws/login', quota);
    const clock: Clock = {
      now: () => Date.now(),
      schedule(fn, ms) {
        const timer = setTimeout(fn, Math.max(0, ms));
        return () => clearTimeout(timer);
      },
    };
    const t0 = performance.now();
    const all = Array.from({ length: replicas }, () => credentials(rig, clock));
    await Promise.all(all.map(({ provider }) => provider.start(['jira'])));
    while (!all.every(({ provider }) => provider.isLoaded('jira')))
      await new Promise((r) => setTimeout(r, 20));
    const ms = performance.now() - t0;
    const logins = rig.vault.requests.filter((r) => r.path === '/auth/aws/login');
    const limited = logins.filter((r) => r.status === 429).length;
    console.log(`vault.login_storm_quota.quota: ${quota} logins/s on auth/aws/login`);
    console.log(
      `vault.login_storm_quota.all_loaded: ${ms.toFixed(0)} ms for ${replicas} replicas (${logins.length - limited} logins, ${limited} answered 429 and retried with backoff)`,
    );
    await Promise.all(all.map(({ provider }) => provider.close()));
  } finally {
    await rig.stop();
  }
}
