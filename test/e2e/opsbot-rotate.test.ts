import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/records.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';

let bot: SandboxBot;
const stored: AuditRecord[] = [];
/** RotateSecret calls the simulated Secrets Manager had received when each intent record was stored. */
const rotateCallsAtIntent: number[] = [];

beforeAll(async () => {
  bot = await startSandboxBot({
    pollSeconds: 60,
    onAuditStored: (r) => {
      stored.push(r);
      if (r.action === 'opsbot:rotate' && r.outcome === 'intent')
        rotateCallsAtIntent.push(bot.secretsManager.calls.RotateSecret ?? 0);
    },
  });
});
afterAll(async () => {
  await bot?.stop();
});

/** Runs `/opsbot <text>`; every message posted to its response_url, the last one being the answer. */
async function opsbot(text: string, userId = 'U0ADMIN') {
  const delivery = await bot.slack.sendSlashCommand({ command: '/opsbot', text, userId, channelId: 'C0OPS' });
  await bot.slack.waitForResponse(delivery.responseUrl);
  // The answer is the message that no longer says it "updates" / is "waiting".
  await expect
    .poll(() => bot.slack.responses(delivery.responseUrl).at(-1)?.text ?? '', {
      timeout: 60_000,
      interval: 100,
    })
    .not.toMatch(/^:hourglass:/);
  const posts = bot.slack.responses(delivery.responseUrl);
  return { posts, text: posts.at(-1)?.text ?? '' };
}

const stagesOf = (name: string) => bot.secretsManager.stagesOf(`opsbot/${name}`);
const versionWith = (name: string, stage: string) =>
  Object.entries(stagesOf(name)).find(([, s]) => s.includes(stage))?.[0];

describe('/opsbot rotate', () => {
  it('is refused to a non-admin, and nothing is rotated', async () => {
    const before = bot.secretsManager.calls.RotateSecret ?? 0;
    const { text } = await opsbot('rotate audit', 'U0DEV');
    expect(text).toContain('only opsbot admins may run it');
    expect(bot.secretsManager.calls.RotateSecret ?? 0).toBe(before);
  });

  it('rotates the audit key: intent first, one message through the states, and the bot serves the new version', async () => {
    const previous = bot.provider.current('audit').versionId;
    const intents = rotateCallsAtIntent.length;
    const { posts, text } = await opsbot('rotate audit');
    const current = versionWith('audit', 'AWSCURRENT') as string;
    expect(current).not.toBe(previous);
    // The intent was stored before RotateSecret was called.
    expect(rotateCallsAtIntent.slice(intents)).toEqual([rotateCallsAtIntent[intents]]);
    expect(rotateCallsAtIntent[intents]).toBe((bot.secretsManager.calls.RotateSecret ?? 0) - 1);
    // One message: progress then the answer, each replacing the one before.
    const texts = posts.map((p) => p.text ?? '');
    expect(texts[0]).toMatch(/^:hourglass: Rotating `opsbot\/audit`: version `[0-9a-f]{8}` is AWSPENDING/);
    expect(texts.some((t) => t.includes('is tested and AWSCURRENT; waiting for the bot'))).toBe(true);
    expect(posts.slice(1).every((p) => p.replaceOriginal !== false)).toBe(true);
    expect(text).toBe(
      `:white_check_mark: \`opsbot/audit\` is rotated: version \`${current.slice(0, 8)}\` is AWSCURRENT and the bot serves it. The previous version stays accepted for the grace period, then only the new one.`,
    );
    expect(bot.provider.current('audit').versionId).toBe(current);
    expect(stagesOf('audit')[previous]).toEqual(['AWSPREVIOUS']);
    const records = await bot.state.audit.query({ command: 'opsbot:rotate', limit: 10 });
    expect(records.map((r) => r.outcome).slice(0, 2)).toEqual(['success', 'intent']);
    assertNoCanary({ posts, logs: bot.logLines.join('\n'), audit: stored }, bot.secrets());
  });

  it('--emergency: the bot accepts no earlier version once the new one is current', async () => {
    const { text } = await opsbot('rotate audit --emergency');
    const current = versionWith('audit', 'AWSCURRENT') as string;
    expect(stagesOf('audit')[current]).toContain('OPSBOT_EMERGENCY');
    expect(text).toContain('Emergency: the previous version is no longer accepted.');
    expect(bot.provider.inboundCandidates('audit').map((c) => c.versionId)).toEqual([current]);
  });

  it('a person-made secret without a pending value: the instruction, and no RotateSecret', async () => {
    const before = bot.secretsManager.calls.RotateSecret ?? 0;
    const { text } = await opsbot('rotate jira');
    expect(text).toBe(
      'opsbot/jira is rotated by a person: put the new Jira API token (with the account email) as its AWSPENDING version (aws secretsmanager put-secret-value --secret-id opsbot/jira --version-stages AWSPENDING --secret-string file://new.json), then run /opsbot rotate again',
    );
    expect(bot.secretsManager.calls.RotateSecret ?? 0).toBe(before);
  });

  it('a pending Jira token that Jira refuses: AWSCURRENT keeps serving, and the reply says why', async () => {
    const current = versionWith('jira', 'AWSCURRENT') as string;
    const refused = `jira-test-canary-${randomBytes(12).toString('hex')}`;
    const pending = bot.secretsManager.put(
      'opsbot/jira',
      JSON.stringify({ email: 'opsbot@example.com', apiToken: refused }),
      ['AWSPENDING'],
    );
    const { text } = await opsbot('rotate jira');
    expect(text).toMatch(
      /^:x: The rotation of `opsbot\/jira` stopped \(before the new value was promoted\): The rotation function stopped: testSecret: /,
    );
    expect(text).toContain('testSecret: Jira refused the new API token');
    expect(text).toContain(`AWSCURRENT (version \`${current.slice(0, 8)}\`) still serves.`);
    expect(versionWith('jira', 'AWSCURRENT')).toBe(current);
    expect(bot.provider.current('jira').versionId).toBe(current);
    expect(stagesOf('jira')[pending]).toEqual(['AWSPENDING']);
    assertNoCanary({ text, logs: bot.logLines.join('\n'), rotation: bot.rotationLogLines.join('\n') }, [
      refused,
    ]);

    // Once Jira accepts it, the same pending version rotates: the earlier failure is not this one's.
    bot.jira.addToken('opsbot@example.com', refused);
    const again = await opsbot('rotate jira');
    expect(again.text).toContain(`version \`${pending.slice(0, 8)}\` is AWSCURRENT and the bot serves it`);
    expect(bot.provider.current('jira').versionId).toBe(pending);
  });

  it('a pending Jira token that works: promoted, and the bot serves it', async () => {
    const token = `jira-test-canary-${randomBytes(12).toString('hex')}`;
    bot.jira.addToken('opsbot@example.com', token);
    const pending = bot.secretsManager.put(
      'opsbot/jira',
      JSON.stringify({ email: 'opsbot@example.com', apiToken: token }),
      ['AWSPENDING'],
    );
    const { text } = await opsbot('rotate jira');
    expect(text).toContain(`version \`${pending.slice(0, 8)}\` is AWSCURRENT and the bot serves it`);
    expect(bot.provider.current('jira').versionId).toBe(pending);
    assertNoCanary({ text, audit: stored, logs: bot.logLines.join('\n') }, bot.secrets());
  });

  it('names the secrets it rotates when asked for another', async () => {
    const { text } = await opsbot(`rotate datadog-rotation`);
    expect(text).toBe(
      'opsbot does not rotate `datadog-rotation`: it rotates `slack`, `github`, `jira`, `datadog`, `audit`.',
    );
  });
});

