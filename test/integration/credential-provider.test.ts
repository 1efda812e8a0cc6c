import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { CredentialUnavailableError, IntegrationNotConfiguredError } from '../../src/credentials/errors.js';
import { FreshCredentials } from '../../src/credentials/fresh-credentials.js';
import type { SecretSpec } from '../../src/credentials/secret-spec.js';
import { verifyInboundSecret } from '../../src/credentials/verify-inbound.js';
import { datadog } from '../../src/integrations/datadog.js';
import { github } from '../../src/integrations/github.js';
import { slack as slackIntegration } from '../../src/integrations/slack.js';
import { ProtectedApi } from '../../src/sandbox/protected-api.js';
import { SimulatedSecretsManager } from '../../src/sandbox/secrets-manager.js';
import { assertNoCanary, bareCanary, canary } from '../helpers/canary.js';
import { awsProviderRig, type ProviderRig } from '../helpers/credentials.js';
import { elapse, FakeClock } from '../helpers/fake-clock.js';

/** Behaviour that needs fault injection or call counts: the sandbox only (moto runs are in credential-rotation). */
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

function slackValue() {
  return { botToken: canary('xoxb'), signingSecret: canary('sign') };
}

/** A fresh prefix per test, so secrets never collide. */
function setup(options: { maxStaleSeconds?: number; random?: () => number } = {}) {
  const prefix = `t${++seq}/`;
  const clock = new FakeClock();
  const rig = awsProviderRig({ endpoint, clock, prefix, pollSeconds: 60, ...options });
  rigs.push(rig);
  const slack = slackValue();
  sm.create(`${prefix}slack`, JSON.stringify(slack));
  sm.resetCalls();
  return { ...rig, clock, prefix, slack, name: `${prefix}slack` };
}

