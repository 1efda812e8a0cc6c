import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAwsSource } from '../../src/credentials/aws-source.js';
import { CredentialUnavailableError } from '../../src/credentials/errors.js';
import { slack as slackIntegration } from '../../src/integrations/slack.js';
import { SimulatedSecretsManager } from '../../src/sandbox/secrets-manager.js';
import { canary } from '../helpers/canary.js';
import { awsProviderRig, type ProviderRig } from '../helpers/credentials.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeSecretSource, providerOn } from '../helpers/fake-source.js';
import { expectSourceError } from '../helpers/source-error.js';

/**
 * Deadlines (red-team finding: a DescribeSecret delayed 20 s hung every refresh and the requests
 * waiting on it, stopped polling, and kept the staleness metric at 0). Time is the fake clock's:
 * the provider's deadlines are scheduled on it, so a 20 s hang is tested without waiting 20 s.
 */
let sm: SimulatedSecretsManager;
let endpoint: string;
let seq = 0;
const rigs: ProviderRig[] = [];

beforeAll(async () => {
  sm = new SimulatedSecretsManager();
  ({ url: endpoint } = await sm.start());
});
afterAll(async () => {
  await sm.stop();
});
afterEach(() => {
  sm.faults.clear();
  for (const rig of rigs.splice(0)) rig.provider.stop();
});

/** A loaded `slack` secret under a fresh prefix; polls come exactly 72 s apart (random = 1). */
async function loaded(options: { maxStaleSeconds?: number } = {}) {
  const prefix = `d${++seq}/`;
  const clock = new FakeClock();
  const rig = awsProviderRig({ endpoint, clock, prefix, random: () => 0.999_999, ...options });
  rigs.push(rig);
  const slack = { botToken: canary('xoxb'), signingSecret: canary('sign') };
  sm.create(`${prefix}slack`, JSON.stringify(slack));
  await rig.provider.start(['slack']);
  expect(rig.provider.isLoaded('slack')).toBe(true);
  return { ...rig, clock, slack, name: `${prefix}slack` };
}

/** Moves the fake clock to the next poll, with DescribeSecret answering only after 20 s (real time). */
async function pollIntoA20sHang(clock: FakeClock) {
  sm.faults.set({ kind: 'latency', latencyMs: 20_000, api: 'DescribeSecret', count: 1 });
  const before = sm.calls.DescribeSecret ?? 0;
  const [poll] = clock.delays();
  clock.advance(poll as number);
  await vi.waitFor(() => expect(sm.calls.DescribeSecret ?? 0).toBe(before + 1));
  return poll as number;
}

