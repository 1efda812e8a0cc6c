import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/records.js';
import type { LeakRotationOutcome } from '../../src/leak-watch/feature.js';
import { assertNoCanary } from '../helpers/canary.js';
import { eventually } from '../helpers/eventually.js';
import { type LeakBot, startLeakBot } from './leak-watch-rig.js';

/**
 * Issue 23, item 4: opsbot watches the channels it is in for credentials. Real Events API
 * deliveries (signed, over HTTP) from the simulated Slack to the bot wired by `startOpsbot`.
 */
const CONFIG = `access:
  admins: [U0ADMIN]
  rules: []
security:
  channel: C0SEC
`;

const slackToken = () => `xoxb-test-canary-${randomBytes(16).toString('hex')}`;

describe('the leak watch', () => {
  let bot: LeakBot;
  const rotations: Array<{ secretName: string; reason: string }> = [];
  const generated: string[] = [];

  beforeAll(async () => {
    bot = await startLeakBot({
      configYaml: CONFIG,
      rotateLeaked: async (secretName, { reason }): Promise<LeakRotationOutcome> => {
        rotations.push({ secretName, reason });
        return {
          status: 'rotated',
          message: 'version v2 is current; the previous version is no longer accepted.',
        };
      },
    });
  }, 60_000);
  afterAll(async () => {
    await bot?.stop();
  });

  const dms = (user: string) => bot.slack.messages(`D${user}`);
  const reports = () => bot.slack.messages('C0SEC');
  const leakRecords = async (): Promise<AuditRecord[]> =>
    (await bot.app.state.audit.query({ command: 'leak', limit: 200 })).filter(
      (r) => r.action === 'leak:detected',
    );
  /**
   * Posts a leak as a sentinel and waits for its warning, report and audit record: whatever was
   * delivered before it (on the same connection, handled in order of arrival) is done by then.
   */
  const sentinel = async (channelId: string, userId = 'U0ADMIN') => {
    const token = slackToken();
    generated.push(token);
    const before = dms(userId).length;
    const { message } = await bot.slack.sendUserMessage({ userId, channelId, text: `sentinel ${token}` });
    const link = `p${message.ts.replace('.', '')}`;
    await eventually(() => dms(userId).length > before, 'the sentinel warning');
    await eventually(() => reports().some((m) => m.text?.includes(link)), 'the sentinel report');
    await eventually(
      async () => (await leakRecords()).some((r) => r.details.ts === message.ts),
      'the sentinel audit record',
    );
    return message;
  };

  it('warns the author by DM, reports to the security channel and audits, never with the value', async () => {
    const token = slackToken();
    generated.push(token);
    const { message, delivery } = await bot.slack.sendUserMessage({
      userId: 'U0DEV',
      channelId: 'C0DEV',
      text: `deploy is failing, here is the config: SLACK_TOKEN=${token} can someone look?`,
    });
    expect(delivery.status).toBe(200);
    const [warning] = await eventually(() => dms('U0DEV').length > 0 && dms('U0DEV'), 'the author warning');
    expect(warning?.text).toContain('Slack bot token');
    expect(warning?.text).toContain('<#C0DEV>');
    expect(warning?.text).toContain(`p${message.ts.replace('.', '')}`);
    expect(warning?.text).toContain('Delete the message now');
    expect(warning?.text).toContain('rotate the credential');
    const report = await eventually(() => reports().find((m) => m.text?.includes('<@U0DEV>')), 'the report');
    expect(report.text).toContain('Slack bot token');
    expect(report.text).toContain('<#C0DEV>');
    expect(report.text).toContain("Not one of opsbot's own");
    const [record] = await eventually(async () => {
      const found = await leakRecords();
      return (
        found.some((r) => r.details.ts === message.ts) && found.filter((r) => r.details.ts === message.ts)
      );
    }, 'the audit record');
    expect(record?.details).toMatchObject({
      channel: 'C0DEV',
      author: 'U0DEV',
      kinds: 'slack-bot-token',
      notified: true,
      edited: false,
    });
    expect(record?.details.own).toBeUndefined();
    expect(rotations).toEqual([]);
    const metrics = await bot.app.metrics.metrics();
    expect(metrics).toMatch(/opsbot_leaks_detected_total\{kind="slack-bot-token"\} [1-9]/);
    expect(metrics).toMatch(/opsbot_leak_warning_seconds_count [1-9]/);
  });

  it("recognises one of opsbot's own values with no prefix and asks for its emergency rotation", async () => {
    const { message } = await bot.slack.sendUserMessage({
      userId: 'U0DEV',
      channelId: 'G0PRIV',
      text: `the datadog header is ${bot.datadogSecret.webhookSecret} right?`,
    });
    await eventually(() => rotations.length > 0, 'the rotation hook');
    expect(rotations[0]?.secretName).toBe('datadog');
    expect(rotations[0]?.reason).toContain('G0PRIV');
    expect(rotations[0]?.reason).not.toContain(bot.datadogSecret.webhookSecret);
    const report = await eventually(() => reports().find((m) => m.text?.includes('<#G0PRIV>')), 'the report');
    expect(report.text).toContain("One of opsbot's own");
    expect(report.text).toContain('`datadog`');
    // The hook here claims a rotation but changes nothing: the watch checks, finds the leaked value
    // still current, and says so instead of repeating the claim.
    const followUp = await eventually(
      () => reports().find((m) => m.threadTs === report.ts && m.text?.includes('still works')),
      'the follow-up in the report thread',
    );
    expect(followUp.text).toContain('`datadog` was rotated, but the leaked value still works');
    expect(followUp.text).toContain('the leaked webhookSecret is the same in the new version');
    const warning = await eventually(() => dms('U0DEV').find((m) => m.text?.includes('<#G0PRIV>')), 'the DM');
    expect(warning.text).toContain("opsbot's own credentials");
    const records = await leakRecords();
    expect(records.find((r) => r.details.ts === message.ts)?.details).toMatchObject({
      own: 'datadog',
      ownFields: 'datadog.webhookSecret',
      kinds: expect.stringContaining('opsbot-secret'),
    });
    await bot.watch.idle();
    const rotated = (await bot.app.state.audit.query({ command: 'leak', limit: 200 })).find(
      (r) => r.action === 'leak:rotation',
    );
    expect(rotated?.details).toMatchObject({ secret: 'datadog', status: 'unchanged' });
  });

  it('says nothing about ordinary engineering text', async () => {
    const before = {
      dms: dms('U0DEV').length,
      reports: reports().length,
      records: (await leakRecords()).length,
    };
    const texts = [
      'fixed in 3f9a1c2e4b5d6f708192a3b4c5d6e7f8091a2b3c, see PR #412 (refactor: retry with backoff)',
      'request id 7d0c4e6a-2f1b-4c8e-9a3d-5b6f7e8d9c0a failed: TypeError: cannot read properties of undefined\n    at handler (src/app.ts:42:7)',
      'run `kubectl rollout restart deploy/web` then check https://grafana.example.com/d/abc123',
    ];
    for (const text of texts) await bot.slack.sendUserMessage({ userId: 'U0DEV', channelId: 'C0ONE', text });
    await sentinel('C0ONE');
    expect(dms('U0DEV').length).toBe(before.dms);
    expect(reports().length).toBe(before.reports + 1);
    expect((await leakRecords()).length).toBe(before.records + 1);
  });

  it('handles a message delivered twice once', async () => {
    const token = slackToken();
    generated.push(token);
    const before = { dms: dms('U0DEV').length, records: (await leakRecords()).length };
    const { message } = await bot.slack.sendUserMessage({ userId: 'U0DEV', channelId: 'C0TWO', text: token });
    await eventually(() => dms('U0DEV').length > before.dms, 'the first warning');
    expect((await bot.slack.redeliverMessage('C0TWO', message)).status).toBe(200);
    await sentinel('C0TWO');
    expect(dms('U0DEV').length).toBe(before.dms + 1);
    const records = (await leakRecords()).filter((r) => r.details.ts === message.ts);
    expect(records).toHaveLength(1);
  });

  it("ignores bots' messages, opsbot's own included", async () => {
    const before = { reports: reports().length, records: (await leakRecords()).length };
    const token = slackToken();
    generated.push(token);
    await bot.slack.sendBotMessage({ channelId: 'C0THREE', botId: 'B0OTHER', text: `deploy token ${token}` });
    // opsbot's own message (Bolt's ignoreSelf), as Slack delivers it: the bot user, with its bot_id.
    const own = bot.slack.postAsUser({ userId: 'U0OPSBOT', channelId: 'C0THREE', text: `echo ${token}` });
    await bot.slack.redeliverMessage('C0THREE', own);
    await sentinel('C0THREE');
    expect(reports().length).toBe(before.reports + 1);
    expect((await leakRecords()).length).toBe(before.records + 1);
  });

  it('scans an edit that adds a credential, once, and not an edit that keeps one', async () => {
    const { message } = await bot.slack.sendUserMessage({
      userId: 'U0DEV',
      channelId: 'C0FOUR',
      text: 'token below',
    });
    const token = slackToken();
    generated.push(token);
    const before = dms('U0DEV').length;
    await bot.slack.editUserMessage({ channelId: 'C0FOUR', ts: message.ts, text: `token below ${token}` });
    const warning = await eventually(
      () => dms('U0DEV').length > before && dms('U0DEV').at(-1),
      'the warning',
    );
    expect(warning?.text).toContain('edited message');
    await bot.slack.editUserMessage({
      channelId: 'C0FOUR',
      ts: message.ts,
      text: `token below: ${token} (oops)`,
    });
    await sentinel('C0FOUR');
    expect(dms('U0DEV').length).toBe(before + 1);
  });

  it('warns an author a few times a minute in a burst, and audits every one', async () => {
    const before = dms('U0DEV').length;
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      const token = slackToken();
      generated.push(token);
      const { message } = await bot.slack.sendUserMessage({
        userId: 'U0DEV',
        channelId: 'C0FIVE',
        text: token,
      });
      sent.push(message.ts);
      await eventually(
        async () => (await leakRecords()).some((r) => r.details.ts === message.ts),
        'its audit record',
      );
    }
    const records = (await leakRecords()).filter((r) => sent.includes(String(r.details.ts)));
    expect(records.map((r) => r.details.notified).sort()).toEqual([false, false, true, true, true]);
    await sentinel('C0FIVE');
    expect(dms('U0DEV').length).toBe(before + 3);
  });

  it('never puts a secret or a posted credential in a Slack call, a log line or an audit record', async () => {
    const audit = await bot.app.state.audit.query({ limit: 200 });
    assertNoCanary({ slackCalls: bot.slack.calls.map((c) => c.args), logs: bot.logLines, audit }, [
      ...bot.secrets,
      ...generated,
    ]);
  });
});
