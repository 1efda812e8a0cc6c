import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';

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
    expect(await ready.json()).toEqual({ ready: true, checks: { slack: true, secrets: true, state: true } });
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

  it('reconnects with a rotated app token before the old one is revoked, with no restart', async () => {
    const rotated = bot.rotateSlack();
    await expect
      .poll(() => bot.logLines.filter((l) => l.includes('Socket Mode connected')).length, {
        timeout: 15_000,
        interval: 200,
      })
      .toBe(2);
    for (const token of bot.secrets().filter((s) => s.startsWith('xapp-') && s !== rotated.appToken)) {
      bot.slack.revokeAppToken(token);
    }
    expect(bot.slack.socketConnections).toBe(1);
    const delivery = await bot.slack.sendSlashCommand({
      command: '/gh',
      text: 'help',
      userId: 'U0DEV',
      channelId: 'C0DEV',
    });
    const [reply] = await bot.slack.waitForResponse(delivery.responseUrl);
    expect(reply?.text).toContain('*/gh*');
    assertNoCanary({ logs: bot.logLines.join('\n'), calls: bot.slack.calls }, bot.secrets());
  });
});

describe('Socket Mode without an app token', () => {
  it('stays not ready and says what to add to the secret', async () => {
    const broken = await startSandboxBot({ socketMode: true, pollSeconds: 5, withoutAppToken: true });
    try {
      await expect.poll(() => broken.logLines.some((l) => l.includes('needs an app-level token'))).toBe(true);
      const ready = await fetch(`${broken.base}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ checks: { slack: false } });
    } finally {
      await broken.stop();
    }
  });
});
