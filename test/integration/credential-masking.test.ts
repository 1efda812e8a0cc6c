import { generateKeyPairSync } from 'node:crypto';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createCredentialMetrics } from '../../src/credentials/metrics.js';
import { STAGE } from '../../src/credentials/source.js';
import { CONFIG_SECTIONS } from '../../src/features.js';
import { github } from '../../src/integrations/github.js';
import { RateLimits } from '../../src/integrations/rate-limits.js';
import { buildIntegrations, IntegrationRegistry } from '../../src/integrations/registry.js';
import { REDACTED, SecretRedactor } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { SimulatedGitHub } from '../../src/sandbox/github.js';
import { awsIdentityIntegration } from '../fixtures/aws-identity.js';
import { canary } from '../helpers/canary.js';
import { elapse, FakeClock } from '../helpers/fake-clock.js';
import { FakeSecretSource, providerOn } from '../helpers/fake-source.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startMoto } from '../helpers/moto.js';

/**
 * Red-team finding: credentials minted at run time (installation tokens, App JWTs, STS sessions)
 * were never masked, and masked values were never retired. Each is now registered for its
 * lifetime, through the wiring the app uses (buildIntegrations), and retired after.
 */

/** A redactor on the fake clock that remembers what it was asked to mask. */
function recordingRedactor(clock: FakeClock) {
  const redactor = new SecretRedactor({ now: () => clock.now() });
  const registered: { value: string; until: number | undefined }[] = [];
  const register = redactor.register.bind(redactor);
  redactor.register = (value, options) => {
    registered.push({ value, until: options?.until });
    return register(value, options);
  };
  return { redactor, registered };
}

function platform(clock: FakeClock, env: Record<string, string> = {}) {
  // The production sections: OPSBOT_GITHUB_API_URL is GitHub's own variable.
  const config = loadConfig(
    { AWS_REGION: 'us-east-1', ...env },
    { readFile: () => '', sections: CONFIG_SECTIONS },
  );
  const metrics = createMetrics({ defaultMetrics: false });
  return { config, log: captureLogs().log, clock, metrics, rateLimits: new RateLimits({ clock }) };
}

describe('GitHub tokens minted at run time (registry → GitHubClient → redactor)', () => {
  const clock = new FakeClock(Date.now());
  const sandbox = new SimulatedGitHub({ appId: '11', installationId: '22', now: () => clock.now() });
  let url = '';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  beforeAll(async () => {
    ({ url } = await sandbox.start());
    sandbox.addAppKey(publicKey);
  });
  afterAll(() => sandbox.stop());

  it('masks each installation token until its expires_at and each App JWT for 10 minutes, then retires them', async () => {
    const { redactor, registered } = recordingRedactor(clock);
    const source = new FakeSecretSource();
    source.put('opsbot/github', JSON.stringify({ appId: '11', installationId: '22', privateKey }));
    const { provider } = providerOn(source, { clock, redactor });
    await provider.start(['github']);
    const deps = platform(clock, { OPSBOT_GITHUB_API_URL: url });
    const built = buildIntegrations(new IntegrationRegistry([github]), {
      ...deps,
      provider,
      credentialMetrics: createCredentialMetrics(deps.metrics, { source: 'aws', staleness: () => [] }),
      redactor,
    });
    const mintedAt = clock.now();
    await built.apis.github?.listPulls({ owner: 'acme', repo: 'web' }, { state: 'open', limit: 5 });

    const token = registered.find((r) => r.value.startsWith('ghs_'));
    const jwt = registered.find((r) => r.value.startsWith('eyJ'));
    expect(token?.until).toBe(Date.parse(sandbox.issued.at(-1)?.expiresAt ?? ''));
    expect(jwt?.until).toBe(mintedAt + 10 * 60_000);
    const line = (value: string) => `{"msg":"GitHub said no","authorization":"token ${value}"}`;
    expect(redactor.redact(line(token?.value ?? ''))).toBe(line(REDACTED));
    expect(redactor.redact(line(jwt?.value ?? ''))).toBe(line(REDACTED));

    clock.advance(10 * 60_000);
    expect(redactor.redact(line(jwt?.value ?? ''))).toBe(line(jwt?.value ?? ''));
    expect(redactor.redact(line(token?.value ?? ''))).toBe(line(REDACTED));
    clock.advance(50 * 60_000);
    expect(redactor.redact(line(token?.value ?? ''))).toBe(line(token?.value ?? ''));
    built.close();
    provider.stop();
  });
});

