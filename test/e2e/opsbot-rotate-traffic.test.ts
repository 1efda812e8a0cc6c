import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datadogWebhookBody, type WebhookResult } from '../../src/sandbox/datadog-webhook-sender.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';

let bot: SandboxBot;

beforeAll(async () => {
  bot = await startSandboxBot({ pollSeconds: 60 });
});
afterAll(async () => {
  await bot?.stop();
});

async function command(command: string, text: string): Promise<string> {
  const delivery = await bot.slack.sendSlashCommand({ command, text, userId: 'U0ADMIN', channelId: 'C0OPS' });
  await expect
    .poll(() => bot.slack.responses(delivery.responseUrl).at(-1)?.text ?? '', {
      timeout: 60_000,
      interval: 50,
    })
    .not.toMatch(/^(:hourglass:|$)/);
  return bot.slack.responses(delivery.responseUrl).at(-1)?.text ?? '';
}

/**
 * 20 commands and 20 webhooks a second (a `/dd monitors`, which uses the Datadog keys, and an
 * `/opsbot whoami`, which writes audit records chained with the audit key) while `work` runs, and
 * for 1.5 s at least (the requests before and after the switch both count).
 */
async function withTraffic<T>(
  work: Promise<T>,
): Promise<{ result: T; replies: string[]; webhooks: WebhookResult[] }> {
  let done = false;
  const atLeast = new Promise((r) => setTimeout(r, 1_500));
  const result = work.finally(async () => {
    await atLeast;
    done = true;
  });
  const replies: Promise<string>[] = [];
  const webhooks: Promise<WebhookResult>[] = [];
  let i = 0;
  while (!done) {
    replies.push(i % 2 === 0 ? command('/dd', 'monitors') : command('/opsbot', 'whoami'));
    webhooks.push(bot.webhooks.send(datadogWebhookBody({ monitorId: 1001 + (i % 4), tags: ['env:prod'] })));
    i += 1;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { result: await result, replies: await Promise.all(replies), webhooks: await Promise.all(webhooks) };
}

describe('a rotation during traffic', () => {
  it.each(['audit', 'datadog'])(
    '%s: 0 failed commands, 0 refused webhooks, and the bot serves the new version',
    async (secret) => {
      const before = bot.provider.current(secret).versionId;
      const { result, replies, webhooks } = await withTraffic(command('/opsbot', `rotate ${secret}`));
      expect(result).toMatch(
        /^:white_check_mark: `opsbot\/[a-z]+` is rotated: version `[0-9a-f]{8}` is AWSCURRENT and the bot serves it/,
      );
      const after = bot.provider.current(secret).versionId;
      expect(after).not.toBe(before);
      expect(replies.length).toBeGreaterThan(20);
      const failed = replies.filter((r) => /Sorry|went wrong|could not|rejected/i.test(r));
      expect(failed).toEqual([]);
      expect(
        webhooks.filter((w) => w.status !== 202).map((w) => `${w.status} ${w.body.slice(0, 100)}`),
      ).toEqual([]);
      assertNoCanary({ replies, logs: bot.logLines.join('\n') }, bot.secrets());
    },
  );

  it('Datadog sends the new webhook secret and the old keys are revoked', async () => {
    const value = JSON.parse(bot.secretsManager.valueOf('opsbot/datadog') as string) as Record<
      string,
      string
    >;
    const webhook = bot.datadog.keys.webhooks.get('opsbot');
    expect(JSON.parse(webhook?.custom_headers ?? '{}')).toEqual({
      'X-Opsbot-Webhook-Secret': value.webhookSecret,
    });
    const previous = JSON.parse(
      bot.secretsManager.valueOf('opsbot/datadog', 'AWSPREVIOUS') as string,
    ) as Record<string, string>;
    expect(bot.datadog.keys.apiKey(previous.apiKey as string)).toBeUndefined();
  });
});
