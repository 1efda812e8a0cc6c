import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CredentialExpiredError } from '../../src/credentials/errors.js';
import { FreshCredentials } from '../../src/credentials/fresh-credentials.js';
import { type SlackSecret, slack } from '../../src/integrations/slack.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { awsProviderRig, type ProviderRig } from '../helpers/credentials.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { secretsManagerTargets } from '../helpers/secrets-manager-targets.js';

/**
 * A credential with an expiry of its own (Slack's rotating bot token, 12 hours) is never sent once
 * expired: opsbot checks the source for the version the rotation function stored since the last
 * poll and uses it; with none, the call is refused with a clear error and nothing reaches Slack.
 */
const { targets, stop } = await secretsManagerTargets('credential-expiry');
afterAll(async () => {
  await stop();
});

const HOUR = 3_600_000;

describe.each(targets)('an expiring Slack token against $target', ({ url, skip }) => {
  const rigs: ProviderRig[] = [];
  afterEach(() => {
    for (const rig of rigs.splice(0)) rig.provider.stop();
  });
  const admin = new SecretsManagerClient({
    endpoint: url || 'http://127.0.0.1:9',
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' },
  });

  const slackValue = (botToken: string, expiresAt: number): SlackSecret => ({
    botToken,
    signingSecret: canary('signing'),
    refreshToken: `xoxe-1-${canary('refresh')}`,
    clientId: '123.456',
    clientSecret: canary('client'),
    expiresAt: new Date(expiresAt).toISOString(),
  });

  async function setup() {
    const prefix = `e-${randomUUID().slice(0, 8)}/`;
    const name = `${prefix}slack`;
    const clock = new FakeClock(Date.parse('2026-12-06T08:00:00Z'));
    const first = slackValue(`xoxe.xoxb-${canary('bot')}`, clock.now() + 12 * HOUR);
    await admin.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(first) }));
    // Stale-after is not what this test is about: the clock jumps 12 hours between polls.
    const rig = awsProviderRig({
      endpoint: url,
      clock,
      prefix,
      pollSeconds: 3_600,
      maxStaleSeconds: 172_800,
    });
    rigs.push(rig);
    const sent: string[] = [];
    const clients = new FreshCredentials({
      provider: rig.provider,
      factory: {
        secret: slack.secret,
        createClient: (secret) => ({ token: secret.botToken }),
        isAuthFailure: () => false,
        expiresAt: (secret) => slack.expiresAt?.(secret),
      },
      metrics: rig.metrics,
      log: rig.logs.log,
      now: () => clock.now(),
    });
    await rig.provider.start(['slack']);
    const call = () =>
      clients.withFreshCredentials(async (client) => {
        sent.push(client.token);
        return client.token;
      });
    return { rig, clock, name, first, sent, call };
  }

  it.skipIf(skip)(
    'sends the token while it is valid, and the newer one the source holds once it expires',
    async () => {
      const { clock, name, first, sent, call } = await setup();
      expect(await call()).toBe(first.botToken);
      // The rotation function stored a new token; the bot's next poll is an hour away.
      const second = slackValue(`xoxe.xoxb-${canary('bot')}`, clock.now() + 24 * HOUR);
      await admin.send(new PutSecretValueCommand({ SecretId: name, SecretString: JSON.stringify(second) }));
      clock.advance(12 * HOUR + 1);
      expect(await call()).toBe(second.botToken);
      expect(sent).toEqual([first.botToken, second.botToken]);
    },
  );

  it.skipIf(skip)(
    'refuses to send an expired token when the source has nothing newer, and says what to do',
    async () => {
      const { rig, clock, first, sent, call } = await setup();
      clock.advance(12 * HOUR + 1);
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CredentialExpiredError);
      expect((error as Error).message).toMatch(
        /^opsbot's Slack credential expired at 2026-12-06T20:00:00.000Z and `e-[0-9a-f]{8}\/slack` has no newer version, so opsbot did not send it\. Ask an opsbot admin to rotate it/,
      );
      expect(sent).toEqual([]);
      assertNoCanary({ error: String(error), logs: rig.logs.text() }, [
        first.botToken,
        first.signingSecret,
        first.clientSecret as string,
      ]);
    },
  );
});