describe('deadlines on Secrets Manager calls', () => {
  it('abandons a DescribeSecret that hangs 20 s after 2.5 s, says so, and keeps polling with backoff', async () => {
    const { provider, clock, metric, logs } = await loaded();
    await pollIntoA20sHang(clock);
    clock.advance(2_499);
    expect(await metric('opsbot_secret_refresh_total', { outcome: 'transient_error' })).toBe(0);
    clock.advance(1);
    await vi.waitFor(
      async () => expect(await metric('opsbot_secret_refresh_total', { outcome: 'transient_error' })).toBe(1),
      { timeout: 3_000 },
    );
    const warning = logs.records().find((r) => r.msg === 'secret store failing; serving the last good value');
    expect(String(warning?.reason)).toMatch(/DescribeSecret d\d+\/slack: no answer within 2\.5 s/);
    // Polling goes on: the first retry comes within the backoff's first step (1 s), not after 20 s.
    expect(clock.delays()).toEqual([999]);
    expect(provider.isLoaded('slack')).toBe(true);
  });

  it('serves warm reads at once while a refresh hangs, and lets a request wait at most 1 s on a forced one', async () => {
    const { provider, clock, slack } = await loaded();
    await pollIntoA20sHang(clock);
    const warm = await provider.get(slackIntegration.secret);
    expect(warm.value.reveal().botToken).toBe(slack.botToken);

    let released = false;
    const forced = provider.refreshAfterAuthFailure('slack', warm.versionId).then(() => {
      released = true;
    });
    clock.advance(999);
    await new Promise((r) => setTimeout(r, 50));
    expect(released).toBe(false);
    clock.advance(1);
    await vi.waitFor(() => expect(released).toBe(true), { timeout: 3_000 });
    await forced;
  });

  it('counts staleness from the last confirmation while a refresh hangs, and fails closed at the bound', async () => {
    const { provider, clock, metric } = await loaded({ maxStaleSeconds: 0 });
    const poll = await pollIntoA20sHang(clock);
    // Just started: an ordinary refresh in flight is not staleness yet.
    expect(await metric('opsbot_secret_staleness_seconds', { integration: 'slack' })).toBe(0);
    expect(provider.isLoaded('slack')).toBe(true);
    clock.advance(1_500);
    expect(await metric('opsbot_secret_staleness_seconds', { integration: 'slack' })).toBe(
      Math.round((poll + 1_500) / 1_000),
    );
    expect(() => provider.current('slack')).toThrow(CredentialUnavailableError);
    expect(() => provider.current('slack')).toThrow(/OPSBOT_SECRET_MAX_STALE_SECONDS/);
  });

  it('ends a refresh at its deadline even when the source ignores the abort signal', async () => {
    const clock = new FakeClock();
    const source = new FakeSecretSource();
    source.put('opsbot/slack', JSON.stringify({ botToken: canary('xoxb'), signingSecret: canary('sign') }));
    const { provider, metric } = providerOn(source, { clock, random: () => 0.999_999 });
    await provider.start(['slack']);
    source.hang = true;
    clock.advance(72_000);
    await vi.waitFor(() => expect(source.calls.DescribeSecret).toBe(2));
    clock.advance(2_500);
    await vi.waitFor(
      async () => expect(await metric('opsbot_secret_refresh_total', { outcome: 'transient_error' })).toBe(1),
      { timeout: 3_000 },
    );
    await provider.settled();
    expect(clock.delays()).toEqual([999]);
    provider.stop();
  });

  it('bounds a whole refresh (DescribeSecret and both GetSecretValue calls) at 5 s', async () => {
    const clock = new FakeClock();
    const source = new FakeSecretSource();
    const name = 'opsbot/slack';
    source.put(name, JSON.stringify({ botToken: canary('xoxb'), signingSecret: canary('sign') }));
    const { provider } = providerOn(source, { clock, random: () => 0.999_999 });
    await provider.start(['slack']);
    const next = source.put(
      name,
      JSON.stringify({ botToken: canary('xoxb'), signingSecret: canary('sign') }),
    );
    source.put(name, JSON.stringify({ botToken: canary('xoxb'), signingSecret: canary('sign') }), [
      'AWSPENDING',
    ]);
    // Each call takes 2 s of fake time: under the 2.5 s per call, over the 5 s for the refresh.
    const slow = source.describe.bind(source);
    const slowGet = source.getVersion.bind(source);
    const after2s = <T>(work: () => Promise<T>) =>
      new Promise<T>((resolve, reject) => clock.schedule(() => work().then(resolve, reject), 2_000));
    source.describe = (n) => after2s(() => slow(n));
    source.getVersion = (n, id) => after2s(() => slowGet(n, id));
    clock.advance(72_000);
    await new Promise((r) => setTimeout(r, 10)); // the refresh is under way: its deadlines run from here
    let settled = false;
    const done = provider.settled().then(() => {
      settled = true;
    });
    for (let t = 0; t < 5_000; t += 500) {
      clock.advance(500);
      await new Promise((r) => setTimeout(r, 10));
    }
    await vi.waitFor(() => expect(settled).toBe(true), { timeout: 3_000 });
    await done;
    // CURRENT moved (described at 2 s, loaded at 4 s); the pending prefetch was cut off at 5 s.
    expect(provider.current('slack').versionId).toBe(next);
    expect(provider.pending('slack')).toBeUndefined();
    expect(source.calls.GetSecretValue).toBe(2);
    provider.stop();
  });
});

describe('the AWS source', () => {
  it('turns a request that outlives its timeout into a transient error, never a console warning', async () => {
    const warn = vi.spyOn(console, 'warn');
    sm.create('deadline/slack', JSON.stringify({ botToken: canary('xoxb'), signingSecret: canary('sign') }));
    sm.faults.set({ kind: 'latency', latencyMs: 1_500, api: 'DescribeSecret', count: 1 });
    const source = createAwsSource({
      region: 'us-east-1',
      requestTimeoutMs: 200,
      clientConfig: {
        endpoint,
        credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' },
        maxAttempts: 1,
      },
    });
    const started = Date.now();
    await expectSourceError(source.describe('deadline/slack'), 'transient', /TimeoutError/);
    expect(Date.now() - started).toBeLessThan(1_400);
    expect(warn).not.toHaveBeenCalled();
    source.close?.();
    warn.mockRestore();
  });
});
