import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialEventsTo } from '../../src/audit/credential-events.js';
import { toSourceError } from '../../src/credentials/aws-source.js';
import { createCredentials } from '../../src/credentials/from-config.js';
import { inboundSecrets } from '../../src/credentials/verify-inbound.js';
import { createMetrics } from '../../src/metrics.js';
import { SimulatedSecretsManager } from '../../src/sandbox/secrets-manager.js';
import { signSlackRequest, verifySlackRequest } from '../../src/slack/verify-request.js';
import { canary } from '../helpers/canary.js';
import { CATALOG } from '../helpers/catalog.js';
import { elapse, FakeClock } from '../helpers/fake-clock.js';
import { FakeSecretSource, providerOn } from '../helpers/fake-source.js';
import { captureLogs } from '../helpers/log-capture.js';
import { MemoryAuditSink } from '../helpers/memory-audit-sink.js';

/**
 * Red-team finding: one transient error of opsbot's own AWS credentials (an expired session token,
 * a clock-skewed signature, a credential provider that failed once) was taken for AccessDenied, so
 * the cached signing secret was refused and every Slack request got 401 until the next retry.
 */
const sdkError = (name: string, status?: number) =>
  Object.assign(new Error(`${name} message`), {
    name,
    ...(status ? { $metadata: { httpStatusCode: status, requestId: 'req-1' } } : {}),
  });

const slackSecret = () => ({ botToken: canary('xoxb'), signingSecret: canary('sign') });

/** A Slack request as Slack signs it, checked the way the HTTP receiver checks it. */
function slackAccepts(provider: Parameters<typeof inboundSecrets>[0], signingSecret: string, now: number) {
  const timestamp = String(Math.floor(now / 1_000));
  const rawBody = Buffer.from('command=%2Fopsbot&text=audit&user_id=U0ADMIN');
  const signature = signSlackRequest(signingSecret, timestamp, rawBody);
  return verifySlackRequest({ timestamp, signature, rawBody }, inboundSecrets(provider, 'slack'), now).ok;
}

async function loadedOnFakeSource(random = () => 0.999_999) {
  const clock = new FakeClock();
  const source = new FakeSecretSource();
  const slack = slackSecret();
  source.put('opsbot/slack', JSON.stringify(slack));
  const rig = providerOn(source, { clock, random });
  await rig.provider.start(['slack']);
  return { ...rig, clock, source, slack };
}

describe("transient errors of opsbot's own AWS credentials", () => {
  it.each([
    ['ExpiredTokenException', 400],
    ['InvalidSignatureException', 400], // "Signature expired": the task's clock is skewed
    ['CredentialsProviderError', undefined],
    ['UnrecognizedClientException', 400],
  ] as const)('%s keeps the last good value: Slack requests still verify', async (name, status) => {
    const { provider, clock, source, slack, metric } = await loadedOnFakeSource();
    source.failWith = (api) => toSourceError('opsbot/slack', api, sdkError(name, status));
    await elapse(clock, provider, 72_000);
    expect(await metric('opsbot_secret_refresh_total', { outcome: 'transient_error' })).toBe(1);
    expect(provider.isLoaded('slack')).toBe(true);
    expect(slackAccepts(provider, slack.signingSecret, clock.now())).toBe(true);
    provider.stop();
  });

  it.each([
    ['AccessDeniedException', 'access_denied'],
    ['ResourceNotFoundException', 'not_found'],
  ] as const)("Secrets Manager's own %s still fails closed at once", async (name, outcome) => {
    const { provider, clock, source, slack, metric } = await loadedOnFakeSource();
    source.failWith = (api) => toSourceError('opsbot/slack', api, sdkError(name, 400));
    await elapse(clock, provider, 72_000);
    expect(await metric('opsbot_secret_refresh_total', { outcome })).toBe(1);
    expect(provider.isLoaded('slack')).toBe(false);
    expect(slackAccepts(provider, slack.signingSecret, clock.now())).toBe(false);
    provider.stop();
  });

  it('a forced refresh (after an auth failure) runs at once and starts the backoff over', async () => {
    const { provider, clock, source } = await loadedOnFakeSource();
    const version = provider.current('slack').versionId;
    source.failWith = (api) => toSourceError('opsbot/slack', api, sdkError('ThrottlingException', 400));
    await elapse(clock, provider, 72_000, 72_000);
    while ((clock.delays()[0] ?? 0) < 59_999) {
      clock.runNext();
      await provider.settled();
    }
    const before = source.calls.DescribeSecret;
    await provider.refreshAfterAuthFailure('slack', version);
    expect(source.calls.DescribeSecret).toBe(before + 1);
    expect(clock.delays()).toEqual([999]);
    provider.stop();
  });

  it('a check after opsbot rotated the secret is not held back by an auth-failure check just before', async () => {
    const { provider, clock, source } = await loadedOnFakeSource();
    const version = provider.current('slack').versionId;
    let calls = source.calls.DescribeSecret;
    await provider.refreshAfterAuthFailure('slack', version);
    expect(source.calls.DescribeSecret).toBe(++calls);
    // Within its 5 s, another auth failure for the same version does not ask again…
    await provider.refreshAfterAuthFailure('slack', version);
    expect(source.calls.DescribeSecret).toBe(calls);
    // …but opsbot's own "I just rotated it" does, once per second.
    await provider.checkNow('slack');
    expect(source.calls.DescribeSecret).toBe(++calls);
    await provider.checkNow('slack');
    expect(source.calls.DescribeSecret).toBe(calls);
    clock.advance(1_000);
    await provider.checkNow('slack');
    expect(source.calls.DescribeSecret).toBe(++calls);
    provider.stop();
  });
});

