import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatadogSecret } from '../../src/integrations/datadog.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary, canary } from '../helpers/canary.js';

/** `/dd` over the real datadog-api-client against the simulated Datadog (v1 monitors, v2 downtimes). */
const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["dd:*"]
      channels: [C0DEV]
`;

let bot: SandboxBot;
const dd = async (text: string) => {
  const delivery = await bot.slack.sendSlashCommand({
    command: '/dd',
    text,
    userId: 'U0DEV',
    channelId: 'C0DEV',
  });
  expect(delivery.status).toBe(200);
  const [post] = await bot.slack.waitForResponse(delivery.responseUrl);
  expect(post).toBeDefined();
  return post as NonNullable<typeof post>;
};
const text = async (command: string) => (await dd(command)).text ?? '';

beforeAll(async () => {
  bot = await startSandboxBot({ configYaml: POLICY, pollSeconds: 60 });
});
afterAll(async () => {
  await bot?.stop();
});

describe('/dd against the simulated Datadog', () => {
  it('lists monitors in a state, alerting by default, filtered by tag, with links to Datadog', async () => {
    const alerting = await text('monitors');
    expect(alerting).toContain('1 Datadog monitor in state Alert');
    expect(alerting).toContain(
      '<https://app.datadoghq.com/monitors/1001|High error rate on web> (1001) · P1',
    );
    const warn = await text('monitors --state warn --tag team:payments');
    expect(warn).toContain('Checkout latency');
    expect(warn).not.toContain('Queue depth');
    expect(await text('monitors --state ok --tag team:nobody')).toBe(
      'No Datadog monitors in state OK tagged `team:nobody`.',
    );
  });

  it('shows one monitor, and says plainly when it does not exist', async () => {
    const one = await text('monitor 1001');
    expect(one).toContain('<https://app.datadoghq.com/monitors/1001|High error rate on web (1001)>');
    expect(one).toContain('*Alert* · P1 · not muted');
    expect(await text('monitor 999999')).toContain('Datadog has no such monitor');
  });

  it('mutes with a v2 downtime scoped to the monitor, shows it, and unmutes', async () => {
    const muted = await dd('mute 1001 --for 2h');
    expect(muted.responseType).toBe('in_channel');
    expect(muted.text).toMatch(
      /^:mute: <@U0DEV> muted Datadog monitor 1001 until \d{4}-\d\d-\d\d \d\d:\d\d UTC/,
    );
    const downtime = bot.datadog.downtimes.at(-1)?.attributes;
    expect(downtime).toMatchObject({
      monitor_identifier: { monitor_id: 1001 },
      scope: '*',
      status: 'active',
    });
    expect(downtime?.message).toBe('Muted from Slack by U0DEV through opsbot');
    const end = Date.parse(String(downtime?.schedule.end));
    expect(end - Date.now()).toBeGreaterThan(119 * 60_000);
    expect(end - Date.now()).toBeLessThan(121 * 60_000);
    expect(await text('monitor 1001')).toMatch(/muted until \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect((await dd('unmute 1001')).text).toBe(':loud_sound: <@U0DEV> unmuted Datadog monitor 1001.');
    expect(bot.datadog.downtimes.at(-1)?.attributes.status).toBe('canceled');
    expect(await text('unmute 1001')).toBe('Datadog monitor 1001 is not muted.');
    // A mute has a side effect: its intent was audited before it ran, then its outcome.
    const records = await bot.state.audit.query({ command: 'dd:mute', limit: 5 });
    expect(records.map((r) => r.outcome)).toEqual(['success', 'intent']);
  });

  it('survives a key rotation the bot has not polled yet: one refresh, one retry, no failed command', async () => {
    const old = bot.provider.current<DatadogSecret>('datadog').value.reveal();
    const next = { apiKey: canary('dd'), appKey: canary('dd'), webhookSecret: canary('dd') };
    bot.secretsManager.setRotator('opsbot/datadog', () => JSON.stringify(next));
    bot.datadog.addKeys(next.apiKey, next.appKey);
    bot.secretsManager.rotate('opsbot/datadog');
    bot.datadog.revokeKeys(old.apiKey);
    expect(bot.provider.current<DatadogSecret>('datadog').value.reveal().apiKey).toBe(old.apiKey);
    const answer = await text('monitor 1003');
    expect(answer).toContain('Disk space');
    expect(bot.provider.current<DatadogSecret>('datadog').value.reveal().apiKey).toBe(next.apiKey);
    expect(bot.datadog.calls.some((c) => c.status === 403)).toBe(true);
  });

  // Last: the wait is remembered for a minute, and would hold back the tests after it.
  it('tells the user when Datadog asks us to wait', async () => {
    bot.datadog.limitNext(60);
    expect(await text('monitors')).toMatch(
      /^Datadog asks opsbot to wait before calling it again \(rate limit\): try again in 60 s, after \d\d:\d\d UTC\.$/,
    );
  });

  it('leaks no key', async () => {
    assertNoCanary({
      logs: bot.logLines.join('\n'),
      audit: await bot.state.audit.query({ limit: 200 }),
      slack: bot.slack.calls,
    });
  });
});
