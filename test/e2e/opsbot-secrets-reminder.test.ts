import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretAdmin } from '../../src/credentials/secret-admin.js';
import { INTEGRATIONS } from '../../src/integrations/index.js';
import { auditRotation } from '../../src/rotation/audit.js';
import { rotationKinds } from '../../src/rotation/registry.js';
import { SAMPLE_POLICY, type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { SecretReminder } from '../../src/secret-rotation/reminder.js';
import { SecretRotation } from '../../src/secret-rotation/service.js';
import { assertNoCanary } from '../helpers/canary.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let bot: SandboxBot;

beforeAll(async () => {
  // The sample policy without its `security:` section: the reminder goes to the admins by DM.
  const withoutSecurityChannel = SAMPLE_POLICY.replace(/^security:\n {2}channel: \w+\n/m, '');
  expect(withoutSecurityChannel).not.toContain('security:');
  bot = await startSandboxBot({ pollSeconds: 60, configYaml: withoutSecurityChannel });
});
afterAll(async () => {
  await bot?.stop();
});

const dms = () =>
  bot.slack.messages('DU0ADMIN').filter((m) => (m.text ?? '').includes("of opsbot's secrets need attention"));

/** A second replica's reminder on the same State, over the same simulated Secrets Manager. */
function replica(
  owner: string,
  over: Partial<ConstructorParameters<typeof SecretReminder>[0]> = {},
): SecretReminder {
  return new SecretReminder({
    rotation: new SecretRotation({
      admin: createSecretAdmin({
        source: 'aws',
        region: 'us-east-1',
        clientConfig: {
          endpoint: bot.secretsManagerUrl,
          credentials: { accessKeyId: 'SANDBOX', secretAccessKey: 'sandbox' },
        },
      }),
      provider: bot.provider,
      kinds: rotationKinds(INTEGRATIONS, [auditRotation]),
      clock: bot.clock,
      log: bot.log,
      audit: {
        write: () => undefined,
        record: async () => {
          throw new Error('unused');
        },
      },
    }),
    leases: bot.state.leases,
    dedupe: bot.state.dedupe,
    owner,
    slack: bot.app.slack,
    clock: bot.clock,
    log: bot.log,
    admins: ['U0ADMIN'],
    ...over,
  });
}

describe('the secrets reminder', () => {
  it('says nothing while nothing is overdue', async () => {
    bot.clock.advance(2 * HOUR);
    await bot.provider.settled();
    expect(dms()).toEqual([]);
  });

  it('once a day, DMs the admins what is overdue, with a Rotate button per rotatable secret', async () => {
    bot.clock.advance(91 * DAY);
    await expect.poll(() => dms().length, { timeout: 10_000 }).toBe(1);
    const [dm] = dms();
    expect(dm?.text).toMatch(/^7 of opsbot's secrets need attention\n/);
    expect(dm?.text).toContain('• *audit* `opsbot/audit`: never rotated in 91 days');
    const buttons = JSON.stringify(dm?.blocks);
    for (const s of ['slack', 'github', 'jira', 'datadog', 'audit'].slice(0, 5))
      expect(buttons).toContain(`"action_id":"opsbot:rotate","value":"${s}"`);
    expect(buttons).not.toContain('"value":"datadog-rotation"');
    // Later checks the same day send nothing more.
    bot.clock.advance(2 * HOUR);
    bot.clock.advance(2 * HOUR);
    await bot.provider.settled();
    expect(dms().length).toBe(1);
    assertNoCanary({ dm, logs: bot.logLines.join('\n') }, bot.secrets());
  });

  it('the Rotate button rotates like /opsbot rotate, checked as opsbot:rotate', async () => {
    const before = bot.provider.current('audit').versionId;
    const refused = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'DU0DEV',
      actionId: 'opsbot:rotate',
      value: 'audit',
    });
    await bot.slack.waitForResponse(refused.responseUrl);
    expect(bot.slack.responses(refused.responseUrl)[0]?.text).toMatch(/admins/);
    const pressed = await bot.slack.sendBlockAction({
      userId: 'U0ADMIN',
      channelId: 'DU0ADMIN',
      actionId: 'opsbot:rotate',
      value: 'audit',
    });
    await expect
      .poll(() => bot.slack.responses(pressed.responseUrl).at(-1)?.text ?? '', {
        timeout: 30_000,
        interval: 100,
      })
      .toMatch(/^:white_check_mark: `opsbot\/audit` is rotated/);
    expect(bot.provider.current('audit').versionId).not.toBe(before);
  });

  it('the next day it reminds again; of three replicas checking at once, one sends it', async () => {
    bot.clock.advance(DAY);
    await expect.poll(() => dms().length, { timeout: 10_000 }).toBe(2);
    // The bot's own reminder fires on this move too: three contenders for the day's reminder.
    bot.clock.advance(DAY);
    const [a, b] = await Promise.all([replica('replica-a').pass(), replica('replica-b').pass()]);
    expect([a, b].filter(Boolean).length).toBeLessThanOrEqual(1);
    // Whoever won sends it; should its check fail under load (it then lets the lease go), the
    // next check of the same day sends it instead.
    for (let check = 0; check < 6 && dms().length < 3; check++) {
      await expect
        .poll(() => dms().length, { timeout: 5_000 })
        .toBe(3)
        .catch(() => undefined);
      if (dms().length < 3) await replica('replica-a').pass();
    }
    expect(dms().length).toBe(3);
    const [c, d] = await Promise.all([replica('replica-a').pass(), replica('replica-b').pass()]);
    expect([c, d]).toEqual([false, false]);
    expect(dms().length).toBe(3);
  });

  it('goes to the security channel instead of DMs when the configuration names one', async () => {
    const inOps = () => bot.slack.messages('C0OPS').filter((m) => (m.text ?? '').includes('need attention'));
    const sent = await replica('replica-c', {
      channel: 'C0OPS',
      // A State of its own: today's reminder is not yet sent there, and its lease is free.
      leases: {
        acquire: async (name, owner, ttlMs) => ({ name, owner, expiresAt: bot.clock.now() + ttlMs }),
        release: async () => true,
      },
      dedupe: { putIfAbsent: async () => true },
    }).pass();
    expect(sent).toBe(true);
    expect(inOps()).toHaveLength(1);
    expect(dms().length).toBe(3);
  });
});
