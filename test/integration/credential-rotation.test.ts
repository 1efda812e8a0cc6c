import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CredentialRejectedError } from '../../src/credentials/errors.js';
import { FreshCredentials } from '../../src/credentials/fresh-credentials.js';
import { github } from '../../src/integrations/github.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { awsProviderRig, type ProviderRig } from '../helpers/credentials.js';
import { elapse, FakeClock } from '../helpers/fake-clock.js';
import { secretsManagerTargets } from '../helpers/secrets-manager-targets.js';
import { callWith, HttpStatusError, TokenService } from '../helpers/token-service.js';

/**
 * Rotation as AWS does it, through the real SDK, against the sandbox AND moto (an independent
 * implementation of Secrets Manager), so the sandbox cannot drift into agreeing with our own bugs.
 */
const { targets, stop } = await secretsManagerTargets('credential-rotation');

const service = new TokenService();
beforeAll(async () => {
  await service.start();
});
afterAll(async () => {
  await service.stop();
  await stop();
});

describe.each(targets)('rotation against $target', ({ url, skip }) => {
  const rigs: ProviderRig[] = [];
  afterEach(() => {
    for (const rig of rigs.splice(0)) rig.provider.stop();
  });

  const admin = new SecretsManagerClient({
    endpoint: url || 'http://127.0.0.1:9',
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' },
  });

  /** A fresh secret `<prefix>github` holding a token, and a provider + clients over it. */
  async function setup() {
    const prefix = `r-${randomUUID().slice(0, 8)}/`;
    const name = `${prefix}github`;
    const token = canary('github_pat');
    const created = await admin.send(
      new CreateSecretCommand({ Name: name, SecretString: JSON.stringify({ token }) }),
    );
    const clock = new FakeClock();
    const rig = awsProviderRig({ endpoint: url, clock, prefix, pollSeconds: 60 });
    rigs.push(rig);
    let built = 0;
    const clients = new FreshCredentials({
      provider: rig.provider,
      factory: {
        secret: github.secret,
        createClient: (secret) => {
          built += 1;
          return { token: 'token' in secret ? secret.token : '' };
        },
        isAuthFailure: (error) =>
          error instanceof HttpStatusError && (error.status === 401 || error.status === 403),
      },
      metrics: rig.metrics,
      log: rig.logs.log,
    });
    await rig.provider.start(['github']);
    return {
      ...rig,
      clock,
      name,
      token,
      clients,
      builtCount: () => built,
      firstVersion: created.VersionId as string,
    };
  }

  /** What a rotation Lambda's createSecret step does: the new value labelled AWSPENDING. */
  async function stagePending(name: string) {
    const token = canary('github_pat');
    const out = await admin.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: JSON.stringify({ token }),
        ClientRequestToken: randomUUID(),
        VersionStages: ['AWSPENDING'],
      }),
    );
    return { token, versionId: out.VersionId as string };
  }

  /** The finishSecret step: AWSCURRENT moves (the old version becomes AWSPREVIOUS), AWSPENDING is removed. */
  async function finish(name: string, from: string, to: string) {
    await admin.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: to,
        RemoveFromVersionId: from,
      }),
    );
    await admin.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: to,
      }),
    );
  }

  const gets = (rig: ProviderRig) =>
    rig.metric('opsbot_secret_source_calls_total', { api: 'GetSecretValue' });
  const describes = (rig: ProviderRig) =>
    rig.metric('opsbot_secret_source_calls_total', { api: 'DescribeSecret' });

  it.skipIf(skip)('polling picks up a rotation, fetching values only when the version moves', async () => {
    const rig = await setup();
    const { provider, clock, name, firstVersion } = rig;
    expect(provider.current('github').versionId).toBe(firstVersion);
    await elapse(clock, provider, 10 * 60_000, 5_000);
    expect(await describes(rig)).toBeGreaterThanOrEqual(9);
    expect(await gets(rig)).toBe(1);

    const next = await stagePending(name);
    await finish(name, firstVersion, next.versionId);
    await elapse(clock, provider, 72_000, 5_000);
    const current = provider.current('github');
    expect(current.versionId).toBe(next.versionId);
    expect(current.value.reveal()).toEqual({ token: next.token });
    expect(await gets(rig)).toBe(2);
    expect(rig.audit.events.map((e) => [e.action, e.details.versionId])).toEqual([
      ['secret.loaded', firstVersion],
      ['secret.version_changed', next.versionId],
    ]);
    expect(rig.audit.events[1]?.details.previousVersionId).toBe(firstVersion);
    assertNoCanary({ logs: rig.logs.text(), audit: rig.audit.events }, [rig.token, next.token]);
  });

  it.skipIf(skip)('prefetches AWSPENDING, so finishing the rotation costs no GetSecretValue', async () => {
    const rig = await setup();
    const { provider, clock, name, firstVersion } = rig;
    const next = await stagePending(name);
    await elapse(clock, provider, 72_000, 5_000);
    expect(provider.pending('github')?.versionId).toBe(next.versionId);
    expect(provider.current('github').versionId).toBe(firstVersion);
    expect(await gets(rig)).toBe(2);

    await finish(name, firstVersion, next.versionId);
    await elapse(clock, provider, 72_000, 5_000);
    expect(provider.current('github').versionId).toBe(next.versionId);
    expect(provider.pending('github')).toBeUndefined();
    expect(await gets(rig)).toBe(2);
  });

  it.skipIf(skip)('treats a version labelled both AWSCURRENT and AWSPENDING as current only', async () => {
    const rig = await setup();
    const { provider, clock, name } = rig;
    const token = canary('github_pat');
    const out = await admin.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: JSON.stringify({ token }),
        VersionStages: ['AWSCURRENT', 'AWSPENDING'],
      }),
    );
    await elapse(clock, provider, 72_000, 5_000);
    expect(provider.current('github').versionId).toBe(out.VersionId);
    expect(provider.pending('github')).toBeUndefined();
    expect(await gets(rig)).toBe(2);
  });

  it.skipIf(skip)('an auth failure picks up a rotation within the same request', async () => {
    const rig = await setup();
    const { provider, name, firstVersion, clients } = rig;
    service.accepted = new Set([rig.token]);
    await clients.withFreshCredentials((gh: { token: string }) => callWith(service.url, gh.token));
    expect(rig.builtCount()).toBe(1);

    // Rotate behind the poller's back; the service stops accepting the old token at once.
    const next = await stagePending(name);
    await finish(name, firstVersion, next.versionId);
    service.accepted = new Set([next.token]);
    const result = await clients.withFreshCredentials((gh: { token: string }) =>
      callWith(service.url, gh.token),
    );
    expect(result).toEqual({ ok: true });
    expect(provider.current('github').versionId).toBe(next.versionId);
    expect(rig.builtCount()).toBe(2);
    expect(await rig.metric('opsbot_secret_auth_failure_retries_total', { outcome: 'recovered' })).toBe(1);
    assertNoCanary({ logs: rig.logs.text(), audit: rig.audit.events }, [rig.token, next.token]);
  });

  it.skipIf(skip)(
    'falls back to AWSPENDING when the service already moved but AWSCURRENT did not',
    async () => {
      const rig = await setup();
      const { provider, name, clients } = rig;
      const next = await stagePending(name); // the rotation's setSecret step already ran in the service
      service.accepted = new Set([next.token]);
      const result = await clients.withFreshCredentials((gh: { token: string }) =>
        callWith(service.url, gh.token),
      );
      expect(result).toEqual({ ok: true });
      expect(provider.pending('github')?.versionId).toBe(next.versionId);
      expect(await rig.metric('opsbot_secret_auth_failure_retries_total', { outcome: 'recovered' })).toBe(1);
    },
  );

  it.skipIf(skip)(
    'surfaces a rejected credential as an error that names GitHub, and does not storm the source',
    async () => {
      const rig = await setup();
      const { clients } = rig;
      service.accepted = new Set();
      const error = await clients
        .withFreshCredentials((gh: { token: string }) => callWith(service.url, gh.token))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CredentialRejectedError);
      expect((error as Error).message).toMatch(/^GitHub rejected opsbot's credential.*`r-[0-9a-f]+\/github`/);
      const describesAfterFirst = await describes(rig);
      await Promise.all(
        Array.from({ length: 50 }, () =>
          clients
            .withFreshCredentials((gh: { token: string }) => callWith(service.url, gh.token))
            .catch(() => undefined),
        ),
      );
      expect(await describes(rig)).toBe(describesAfterFirst);
      expect(await rig.metric('opsbot_secret_auth_failure_retries_total', { outcome: 'rejected' })).toBe(51);
      assertNoCanary({ error, logs: rig.logs.text() }, [rig.token]);
    },
  );
});