describe('startRotation, for the leak watch', () => {
  it('audits its intent as opsbot, then rotates in an emergency and follows it to the end', async () => {
    const before = bot.provider.current('audit').versionId;
    const calls = bot.secretsManager.calls.RotateSecret ?? 0;
    const intents = rotateCallsAtIntent.length;
    const outcome = await bot.app.secretRotation.startRotation('audit', {
      emergency: true,
      actor: 'opsbot',
      reason: 'posted in #dev',
    });
    expect(outcome).toMatchObject({ status: 'current', botServes: true, rotation: { emergency: true } });
    const current = bot.provider.current('audit').versionId;
    expect(current).not.toBe(before);
    expect(outcome.status === 'current' && outcome.accepted).toEqual([current]);
    expect(rotateCallsAtIntent.slice(intents)).toEqual([calls]);
    const [done, intent] = await bot.state.audit.query({ command: 'opsbot:rotate', limit: 2 });
    expect(intent).toMatchObject({
      outcome: 'intent',
      actor: 'opsbot',
      details: { secret: 'audit', emergency: true, reason: 'posted in #dev' },
    });
    expect(done).toMatchObject({ outcome: 'success', actor: 'opsbot', details: { version: current } });
  });

  it('a person-made secret: refused with the instruction, after its intent', async () => {
    const error = await bot.app.secretRotation
      .startRotation('github', { emergency: true, actor: 'opsbot', reason: 'posted in #dev' })
      .catch((e: unknown) => e);
    expect((error as Error).message).toContain('opsbot/github is rotated by a person: put the new');
    const [done] = await bot.state.audit.query({ command: 'opsbot:rotate', limit: 1 });
    expect(done).toMatchObject({ outcome: 'error', actor: 'opsbot' });
  });
});

describe('/opsbot rotate with Slack token rotation on', () => {
  let tokenBot: SandboxBot;
  beforeAll(async () => {
    tokenBot = await startSandboxBot({ pollSeconds: 60, slackTokenRotation: true });
  });
  afterAll(async () => {
    await tokenBot?.stop();
  });

  it('rotates the bot token through oauth.v2.access with no person, every 4 hours', async () => {
    const ask = async (text: string) => {
      const delivery = await tokenBot.slack.sendSlashCommand({
        command: '/opsbot',
        text,
        userId: 'U0ADMIN',
        channelId: 'C0OPS',
      });
      await expect
        .poll(() => tokenBot.slack.responses(delivery.responseUrl).at(-1)?.text ?? '', {
          timeout: 60_000,
          interval: 100,
        })
        .not.toMatch(/^(:hourglass:|$)/);
      return tokenBot.slack.responses(delivery.responseUrl).at(-1)?.text ?? '';
    };
    expect(await ask('secrets')).toMatch(
      /\*slack\* `opsbot\/slack` .*rotation on \(rate\(4 hours\), next \d{4}-\d{2}-\d{2}\)/,
    );
    const before = JSON.parse(tokenBot.secretsManager.valueOf('opsbot/slack') as string) as Record<
      string,
      string
    >;
    const text = await ask('rotate slack');
    expect(text).toMatch(/^:white_check_mark: `opsbot\/slack` is rotated/);
    const after = JSON.parse(tokenBot.secretsManager.valueOf('opsbot/slack') as string) as Record<
      string,
      string
    >;
    expect(after.botToken).toMatch(/^xoxe\.xoxb-/);
    expect(after.botToken).not.toBe(before.botToken);
    expect(after.signingSecret).toBe(before.signingSecret);
    // The bot answers with the new token.
    expect(await ask('whoami')).toContain('(`U0ADMIN`)');
    assertNoCanary({ text, logs: tokenBot.logLines.join('\n') }, tokenBot.secrets());
  });
});
