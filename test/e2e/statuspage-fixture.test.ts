import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineCommand } from '../../src/command-kit/command-spec.js';
import { datadogWebhookBody } from '../../src/sandbox/datadog-webhook-sender.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { SimulatedStatusPage } from '../../src/sandbox/statuspage.js';
import { statusCommand, statusPageIntegration } from '../fixtures/statuspage.js';
import { assertNoCanary, canary } from '../helpers/canary.js';

/**
 * The fourth integration, added through the registry only (test/fixtures/statuspage.ts): its
 * secret is loaded and masked, its client is rebuilt on rotation, its rate limits go through the
 * shared helper, its command gets only its own API, and the audit record names its credential.
 */
const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["status:*", "probe:*"]
      channels: [C0DEV]
      users: [U0DEV]
alerts:
  defaultChannel: C0DEV
`;

/** A command that reports which integration APIs its handler was given. */
const probe = defineCommand({
  name: 'probe',
  description: 'shows the APIs a handler gets',
  needs: ['statuspage'],
  subcommands: (sub) => [
    sub({
      name: 'apis',
      summary: 'lists ctx.apis',
      examples: ['apis'],
      run: async (ctx) => ({ text: Object.keys(ctx.apis).join(',') }),
    }),
  ],
});

const service = new SimulatedStatusPage();
let bot: SandboxBot;
let firstKey = '';

const run = async (command: string, text: string, target = bot) => {
  const delivery = await target.slack.sendSlashCommand({
    command,
    text,
    userId: 'U0DEV',
    channelId: 'C0DEV',
  });
  expect(delivery.status).toBe(200);
  const [reply] = await target.slack.waitForResponse(delivery.responseUrl);
  return reply?.text ?? '';
};

beforeAll(async () => {
  const { url } = await service.start();
  firstKey = canary('sp');
  service.addKey(firstKey);
  bot = await startSandboxBot({
    configYaml: POLICY,
    pollSeconds: 60,
    extraIntegrations: [statusPageIntegration(url)],
    extraCommands: [statusCommand, probe],
    extraSecrets: { statuspage: { apiKey: firstKey } },
  });
});
afterAll(async () => {
  await bot?.stop();
  await service.stop();
});

describe('a fourth integration added through the registry only', () => {
  it('answers its command with its own API, and only that API', async () => {
    expect(await run('/status', 'show')).toBe('api: operational\nweb: degraded');
    expect(await run('/status', 'show web')).toBe('web: degraded');
    expect(await run('/probe', 'apis')).toBe('statuspage');
    const [record] = await bot.state.audit.query({ command: 'status', limit: 1 });
    expect(record).toMatchObject({ action: 'status:show', outcome: 'success', actor: 'U0DEV' });
    expect(String(record?.details.credentials)).toContain('statuspage@');
  });

  it('adds its own App Home section, shown to whoever may run status:show', async () => {
    expect(
      (await bot.slack.sendEvent({ type: 'app_home_opened', user: 'U0DEV', tab: 'home', channel: 'DU0DEV' }))
        .status,
    ).toBe(200);
    await expect
      .poll(() => JSON.stringify(bot.slack.homeOf('U0DEV')?.view ?? ''), { timeout: 5_000 })
      .toContain('Status page');
    const home = JSON.stringify(bot.slack.homeOf('U0DEV')?.view);
    // The same statuses `/status show` answers with, from the same API.
    const [first] = (await run('/status', 'show')).split('\n');
    expect(first).toMatch(/^\w+: \w+/);
    expect(home).toContain(first);
    // Someone the policy gives nothing of /status does not see it.
    await bot.slack.sendEvent({ type: 'app_home_opened', user: 'U0GUEST', tab: 'home', channel: 'DU0GUEST' });
    await expect.poll(() => bot.slack.homeOf('U0GUEST'), { timeout: 5_000 }).toBeDefined();
    expect(JSON.stringify(bot.slack.homeOf('U0GUEST')?.view)).not.toContain('Status page');
  });

  it('offers its own button on every alert root, which acts on that root', async () => {
    const body = datadogWebhookBody({ monitorId: 1001 });
    expect((await bot.webhooks.send(body)).status).toBe(202);
    await expect
      .poll(
        () =>
          bot.slack
            .messages('C0DEV')
            .find((m) => !m.threadTs && JSON.stringify(m.blocks).includes('status:incident')),
        {
          timeout: 10_000,
        },
      )
      .toBeDefined();
    const root = bot.slack
      .messages('C0DEV')
      .find((m) => !m.threadTs && JSON.stringify(m.blocks).includes('status:incident'));
    const button = (root?.blocks ?? [])
      .flatMap((b) => (b as { elements?: Array<{ action_id?: string; value?: string }> }).elements ?? [])
      .find((e) => e.action_id === 'status:incident');
    expect(button?.value).toMatch(/^alert:[0-9a-f]{40}$/);
    const delivery = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'C0DEV',
      messageTs: root?.ts as string,
      message: { text: root?.text ?? '', blocks: root?.blocks ?? [] },
      actionId: 'status:incident',
      value: button?.value as string,
    });
    expect(delivery.status).toBe(200);
    const [answer] = await bot.slack.waitForResponse(delivery.responseUrl, { timeoutMs: 10_000 });
    expect(answer?.text).toBe(`Incident for ${button?.value} on ${root?.ts}`);
  });

  it('survives a key rotation the bot has not polled yet: one refresh, one retry, no failed command', async () => {
    const next = canary('sp');
    bot.secretsManager.setRotator('opsbot/statuspage', () => JSON.stringify({ apiKey: next }));
    const before = bot.provider.current('statuspage').versionId;
    bot.secretsManager.rotate('opsbot/statuspage');
    service.addKey(next);
    service.revokeKey(firstKey);
    expect(await run('/status', 'show api')).toBe('api: operational');
    expect(bot.provider.current('statuspage').versionId).not.toBe(before);
    expect(service.calls.some((c) => c.status === 401)).toBe(true);
  });

  it('goes through the shared rate limits: a short wait is taken, a long one is explained', async () => {
    service.limitNext(1);
    expect(await run('/status', 'show api')).toBe('api: operational');
    service.limitNext(600);
    expect(await run('/status', 'show')).toMatch(
      /^Status page asks opsbot to wait before calling it again \(rate limit\): try again in 10 minutes, after \d\d:\d\d UTC\.$/,
    );
  });

  it('says it is not configured when its secret does not exist', async () => {
    const bare = await startSandboxBot({
      configYaml: POLICY,
      extraIntegrations: [statusPageIntegration('http://127.0.0.1:9')],
      extraCommands: [statusCommand],
    });
    try {
      expect(await run('/status', 'show', bare)).toBe(
        'Status page is not configured: opsbot has no secret `opsbot/statuspage`. Ask an opsbot admin to add it (README.md, "Secret shapes").',
      );
    } finally {
      await bare.stop();
    }
  });

  it('leaks no secret', async () => {
    assertNoCanary({
      logs: bot.logLines.join('\n'),
      audit: await bot.state.audit.query({ limit: 200 }),
      slack: bot.slack.calls,
    });
  });
});
