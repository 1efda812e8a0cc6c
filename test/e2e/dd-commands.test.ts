import { client, v2 } from '@datadog/datadog-api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datadog } from '../../src/integrations/datadog.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary, canary } from '../helpers/canary.js';

/** `/dd` over the real datadog-api-client against the simulated Datadog (v1 monitors, v2 downtimes). */
const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["dd:*"]
      channels: [C0DEV, C0PAYMENTS]
alerts:
  defaultChannel: C0DEV
  routes:
    - match: { tags: ["team:payments"] }
      channel: C0PAYMENTS
`;

let bot: SandboxBot;
const dd = async (text: string, as: { userId?: string; channelId?: string } = {}) => {
  const delivery = await bot.slack.sendSlashCommand({
    command: '/dd',
    text,
    userId: as.userId ?? 'U0DEV',
    channelId: as.channelId ?? 'C0DEV',
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
    const old = bot.provider.current(datadog.secret).value.reveal();
    const next = { apiKey: canary('dd'), appKey: canary('dd'), webhookSecret: canary('dd') };
    bot.secretsManager.setRotator('opsbot/datadog', () => JSON.stringify(next));
    bot.datadog.addKeys(next.apiKey, next.appKey);
    bot.secretsManager.rotate('opsbot/datadog');
    bot.datadog.revokeKeys(old.apiKey);
    expect(bot.provider.current(datadog.secret).value.reveal().apiKey).toBe(old.apiKey);
    const answer = await text('monitor 1003');
    expect(answer).toContain('Disk space');
    expect(bot.provider.current(datadog.secret).value.reveal().apiKey).toBe(next.apiKey);
    expect(bot.datadog.calls.some((c) => c.status === 403)).toBe(true);
  });

  // A user allowed dd:* in one channel muted another channel's monitor org-wide.
  it('mutes and unmutes a monitor only from the channel its alerts go to (admins anywhere)', async () => {
    const downtimes = bot.datadog.downtimes.length;
    // 1002 is tagged team:payments: its alerts go to C0PAYMENTS.
    for (const verb of ['mute 1002 --for 7d', 'unmute 1002']) {
      expect(await text(verb)).toBe(
        `The alerts of Datadog monitor 1002 go to <#C0PAYMENTS>: ${verb.split(' ')[0]} it from there (or ask an opsbot admin).`,
      );
    }
    expect(bot.datadog.downtimes).toHaveLength(downtimes);
    const there = await dd('mute 1002 --for 1h', { channelId: 'C0PAYMENTS' });
    expect(there.text).toMatch(/^:mute: <@U0DEV> muted Datadog monitor 1002 until /);
    expect((await dd('unmute 1002', { channelId: 'C0PAYMENTS' })).text).toBe(
      ':loud_sound: <@U0DEV> unmuted Datadog monitor 1002.',
    );
    // An admin may, from anywhere.
    expect((await dd('mute 1004 --for 1h', { userId: 'U0ADMIN' })).text).toMatch(
      /^:mute: <@U0ADMIN> muted Datadog monitor 1004 until /,
    );
    expect((await dd('unmute 1004', { userId: 'U0ADMIN' })).text).toContain('unmuted Datadog monitor 1004');
    expect(bot.datadog.downtimes.filter((d) => d.attributes.status !== 'canceled')).toEqual([]);
  });

  // `unmute` cancelled a maintenance downtime someone created in Datadog.
  it('unmute cancels only the downtimes opsbot created, and says when others remain', async () => {
    const keys = bot.provider.current(datadog.secret).value.reveal();
    const api = new v2.DowntimesApi(
      client.createConfiguration({
        authMethods: { apiKeyAuth: keys.apiKey, appKeyAuth: keys.appKey },
        baseServer: new client.BaseServerConfiguration(bot.datadog.url, {}),
        enableRetry: false,
      }),
    );
    const maintenance = await api.createDowntime({
      body: {
        data: {
          type: 'downtime',
          attributes: {
            scope: 'env:prod',
            monitorIdentifier: { monitorId: 1003 },
            message: 'Maintenance window: storage migration (ops team)',
          },
        },
      },
    });
    const theirs = bot.datadog.downtimes.find((d) => d.id === maintenance.data?.id);
    expect(theirs?.attributes.status).toBe('active');
    expect(await text('monitor 1003')).toContain('muted for `env:prod` until unmuted');

    expect((await dd('mute 1003 --for 2h')).text).toContain('muted Datadog monitor 1003');
    const ours = bot.datadog.downtimes.at(-1);
    expect(ours?.attributes.message).toBe('Muted from Slack by U0DEV through opsbot');
    expect((await dd('unmute 1003')).text).toBe(
      ':loud_sound: <@U0DEV> unmuted Datadog monitor 1003. A downtime created in Datadog (not by opsbot) still mutes it: opsbot leaves that alone; end it in Datadog if it is no longer wanted.',
    );
    expect(ours?.attributes.status).toBe('canceled');
    expect(theirs?.attributes.status).toBe('active');
    expect(await text('unmute 1003')).toBe(
      'opsbot has not muted Datadog monitor 1003. A downtime created in Datadog (not by opsbot) still mutes it: opsbot leaves that alone; end it in Datadog if it is no longer wanted.',
    );
    expect(theirs?.attributes.status).toBe('active');
    await api.cancelDowntime({ downtimeId: theirs?.id ?? '' });
  });

  // With no network to Datadog, every /dd command answered the generic "something went wrong".
  it('says plainly when Datadog cannot be reached', async () => {
    await bot.datadog.unreachable();
    try {
      for (const command of ['monitors', 'monitor 1001', 'mute 1001', 'unmute 1001']) {
        const answer = await text(command);
        expect(answer, command).toMatch(
          /^opsbot could not reach Datadog at 127\.0\.0\.1:\d+ \(connection refused\)\. Try again in a minute; if it keeps failing, check that opsbot can reach 127\.0\.0\.1:\d+ \(egress, DNS, proxy\)/,
        );
      }
    } finally {
      await bot.datadog.reachable();
    }
    expect(await text('monitor 1001')).toContain('High error rate on web');
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
