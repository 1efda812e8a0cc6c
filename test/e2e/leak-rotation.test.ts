import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LeakWatch } from '../../src/leak-watch/watch.js';
import { DatadogWebhookSender, datadogWebhookBody } from '../../src/sandbox/datadog-webhook-sender.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';

/**
 * A leaked secret rotated within a minute, on the production wiring: the sandbox bot's leak watch
 * rotates through the same path as `/opsbot rotate --emergency` (RotateSecret → opsbot's rotation
 * function against the simulated vendors), and the leaked webhook secret stops working.
 */
let bot: SandboxBot;
let watch: LeakWatch | undefined;

beforeAll(async () => {
  bot = await startSandboxBot({ pollSeconds: 60, leakWatch: { onBuilt: (built) => (watch = built) } });
});
afterAll(async () => {
  await bot?.stop();
});

function webhookSecret(stage: 'AWSCURRENT' | 'AWSPREVIOUS'): string {
  const value = bot.secretsManager.valueOf('opsbot/datadog', stage);
  return (JSON.parse(value ?? '{}') as { webhookSecret: string }).webhookSecret;
}

describe("one of opsbot's own secrets pasted into a channel", () => {
  it('is rotated at once (emergency), reported in the security channel, and the leaked value is refused', async () => {
    const leaked = webhookSecret('AWSCURRENT');
    const started = performance.now();
    const { delivery } = await bot.slack.sendUserMessage({
      userId: 'U0DEV',
      channelId: 'C0DEV',
      text: `webhook header for staging: ${leaked}`,
    });
    expect(delivery.status).toBe(200);
    // The watcher runs after the event's ack; its follow-up (the rotation's outcome) after the report.
    await vi.waitFor(
      () => expect(bot.slack.messages('C0SECURITY').filter((m) => m.threadTs !== undefined)).not.toEqual([]),
      { timeout: 30_000, interval: 50 },
    );
    await watch?.idle();
    const tookMs = performance.now() - started;
    process.stdout.write(`leaked datadog webhookSecret: rotated and reported in ${tookMs.toFixed(0)} ms\n`);

    // The secret moved on; the leaked value is the previous version, and the bot no longer accepts it.
    expect(webhookSecret('AWSCURRENT')).not.toBe(leaked);
    expect(webhookSecret('AWSPREVIOUS')).toBe(leaked);
    const stale = new DatadogWebhookSender({ url: `${bot.base}/webhooks/datadog`, secret: leaked });
    expect((await stale.send(datadogWebhookBody())).status).toBe(401);
    // Datadog itself was switched to the new secret by the rotation: its alerts still arrive.
    expect((await bot.webhooks.send(datadogWebhookBody())).status).toBe(202);

    const security = bot.slack.messages('C0SECURITY');
    const report = security.find((m) => m.threadTs === undefined && /datadog/.test(m.text ?? ''));
    expect(report?.text).toMatch(/opsbot/);
    const followUp = security.find((m) => m.threadTs === report?.ts && m.ts !== report?.ts);
    expect(followUp?.text).toMatch(
      /stopped working for opsbot, and its Datadog API and application keys were revoked/,
    );

    const audit = await bot.state.audit.query({ limit: 50 });
    const rotate = audit.filter((r) => r.action === 'opsbot:rotate');
    expect(rotate.map((r) => r.outcome).sort()).toEqual(['intent', 'success']);
    expect(rotate[0]?.actor).toBe('opsbot');
    expect(audit.some((r) => r.action === 'leak:detected')).toBe(true);

    // What the bot said and wrote (not the user's own message) never holds a value.
    assertNoCanary({ slack: bot.slack.calls, logs: bot.logLines, audit }, [...bot.secrets(), leaked]);
  });
});

describe('a leaked Slack secret, with Slack token rotation on', () => {
  let tokenBot: SandboxBot;
  let tokenWatch: LeakWatch | undefined;
  beforeAll(async () => {
    tokenBot = await startSandboxBot({
      pollSeconds: 60,
      slackTokenRotation: true,
      leakWatch: { onBuilt: (built) => (tokenWatch = built) },
    });
  });
  afterAll(async () => {
    await tokenBot?.stop();
  });

  const slackSecret = (stage: 'AWSCURRENT' | 'AWSPREVIOUS') =>
    JSON.parse(tokenBot.secretsManager.valueOf('opsbot/slack', stage) ?? '{}') as {
      botToken: string;
      signingSecret: string;
    };

  async function leak(text: string): Promise<string> {
    const before = tokenBot.slack.messages('C0SECURITY').length;
    await tokenBot.slack.sendUserMessage({ userId: 'U0DEV', channelId: 'C0DEV', text });
    await vi.waitFor(
      () =>
        expect(
          tokenBot.slack
            .messages('C0SECURITY')
            .slice(before)
            .filter((m) => m.threadTs !== undefined),
        ).not.toEqual([]),
      { timeout: 30_000, interval: 50 },
    );
    await tokenWatch?.idle();
    const followUp = tokenBot.slack
      .messages('C0SECURITY')
      .slice(before)
      .filter((m) => m.threadTs !== undefined && m.ts !== m.threadTs)
      .at(-1);
    return followUp?.text ?? '';
  }

  it('a leaked bot token is rotated and revoked at Slack: the leaked token stops working everywhere', async () => {
    const leaked = slackSecret('AWSCURRENT').botToken;
    const followUp = await leak(`try this token: ${leaked}`);
    expect(slackSecret('AWSCURRENT').botToken).not.toBe(leaked);
    expect(followUp).toMatch(/revoked at Slack \(auth\.revoke\)/);
    // Slack itself refuses the leaked token now (not only opsbot).
    const answer = await fetch(`${tokenBot.slack.apiUrl}auth.test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${leaked}` },
    }).then((r) => r.json() as Promise<{ ok: boolean; error?: string }>);
    expect(answer).toEqual(expect.objectContaining({ ok: false, error: 'invalid_auth' }));
    // The new token works: the bot still answers.
    expect(tokenBot.slack.calls.filter((c) => c.method === 'auth.revoke')).toHaveLength(1);
    const audit = await tokenBot.state.audit.query({ limit: 50 });
    assertNoCanary({ slack: tokenBot.slack.calls, logs: tokenBot.logLines, audit }, [
      ...tokenBot.secrets(),
      leaked,
    ]);
  });

  it('a leaked signing secret is not changed by the automatic rotation: the report says so and what to do', async () => {
    const leaked = slackSecret('AWSCURRENT').signingSecret;
    const followUp = await leak(`signing secret for the staging app: ${leaked}`);
    // The automatic rotation made a new bot token; the signing secret is a person's to make.
    expect(slackSecret('AWSCURRENT').signingSecret).toBe(leaked);
    expect(followUp).toMatch(/rotated, but the leaked value still works/);
    expect(followUp).toMatch(/leaked signingSecret is the same in the new version/);
    expect(followUp).toMatch(/\/opsbot rotate slack --emergency/);
    const audit = await tokenBot.state.audit.query({ limit: 80 });
    const outcomes = audit.filter((r) => r.action === 'leak:rotation').map((r) => r.details?.status);
    // This leak's outcome, beside the bot token's from the case before.
    expect(outcomes.sort()).toEqual(['rotated', 'unchanged']);
  });
});
