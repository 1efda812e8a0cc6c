import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { awsIdentityIntegration, whoAwsCommand } from '../fixtures/aws-identity.js';
import { assertNoCanary } from '../helpers/canary.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';

/**
 * An integration that acts as the Slack user through an assumed role, declared in the registry
 * like any other (test/fixtures/aws-identity.ts), against moto's STS: the command asks for "AWS as
 * this user" as naturally as `/gh` asks for GitHub.
 */
const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["whoaws:*"]
      channels: [C0DEV]
`;
const ROLE = 'arn:aws:iam::123456789012:role/opsbot-devenv';

const moto: Moto | undefined = await startMoto();
if (!moto) warnMotoMissing('assumed-role-fixture');
let bot: SandboxBot;

const run = async (target: SandboxBot, userId: string) => {
  const delivery = await target.slack.sendSlashCommand({
    command: '/whoaws',
    text: 'show',
    userId,
    channelId: 'C0DEV',
  });
  expect(delivery.status).toBe(200);
  const [reply] = await target.slack.waitForResponse(delivery.responseUrl);
  return reply?.text ?? '';
};

beforeAll(async () => {
  if (!moto) return;
  bot = await startSandboxBot({
    configYaml: POLICY,
    extraIntegrations: [awsIdentityIntegration({ roleArn: ROLE, endpoint: moto.url })],
    extraCommands: [whoAwsCommand],
    stsEndpoint: moto.url,
  });
});
afterAll(async () => {
  await bot?.stop();
  await moto?.stop();
});

describe.skipIf(!moto)('an assumed-role integration added through the registry', () => {
  it('acts under an STS session named for the Slack user who ran the command', async () => {
    expect(await run(bot, 'U0DEV')).toBe('arn:aws:sts::123456789012:assumed-role/opsbot-devenv/opsbot-U0DEV');
    expect(await run(bot, 'U0ADMIN')).toBe(
      'arn:aws:sts::123456789012:assumed-role/opsbot-devenv/opsbot-U0ADMIN',
    );
    // The record is stored just after the answer goes out: wait for the second command's.
    await expect
      .poll(async () => (await bot.state.audit.query({ command: 'whoaws', limit: 1 }))[0]?.actor)
      .toBe('U0ADMIN');
    const [record] = await bot.state.audit.query({ command: 'whoaws', limit: 1 });
    expect(record).toMatchObject({ action: 'whoaws:show', actor: 'U0ADMIN', outcome: 'success' });
    expect(String(record?.details.credentials)).toContain('awsid@opsbot-U0ADMIN');
  });

  it('says it is not configured when no role is set', async () => {
    const bare = await startSandboxBot({
      configYaml: POLICY,
      extraIntegrations: [awsIdentityIntegration({ roleArn: undefined, endpoint: moto?.url ?? '' })],
      extraCommands: [whoAwsCommand],
    });
    try {
      expect(await run(bare, 'U0DEV')).toBe(
        'AWS (as you) is not configured: opsbot has no role to assume for it. Ask an opsbot admin to set its role ARN in the configuration file (README.md, "Configuration file").',
      );
    } finally {
      await bare.stop();
    }
  });

  it('keeps the session secrets out of logs, Slack and the audit trail', async () => {
    const secrets = bot.logLines.join('\n');
    assertNoCanary({
      logs: secrets,
      audit: await bot.state.audit.query({ limit: 50 }),
      slack: bot.slack.calls,
    });
    expect(secrets).not.toMatch(/"(SecretAccessKey|SessionToken)"/);
  });
});
