import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';
import { eventually } from '../helpers/eventually.js';

/**
 * Detections on the production wiring: the sandbox bot with the security feature (the trail read
 * every second), its reporter posting to #security, and the buttons through /opsbot's actions.
 */
let bot: SandboxBot;

beforeAll(async () => {
  bot = await startSandboxBot({ pollSeconds: 60, security: { everyMs: 200 } });
});
afterAll(async () => {
  await bot?.stop();
});

const security = () => bot.slack.messages('C0SECURITY');
const trail = async () => bot.state.audit.readAfter(0, 1_000);

describe('detections on the audit stream', () => {
  it('a burst of denials by one person is posted to #security once, with the evidence and buttons', async () => {
    for (let i = 0; i < 6; i++) {
      const delivery = await bot.slack.sendSlashCommand({
        command: '/devenv',
        text: 'up small',
        userId: 'U0GUEST',
        channelId: 'C0DEV',
      });
      await bot.slack.waitForResponse(delivery.responseUrl);
    }
    // Each denial's record is stored as the reply goes out: wait for the sixth.
    const deniedRecords = async () =>
      (await trail()).filter((r) => r.actor === 'U0GUEST' && r.outcome === 'denied');
    let denied = await deniedRecords();
    const end = Date.now() + 10_000;
    while (denied.length < 6 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      denied = await deniedRecords();
    }
    expect(denied.length).toBeGreaterThanOrEqual(6);
    const message = await eventually(
      () => security().find((m) => /U0GUEST/.test(JSON.stringify(m.blocks ?? m.text))),
      'the denials detection in #security',
      15_000,
    );
    const blocks = JSON.stringify(message.blocks);
    // The first five denials are the evidence; the buttons name the detection and the records.
    for (const record of denied.slice(0, 5)) expect(blocks).toContain(`#${record.seq}`);
    expect(blocks).toContain('"action_id":"opsbot:security-ack"');
    expect(blocks).toContain('"action_id":"opsbot:security-open"');
    await new Promise((r) => setTimeout(r, 600)); // a few more passes of the tail: still one message
    expect(security().filter((m) => /U0GUEST/.test(JSON.stringify(m.blocks ?? m.text)))).toHaveLength(1);
    const detected = (await trail()).filter((r) => r.action === 'security:detected');
    expect(detected.map((r) => r.details.rule)).toContain('denials');
    assertNoCanary({ slack: bot.slack.calls, logs: bot.logLines.join('\n') }, bot.secrets());
  });

  it('Acknowledge is for admins, audited, and shown on the message', async () => {
    const message = security().find((m) => /U0GUEST/.test(JSON.stringify(m.blocks ?? m.text)));
    const key = /"action_id":"opsbot:security-ack","value":"([^"]+)"/.exec(
      JSON.stringify(message?.blocks),
    )?.[1];
    expect(key).toMatch(/^denials:U0GUEST:/);
    const refused = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'C0SECURITY',
      actionId: 'opsbot:security-ack',
      value: key as string,
      ...(message?.ts ? { messageTs: message.ts } : {}),
    });
    await bot.slack.waitForResponse(refused.responseUrl);
    expect(bot.slack.responses(refused.responseUrl).at(-1)?.text).toMatch(/admin/i);
    const pressed = await bot.slack.sendBlockAction({
      userId: 'U0ADMIN',
      channelId: 'C0SECURITY',
      actionId: 'opsbot:security-ack',
      value: key as string,
      ...(message?.ts ? { messageTs: message.ts } : {}),
    });
    await bot.slack.waitForResponse(pressed.responseUrl);
    const acks = (await trail()).filter((r) => r.action === 'security:acknowledged');
    expect(acks.map((r) => [r.actor, r.details.key])).toEqual([['U0ADMIN', key]]);
    await eventually(
      () =>
        JSON.stringify(security().find((m) => m.ts === message?.ts)?.blocks ?? '').includes(
          'Acknowledged by',
        ),
      'the message to say who acknowledged it',
    );
  });

  it('Open in audit lists the evidence records (admins)', async () => {
    const message = security().find((m) => /U0GUEST/.test(JSON.stringify(m.blocks ?? m.text)));
    const seqs = /"action_id":"opsbot:security-open","value":"([^"]+)"/.exec(
      JSON.stringify(message?.blocks),
    )?.[1];
    expect(seqs).toMatch(/^\d+(,\d+)+$/);
    const pressed = await bot.slack.sendBlockAction({
      userId: 'U0ADMIN',
      channelId: 'C0SECURITY',
      actionId: 'opsbot:security-open',
      value: seqs as string,
    });
    const [reply] = await bot.slack.waitForResponse(pressed.responseUrl);
    for (const seq of (seqs as string).split(',')) expect(reply?.text).toContain(`#${seq}`);
    expect(reply?.text).toContain('U0GUEST');
  });
});
