import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';

/**
 * `/devenv` against the sandbox's simulated STS and EC2 (held to moto in
 * test/integration/sandbox-aws-conformance.test.ts), which record who made every call: EC2 only
 * ever sees the Slack user's (or the reaper's) STS session, never the task role, and never an
 * expired one; the reply follows the instance from pending to running.
 */
let bot: SandboxBot;

beforeAll(async () => {
  bot = await startSandboxBot({ pollSeconds: 600, ec2RequestTimeoutMs: 1_000 });
  bot.aws.ec2.pendingMs = 2_500;
});
afterAll(async () => {
  await bot?.stop();
});

async function devenv(text: string, userId = 'U0DEV') {
  const delivery = await bot.slack.sendSlashCommand({ command: '/devenv', text, userId, channelId: 'C0DEV' });
  expect(delivery.status).toBe(200);
  await bot.slack.waitForResponse(delivery.responseUrl);
  const last = () => bot.slack.responses(delivery.responseUrl).at(-1)?.text ?? '';
  await expect.poll(() => last().includes('updates when it is running'), { timeout: 15_000 }).toBe(false);
  return bot.slack.responses(delivery.responseUrl).map((r) => r.text ?? '');
}

describe('/devenv on per-user STS sessions (simulated STS and EC2)', () => {
  it('starts as the user: one AssumeRole with SourceIdentity and session tags, EC2 under that session only', async () => {
    const answers = await devenv('up small --name web-1');
    // One message, updated: pending first, then running with how to connect.
    expect(answers[0]).toMatch(/`web-1` \(i-[0-9a-f]{17}\) is \*pending\*/);
    expect(answers.at(-1)).toMatch(/is \*running\* · t3\.medium · 10\.0\.\d+\.\d+/);
    expect(answers.at(-1)).toContain('aws ssm start-session --target i-');
    const [assumed] = bot.aws.sts.assumeRoleCalls;
    expect(assumed).toMatchObject({
      callerAccessKeyId: 'SANDBOX',
      roleArn: 'arn:aws:iam::123456789012:role/opsbot-devenv',
      sessionName: 'opsbot-U0DEV',
      sourceIdentity: 'slack.T0SANDBOX.U0DEV',
      durationSeconds: 900,
    });
    expect(assumed?.tags).toEqual(
      expect.arrayContaining([
        { key: 'slack-user', value: 'U0DEV' },
        { key: 'slack-team', value: 'T0SANDBOX' },
        { key: 'opsbot-action', value: 'devenv:up' },
      ]),
    );
    const calls = bot.aws.ec2.calls;
    expect(calls.length).toBeGreaterThan(1);
    expect(
      calls.every((c) => c.credential === 'session' && c.sourceIdentity === 'slack.T0SANDBOX.U0DEV'),
    ).toBe(true);
    const [instance] = bot.aws.ec2.instances();
    expect(instance?.clientToken).toMatch(/^[0-9a-f]{40}$/);
    expect(instance?.keyName).toBeUndefined();
    expect(instance?.metadataOptions.httpTokens).toBe('required');
    expect(instance?.launchedBy?.sourceIdentity).toBe('slack.T0SANDBOX.U0DEV');
  });

  it('refuses what fails validation or policy with no AWS call at all', async () => {
    const sts = bot.aws.sts.assumeRoleCalls.length;
    const ec2 = bot.aws.ec2.calls.length;
    expect((await devenv('up huge')).at(-1)).toContain('There is no dev-env template `huge`');
    expect((await devenv('up small --ttl 2d')).at(-1)).toContain('live at most 1d');
    expect((await devenv('up small --ttl soon')).at(-1)).toMatch(/ttl/i);
    // Denied by the policy (U0GUEST is in no rule for devenv): refused before anything runs.
    expect((await devenv('up small', 'U0GUEST')).at(-1)).toContain(':no_entry:');
    expect(bot.aws.sts.assumeRoleCalls.length).toBe(sts);
    expect(bot.aws.ec2.calls.length).toBe(ec2);
  });

  it('a RunInstances that hangs is retried with the same ClientToken: one instance, not two', async () => {
    const before = bot.aws.ec2.instances().length;
    const runs = () => bot.aws.ec2.calls.filter((c) => c.action === 'RunInstances').length;
    const runsBefore = runs();
    // The first attempt is answered too late (the SDK gives up after 1 s and retries): EC2 still
    // starts the instance for it, and the retry with the same token gets that one back.
    bot.aws.ec2.failNext({ action: 'RunInstances', delayMs: 1_500 });
    const answers = await devenv('up small --name slow-1');
    expect(answers.at(-1)).toMatch(/`slow-1` \(i-[0-9a-f]{17}\) is \*running\*/);
    await new Promise((r) => setTimeout(r, 1_000));
    const started = bot.aws.ec2.instances().filter((i) => i.tags.Name === 'slow-1');
    expect(started).toHaveLength(1);
    expect(bot.aws.ec2.instances()).toHaveLength(before + 1);
    // Two RunInstances reached EC2 (the hung one and its retry), one instance came of them.
    expect(runs() - runsBefore).toBe(2);
    await devenv('down slow-1');
  });

  it('re-assumes once a session is near expiry: no call with expired credentials reaches EC2', async () => {
    const before = bot.aws.sts.assumeRoleCalls.filter((c) =>
      c.tags.some((t) => t.value === 'devenv:list'),
    ).length;
    await devenv('list');
    await devenv('list');
    const listSessions = () =>
      bot.aws.sts.assumeRoleCalls.filter((c) => c.tags.some((t) => t.value === 'devenv:list'));
    expect(listSessions()).toHaveLength(before + 1);
    // 11 minutes on: the 15-minute session is within 5 minutes of expiry, so a new one is assumed.
    bot.clock.advance(11 * 60_000);
    expect((await devenv('list')).at(-1)).toContain('web-1');
    expect(listSessions()).toHaveLength(before + 2);
    // 16 minutes after the first: that session has expired; nothing used it.
    bot.clock.advance(6 * 60_000);
    await devenv('list');
    expect(bot.aws.ec2.calls.filter((c) => c.error)).toEqual([]);
  });

  it('the reaper acts as opsbot.reaper, never as a person and never as the task role', async () => {
    bot.clock.advance(4 * 3_600_000);
    await expect
      .poll(
        () =>
          bot.aws.ec2.calls.some(
            (c) => c.sourceIdentity === 'opsbot.reaper' && c.action === 'TerminateInstances',
          ),
        {
          timeout: 10_000,
        },
      )
      .toBe(true);
    expect(bot.aws.ec2.instance(bot.aws.ec2.instances()[0]?.instanceId ?? '')?.state).not.toBe('running');
    expect(bot.aws.ec2.calls.every((c) => c.credential === 'session')).toBe(true);
    const reaper = bot.aws.sts.assumeRoleCalls.find((c) => c.sourceIdentity === 'opsbot.reaper');
    expect(reaper).toMatchObject({ sessionName: 'opsbot-reaper', durationSeconds: 900 });
    assertNoCanary({ logs: bot.logLines.join('\n') }, bot.secrets());
  });
});
