import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';

let bot: SandboxBot;
beforeAll(async () => {
  bot = await startSandboxBot({ pollSeconds: 60 });
});
afterAll(async () => {
  await bot?.stop();
});

const whoamiRecords = async () =>
  (await bot.state.audit.query({ limit: 200 })).filter((r) => r.action === 'opsbot:whoami');

describe('a replayed Slack request', () => {
  it('runs once: the replay is refused with 401 and nothing runs; one process keeps the signature in memory only', async () => {
    const form = new URLSearchParams({
      command: '/opsbot',
      text: 'whoami',
      user_id: 'U0DEV',
      channel_id: 'C0DEV',
      team_id: 'T0SANDBOX',
      response_url: 'http://127.0.0.1:1/replay',
    }).toString();
    const headers = bot.slack.signedHeaders(form);
    const before = (await whoamiRecords()).length;
    expect((await bot.slack.sendRaw({ body: form, headers })).status).toBe(200);
    await expect.poll(async () => (await whoamiRecords()).length, { timeout: 10_000 }).toBe(before + 1);

    const replay = await bot.slack.sendRaw({ body: form, headers });
    expect(replay).toEqual({ status: 401, body: '{"error":"replayed_request"}\n' });
    // Slack's own retry of the same delivery: 200 so it stops retrying, and nothing runs either.
    const retry = await bot.slack.sendRaw({ body: form, headers: { ...headers, 'x-slack-retry-num': '1' } });
    expect(retry.status).toBe(200);

    // A fresh delivery of the same command (a new timestamp, so a new signature) runs as usual; by
    // the time its record is stored, a replay that had run would have stored one too.
    const fresh = await bot.slack.sendSlashCommand({
      command: '/opsbot',
      text: 'whoami',
      userId: 'U0DEV',
      channelId: 'C0DEV',
    });
    expect(fresh.status).toBe(200);
    await bot.slack.waitForResponse(fresh.responseUrl);
    await expect.poll(async () => (await whoamiRecords()).length, { timeout: 10_000 }).toBe(before + 2);

    // SQLite is one process's store: nothing is written per request for this (DynamoDB, which
    // replicas share, gets the signature: test/unit/slack/recent-signatures.test.ts, replayCheck).
    expect(bot.state.shared).toBe(false);
    const signature = headers['x-slack-signature'] as string;
    expect(await bot.state.dedupe.putIfAbsent(`slack-signature:${signature}`, 60_000)).toBe(true);
  });
});