describe('STS session secrets (registry → RoleSessions onSecret/onRetire → redactor)', () => {
  let moto: Awaited<ReturnType<typeof startMoto>>;
  beforeAll(async () => {
    moto = await startMoto();
    if (!moto) return;
    const warm = new STSClient({
      region: 'us-east-1',
      endpoint: moto.url,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key-0123' },
    });
    await warm.send(new GetCallerIdentityCommand({}));
    warm.destroy();
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it('retires the secret access key and session token a minute after the session expires', async (ctx) => {
    if (!moto) return ctx.skip();
    const clock = new FakeClock(Date.now());
    const { redactor, registered } = recordingRedactor(clock);
    const deps = platform(clock);
    const built = buildIntegrations(
      new IntegrationRegistry([
        awsIdentityIntegration({
          roleArn: 'arn:aws:iam::123456789012:role/opsbot-dev-env',
          endpoint: moto.url,
        }),
      ]),
      {
        ...deps,
        provider: providerOn(new FakeSecretSource(), { clock }).provider,
        credentialMetrics: createCredentialMetrics(deps.metrics, { source: 'aws', staleness: () => [] }),
        redactor,
        sts: {
          endpoint: moto.url,
          credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key-0123' },
        },
      },
    );
    const apis = built.apis as { awsid?: { whoAmI(userId: string): Promise<string> } };
    expect(await apis.awsid?.whoAmI('U0DEV')).toMatch(/assumed-role\/opsbot-dev-env\/opsbot-U0DEV$/);
    expect(registered).toHaveLength(2);
    for (const { value } of registered) expect(redactor.redact(value)).toBe(REDACTED);
    clock.advance(15 * 60_000 + 60_000 + 1_000); // 900 s sessions, retired a minute after expiry
    for (const { value } of registered) expect(redactor.redact(value)).toBe(value);
    built.close();
  });
});

describe('secret versions the provider evicts', () => {
  it('are retired 10 minutes after eviction; values still in use stay masked', async () => {
    const clock = new FakeClock();
    const redactor = new SecretRedactor({ now: () => clock.now() });
    const source = new FakeSecretSource();
    const name = 'opsbot/slack';
    const botToken = canary('xoxb'); // unchanged by the rotations below
    const signing = [canary('sign'), canary('sign'), canary('sign'), canary('sign')];
    source.put(name, JSON.stringify({ botToken, signingSecret: signing[0] }));
    const { provider } = providerOn(source, { clock, redactor, random: () => 0.5 });
    await provider.start(['slack']);
    for (const secret of signing.slice(1, 3)) {
      source.put(name, JSON.stringify({ botToken, signingSecret: secret }));
      await elapse(clock, provider, 60_000, 60_000);
    }
    // CURRENT is the third version, PREVIOUS the second: the first was evicted just now.
    expect(redactor.redact(signing[0] as string)).toBe(REDACTED);
    await elapse(clock, provider, 10 * 60_000, 60_000);
    expect(redactor.redact(signing[0] as string)).toBe(signing[0]);
    expect(redactor.redact(signing[1] as string)).toBe(REDACTED);
    expect(redactor.redact(signing[2] as string)).toBe(REDACTED);
    expect(redactor.redact(botToken)).toBe(REDACTED);

    // An emergency rotation evicts PREVIOUS at once; its values go 10 minutes later.
    source.put(name, JSON.stringify({ botToken, signingSecret: signing[3] }), [
      STAGE.current,
      'OPSBOT_EMERGENCY',
    ]);
    await elapse(clock, provider, 60_000, 60_000);
    expect(provider.inboundCandidates('slack')).toHaveLength(1);
    await elapse(clock, provider, 10 * 60_000, 60_000);
    expect(redactor.redact(signing[1] as string)).toBe(signing[1]);
    expect(redactor.redact(signing[2] as string)).toBe(signing[2]);
    expect(redactor.redact(botToken)).toBe(REDACTED);
    provider.stop();
  });
});