describe('credential provider against the simulated Secrets Manager', () => {
  it('coalesces 1,000 concurrent cold reads into one DescribeSecret and one GetSecretValue', async () => {
    const { provider, slack } = setup();
    const reads = await Promise.all(
      Array.from({ length: 1_000 }, () => provider.get(slackIntegration.secret)),
    );
    expect(new Set(reads.map((r) => r.versionId)).size).toBe(1);
    expect(reads[0]?.value.reveal().botToken).toBe(slack.botToken);
    expect(sm.calls.GetSecretValue ?? 0).toBe(1);
    expect(sm.calls.DescribeSecret ?? 0).toBe(1);
  });

  it("reads a secret through its integration's spec, and refuses a look-alike spec it was not built with", async () => {
    const { provider, slack } = setup();
    const read = await provider.get(slackIntegration.secret);
    expect(read.value.reveal().botToken).toBe(slack.botToken);
    expect(provider.current(slackIntegration.secret).versionId).toBe(read.versionId);
    // Same name, another schema: the provider parsed the value with its own, so this one would lie.
    const lookalike: SecretSpec<{ token: string }> = {
      name: 'slack',
      title: 'Slack',
      schema: z.object({ token: z.string() }),
      sensitive: ['token'],
    };
    await expect(provider.get(lookalike)).rejects.toThrow(
      'the secret "slack" was asked for with a spec the provider was not built with',
    );
    expect(() => provider.pending(lookalike)).toThrow(/not built with/);
  });

  it('serves the last good value through throttling and 5xx, up to the staleness bound, then fails closed', async () => {
    const { provider, clock, metric, logs, slack } = setup({ maxStaleSeconds: 300 });
    await provider.start(['slack']);
    sm.faults.set({ kind: '5xx' });
    await elapse(clock, provider, 72_000); // past the first poll (60 s ± 20%)
    expect(await metric('opsbot_secret_refresh_total', { outcome: 'transient_error' })).toBeGreaterThan(0);
    expect(provider.current(slackIntegration.secret).value.reveal().botToken).toBe(slack.botToken);

    sm.faults.set({ kind: 'throttle' });
    await elapse(clock, provider, 200_000);
    expect(sm.calls.DescribeSecret ?? 0).toBeGreaterThan(3);
    expect(provider.current(slackIntegration.secret).value.reveal().signingSecret).toBe(slack.signingSecret);
    const staleness = await metric('opsbot_secret_staleness_seconds', { integration: 'slack' });
    expect(staleness).toBeGreaterThan(200);

    await elapse(clock, provider, 120_000); // now more than 300 s unconfirmed
    expect(() => provider.current(slackIntegration.secret)).toThrow(CredentialUnavailableError);
    let caught: unknown;
    try {
      provider.current(slackIntegration.secret);
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).message).toMatch(/OPSBOT_SECRET_MAX_STALE_SECONDS/);

    sm.faults.clear();
    await elapse(clock, provider, 61_000); // the backoff is capped at 60 s
    expect(provider.isLoaded('slack')).toBe(true);
    assertNoCanary({ logs: logs.text(), error: caught }, [slack.botToken, slack.signingSecret]);
  });

  it('never hides AccessDenied: reads fail at once with an error that says what to check', async () => {
    const { provider, clock, logs } = setup();
    await provider.start(['slack']);
    sm.faults.set({ kind: 'access_denied' });
    await elapse(clock, provider, 72_000);
    expect(() => provider.current(slackIntegration.secret)).toThrow(
      /refused access to `t\d+\/slack`.*IAM role/,
    );
    const errors = logs.records().filter((r) => r.level === 'error');
    expect(errors.map((r) => r.msg)).toContain('secret unusable');
    expect(JSON.stringify(errors)).toContain('AccessDeniedException');
  });

  it('retries in the background with full-jitter backoff from 1 s, doubling to a 60 s cap', async () => {
    const { provider, clock } = setup({ random: () => 0.999_999 });
    sm.faults.set({ kind: 'throttle' });
    await provider.start(['slack']);
    const ceilings: number[] = [];
    for (let attempt = 0; attempt < 9; attempt++) {
      await vi.waitFor(() => expect(clock.delays().length).toBe(1));
      const [delay] = clock.delays();
      ceilings.push(delay as number);
      const before = sm.calls.DescribeSecret ?? 0;
      clock.runNext();
      await vi.waitFor(() => expect(sm.calls.DescribeSecret ?? 0).toBe(before + 1));
    }
    expect(ceilings).toEqual([999, 1_999, 3_999, 7_999, 15_999, 31_999, 59_999, 59_999, 59_999]);
  });

  it('gives a cold read a 3 s deadline, and says so', async () => {
    const { provider, clock } = setup();
    sm.faults.set({ kind: 'latency', latencyMs: 1_500 });
    const read = provider.get(slackIntegration.secret);
    await vi.waitFor(() => expect(clock.delays()).toContain(3_000));
    clock.advance(3_000);
    await expect(read).rejects.toThrow(/did not answer within 3 s/);
  });

  it('disables an integration whose secret does not exist, and enables it once created', async () => {
    const { provider, clock, prefix } = setup();
    await provider.start(['slack', 'jira']);
    expect(provider.isConfigured('jira')).toBe(false);
    await expect(provider.get('jira')).rejects.toThrow(IntegrationNotConfiguredError);
    await expect(provider.get('jira')).rejects.toThrow(
      /Jira is not configured: opsbot has no secret `t\d+\/jira`/,
    );
    sm.create(`${prefix}jira`, JSON.stringify({ email: 'bot@example.com', apiToken: canary('jira') }));
    await elapse(clock, provider, 72_000);
    expect(provider.isLoaded('jira')).toBe(true);
  });

  it('refuses a malformed secret with the field named and the value unseen', async () => {
    const { provider, prefix, logs } = setup();
    const token = canary('xoxp');
    sm.create(`${prefix}github`, JSON.stringify({ appId: 'abc', token: 5, extra: token }));
    const error = await provider.get('github').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect((error as Error).message).toContain('token: expected a string');
    assertNoCanary({ error, logs: logs.text() }, [token]);
  });

  it('checks inbound secrets against CURRENT, PENDING, then PREVIOUS for one hour only', async () => {
    const { provider, clock, prefix } = setup();
    const first = { apiKey: bareCanary(), appKey: bareCanary(), webhookSecret: bareCanary() };
    sm.create(`${prefix}datadog`, JSON.stringify(first));
    await provider.start(['datadog']);
    const v1 = provider.current(datadog.secret).versionId;
    expect(verifyInboundSecret(provider, 'datadog', first.webhookSecret)).toEqual({
      ok: true,
      versionId: v1,
    });
    expect(verifyInboundSecret(provider, 'datadog', `${first.webhookSecret}x`)).toEqual({ ok: false });
    expect(verifyInboundSecret(provider, 'datadog', undefined)).toEqual({ ok: false });

    sm.rotate(`${prefix}datadog`, { hold: true });
    await elapse(clock, provider, 72_000);
    expect(provider.pending(datadog.secret)).toBeDefined();
    const pending = provider.pending(datadog.secret);
    const pendingSecret = pending?.value.reveal().webhookSecret as string;
    expect(verifyInboundSecret(provider, 'datadog', pendingSecret)).toEqual({
      ok: true,
      versionId: pending?.versionId,
    });

    sm.finishRotation(`${prefix}datadog`);
    await elapse(clock, provider, 72_000);
    expect(provider.current(datadog.secret).versionId).toBe(pending?.versionId);
    expect(verifyInboundSecret(provider, 'datadog', first.webhookSecret)).toEqual({
      ok: true,
      versionId: v1,
    });
    await elapse(clock, provider, 3_600_000, 60_000);
    expect(verifyInboundSecret(provider, 'datadog', first.webhookSecret)).toEqual({ ok: false });
    expect(verifyInboundSecret(provider, 'datadog', pendingSecret).ok).toBe(true);
  });

  it('rebuilds clients when the version changes and closes the old ones; other errors pass through untouched', async () => {
    const { provider, clock, prefix, metrics, logs } = setup();
    const name = `${prefix}github`;
    sm.create(name, JSON.stringify({ token: canary('github_pat') }));
    const api = new ProtectedApi({ secrets: sm, secretName: name, field: 'token' });
    const { url } = await api.start();
    const closed: string[] = [];
    const clients = new FreshCredentials({
      provider,
      factory: {
        secret: github.secret,
        createClient: (secret, credential) => ({
          token: 'token' in secret ? secret.token : '',
          versionId: credential.versionId,
        }),
        isAuthFailure: (error) => (error as { status?: number }).status === 401,
        closeClient: (client) => closed.push(client.versionId),
      },
      metrics,
      log: logs.log,
    });
    const whoami = async (gh: { token: string }) => {
      const res = await fetch(`${url}/whoami`, { headers: { authorization: `Bearer ${gh.token}` } });
      if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status });
      return (await res.json()) as { version: string };
    };
    await provider.start(['github']);
    const v1 = (await clients.withFreshCredentials(whoami)).version;

    const v2 = sm.rotate(name);
    await elapse(clock, provider, 72_000);
    expect(closed).toEqual([v1]);
    expect((await clients.withFreshCredentials(whoami)).version).toBe(v2);
    expect(api.counts.rejected).toBe(0); // the poll got there first: no call was refused

    sm.resetCalls();
    const boom = new Error('HTTP 502 from GitHub');
    await expect(clients.withFreshCredentials(() => Promise.reject(boom))).rejects.toBe(boom);
    expect(sm.calls).toEqual({});
    clients.close();
    expect(closed).toEqual([v1, v2]);
    await api.stop();
  });
});
