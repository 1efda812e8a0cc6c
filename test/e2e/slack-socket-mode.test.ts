import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';

/** What `/readyz` answers right now. */
async function readyz(
  bot: SandboxBot,
): Promise<{ status: number; body: { checks?: Record<string, boolean> } }> {
  const res = await fetch(`${bot.base}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks?: Record<string, boolean> } };
}

/** The app token in the slack secret's AWSCURRENT version. */
function currentAppToken(bot: SandboxBot): string {
  const value = JSON.parse(bot.secretsManager.valueOf('opsbot/slack') ?? '{}') as { appToken?: string };
  if (!value.appToken) throw new Error('the slack secret has no appToken');
  return value.appToken;
}

const logCount = (bot: SandboxBot, msg: string) =>
  bot.logLines.filter((l) => l.includes(`"msg":"${msg}`)).length;

/** Sends `/gh help` over the socket and returns the reply's text. */
async function ghHelp(bot: SandboxBot): Promise<string | undefined> {
  const delivery = await bot.slack.sendSlashCommand({
    command: '/gh',
    text: 'help',
    userId: 'U0DEV',
    channelId: 'C0DEV',
  });
  const [reply] = await bot.slack.waitForResponse(delivery.responseUrl);
  return reply?.text;
}

const POLL = { timeout: 20_000, interval: 100 };

let bot: SandboxBot;

beforeAll(async () => {
  bot = await startSandboxBot({ socketMode: true, pollSeconds: 5 });
});
afterAll(async () => {
  await bot?.stop();
});

describe('Socket Mode (OPSBOT_SLACK_MODE=socket)', () => {
  it('connects with the app token, is ready only then, and serves no HTTP events endpoint', async () => {
    expect(bot.slack.socketConnections).toBe(1);
    const ready = await fetch(`${bot.base}/readyz`);
    expect(await ready.json()).toEqual({
      ready: true,
      checks: { integrations: true, slack: true, secrets: true, state: true },
    });
    expect((await fetch(`${bot.base}/slack/events`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('acks a slash command over the socket and answers through respond()', async () => {
    const delivery = await bot.slack.sendSlashCommand({
      command: '/opsbot',
      text: 'whoami',
      userId: 'U0DEV',
      channelId: 'C0DEV',
    });
    expect(delivery.body).toBe('');
    const [reply] = await bot.slack.waitForResponse(delivery.responseUrl);
    expect(reply?.text).toContain('*You are* <@U0DEV>');
    await expect
      .poll(async () => (await bot.state.audit.query({ limit: 1 }))[0]?.action)
      .toBe('opsbot:whoami');
  });

  it('reconnects at once when Slack recycles the connection (a "disconnect" message)', async () => {
    const connectedBefore = logCount(bot, 'Socket Mode connected');
    bot.slack.recycleSocketConnections();
    await expect.poll(() => logCount(bot, 'Socket Mode connected'), POLL).toBe(connectedBefore + 1);
    await expect.poll(() => bot.slack.socketConnections, POLL).toBe(1);
    expect((await readyz(bot)).status).toBe(200);
    expect(await ghHelp(bot)).toContain('*/gh*');
  });

  it('reconnects with a rotated app token before the old one is revoked, with no restart', async () => {
    const connectedBefore = logCount(bot, 'Socket Mode connected');
    const rotated = bot.rotateSlack();
    await expect.poll(() => logCount(bot, 'Socket Mode connected'), POLL).toBe(connectedBefore + 1);
    for (const token of bot.secrets().filter((s) => s.startsWith('xapp-') && s !== rotated.appToken)) {
      bot.slack.revokeAppToken(token);
    }
    // The old socket closes asynchronously (a close handshake): wait for it rather than race it.
    await expect.poll(() => bot.slack.socketConnections, POLL).toBe(1);
    expect((await readyz(bot)).status).toBe(200);
    expect(await ghHelp(bot)).toContain('*/gh*');
    assertNoCanary({ logs: bot.logLines.join('\n'), calls: bot.slack.calls }, bot.secrets());
  });
});

describe('Socket Mode with a revoked app token', () => {
  it('stays up and not ready, asks the secret store, and reconnects once the secret has a new app token', async () => {
    const revoked = await startSandboxBot({ socketMode: true, pollSeconds: 5 });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const describesBefore = revoked.secretsManager.calls.DescribeSecret ?? 0;
      revoked.slack.revokeAppToken(currentAppToken(revoked));

      // Not ready as soon as no socket is open, and says why (with the secret's name, never a value).
      await expect.poll(async () => (await readyz(revoked)).status, POLL).toBe(503);
      expect((await readyz(revoked)).body.checks).toMatchObject({ slack: false, secrets: true });
      await expect
        .poll(() => logCount(revoked, 'Slack rejected the Socket Mode app token'), POLL)
        .toBeGreaterThan(0);
      const rejected = revoked.logLines.find((l) => l.includes('Slack rejected the Socket Mode app token'));
      expect(rejected).toContain('opsbot/slack');
      // The credential provider was asked to check the secret store at once (not at the next poll).
      expect(revoked.secretsManager.calls.DescribeSecret ?? 0).toBeGreaterThan(describesBefore);
      // It keeps retrying (with backoff) and stays up: a second attempt is refused too.
      await expect.poll(() => logCount(revoked, 'Socket Mode still cannot connect'), POLL).toBeGreaterThan(0);
      expect((await readyz(revoked)).status).toBe(503);

      // The operator puts a new app token in the secret: opsbot reconnects, no restart.
      revoked.rotateSlack();
      await expect.poll(async () => (await readyz(revoked)).status, POLL).toBe(200);
      expect((await readyz(revoked)).body.checks).toMatchObject({ slack: true });
      expect(revoked.slack.socketConnections).toBe(1);
      expect(await ghHelp(revoked)).toContain('*/gh*');
      expect(unhandled).toEqual([]);
      assertNoCanary({ logs: revoked.logLines.join('\n') }, revoked.secrets());
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await revoked.stop();
    }
  }, 60_000);
});

describe('Socket Mode without an app token', () => {
  it('stays up and not ready, says once what to add, and connects when a version with an appToken arrives', async () => {
    const waiting = await startSandboxBot({ socketMode: true, pollSeconds: 5, withoutAppToken: true });
    const advice =
      'Socket Mode is waiting for an appToken in opsbot/slack: add \\"appToken\\": \\"xapp-…\\" (connections:write) and opsbot connects without a restart';
    try {
      await expect.poll(() => waiting.logLines.some((l) => l.includes(advice)), POLL).toBe(true);
      const ready = await readyz(waiting);
      expect(ready.status).toBe(503);
      expect(ready.body.checks).toMatchObject({ slack: false, secrets: true });

      // Add an app token to the secret (a new AWSCURRENT version): the provider's onChange connects.
      const appToken = `xapp-test-canary-${'1'.repeat(16)}`;
      waiting.slack.addAppToken(appToken);
      const value = JSON.parse(waiting.secretsManager.valueOf('opsbot/slack') ?? '{}') as object;
      waiting.secretsManager.put('opsbot/slack', JSON.stringify({ ...value, appToken }));
      await expect.poll(async () => (await readyz(waiting)).status, POLL).toBe(200);
      expect(waiting.slack.socketConnections).toBe(1);
      expect(await ghHelp(waiting)).toContain('*/gh*');
      expect(waiting.logLines.filter((l) => l.includes(advice))).toHaveLength(1);
      assertNoCanary({ logs: waiting.logLines.join('\n') }, [...waiting.secrets(), appToken]);
    } finally {
      await waiting.stop();
    }
  }, 60_000);
});