describe('no AWS credentials at all (real SDK default chain, simulated Secrets Manager)', () => {
  const VARIABLES = [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
    'AWS_ROLE_ARN',
    'AWS_EC2_METADATA_DISABLED',
    'AWS_SHARED_CREDENTIALS_FILE',
    'AWS_CONFIG_FILE',
  ];
  const saved = Object.fromEntries(VARIABLES.map((v) => [v, process.env[v]]));
  let sm: SimulatedSecretsManager;
  let endpoint: string;
  beforeAll(async () => {
    for (const v of VARIABLES) delete process.env[v];
    // Nowhere to find credentials: no variables, no files, and instance metadata switched off.
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/opsbot-test/credentials';
    process.env.AWS_CONFIG_FILE = '/nonexistent/opsbot-test/config';
    sm = new SimulatedSecretsManager();
    ({ url: endpoint } = await sm.start());
    sm.create('opsbot/slack', JSON.stringify(slackSecret()));
  });
  afterAll(async () => {
    for (const [v, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[v];
      else process.env[v] = value;
    }
    await sm.stop();
  });

  it('says at start that no credentials were found and where the SDK looked, and keeps retrying', async () => {
    const clock = new FakeClock();
    const logs = captureLogs();
    const { provider } = createCredentials({
      config: {
        secrets: { source: 'aws', prefix: 'opsbot/', pollSeconds: 60, maxStaleSeconds: 21_600 },
        aws: { region: 'us-east-1' },
      },
      catalog: CATALOG,
      env: {},
      log: logs.log,
      redactor: logs.redactor,
      registry: createMetrics({ defaultMetrics: false }),
      events: credentialEventsTo(new MemoryAuditSink()),
      clock,
      aws: { endpoint, maxAttempts: 1 },
    });
    await provider.start(['slack']);
    expect(provider.isLoaded('slack')).toBe(false);
    expect(provider.isConfigured('slack')).toBe(true);
    const line = logs.records().find((r) => r.integration === 'slack' && r.level === 'error');
    expect(line?.msg).toBe('secret store failing; nothing loaded yet, retrying');
    const reason = String(line?.reason);
    expect(reason).toMatch(/no AWS credentials found/);
    for (const place of [
      'AWS_ACCESS_KEY_ID',
      'shared config and credentials files',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'EC2 instance metadata',
    ]) {
      expect(reason).toContain(place);
    }
    expect(reason).not.toMatch(/IAM policy/);
    expect(clock.delays()).toHaveLength(1); // the retry
    const error = await provider.get('slack').catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/has not been loaded from the secret store yet/);
    provider.stop();
  });
});
