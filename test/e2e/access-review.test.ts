import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { fileSchemaOf } from '../../src/config/file-schema.js';
import { CONFIG_SECTIONS } from '../../src/features.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { reviewDeps } from '../../src/security/access-review/deps.js';
import { accessReview } from '../../src/security/access-review/review.js';
import { ATTEST_ACTION, ScheduledAccessReview } from '../../src/security/access-review/scheduled.js';

/** The sample workspace with grants people use and grants nobody used. */
const POLICY = `# who may run what
access:
  admins: [U0ADMIN]
  rules:
    - actions: ["dd:*", "jira:*"]
      users: [U0DEV, U0GUEST]   # the guest never used it
      channels: [C0DEV]
    - actions: ["devenv:*"]
      usergroups: [S0PLATFORM]
      channels: [C0DEV]
    - actions: ["gh:*"]
      users: [U0GUEST]
security:
  channel: C0SECURITY
`;

let bot: SandboxBot;
beforeAll(async () => {
  bot = await startSandboxBot({ pollSeconds: 60, configYaml: POLICY });
});
afterAll(async () => {
  await bot?.stop();
});

async function run(userId: string, command: string, text: string, channelId = 'C0DEV') {
  const delivery = await bot.slack.sendSlashCommand({ command, text, userId, channelId });
  expect(delivery.status).toBe(200);
  const responses = await bot.slack.waitForResponse(delivery.responseUrl);
  return responses.at(-1);
}

describe('/opsbot access review', () => {
  it('shows who used which grant, the unused ones and a diff that loads', async () => {
    await run('U0DEV', '/dd', 'alerts');
    await run('U0DEV', '/devenv', 'list');
    await run('U0GUEST', '/dd', 'alerts', 'C0RANDOM'); // denied: uses nothing

    const denied = await run('U0DEV', '/opsbot', 'access review --days 30');
    expect(denied?.text).toMatch(/admins/i);

    const reply = await run('U0ADMIN', '/opsbot', 'access review --days 30');
    const text = JSON.stringify(reply?.blocks);
    expect(reply?.text).toMatch(/^Access review: the last 30 days\n/);
    expect(reply?.text).toContain('*2* unused grants proposed for removal');
    expect(text).toContain('`U0DEV`: used `dd:alerts`');
    expect(text).toContain('`U0GUEST`: never used: :scissors: remove');
    expect(text).toContain('group `S0PLATFORM`: used by `U0DEV` (`devenv:list`)');
    expect(text).toContain('*Rule 3* `gh:*` — :scissors: nothing in it was used: remove the rule');
    // The diff, as a code block: the guest out of rule 1, rule 3 gone, the comments kept.
    expect(text).toContain('--- a/opsbot.yaml');
    expect(text).toContain('-      users: [U0DEV, U0GUEST]   # the guest never used it');
    expect(text).toContain('+      users: [U0DEV] # the guest never used it');
    expect(text).toContain('-    - actions: [\\"gh:*\\"]');
    // What the GitHub App may be granted, as GitHub says (GET /app with its JWT): no /gh command
    // ran in the window, so every permission could be dropped.
    expect(text).toMatch(
      /\*GitHub App\*: has [^\n]*`issues:write`[^\n]*; the window used nothing; could drop [^\n]*`actions:write`/,
    );

    // The review is audited as any command.
    const latest = async () =>
      (await bot.state.audit.query({ actor: 'U0ADMIN', command: 'opsbot', limit: 1 }))[0];
    await expect.poll(latest).toMatchObject({ action: 'opsbot:access review', outcome: 'success' });
    expect((await latest())?.details.args).toContain('days');
  });

  it('`/opsbot access` is unchanged', async () => {
    const policy = await run('U0ADMIN', '/opsbot', 'access');
    expect(policy?.text).toContain('U0GUEST');
    expect(policy?.blocks?.[0]).toMatchObject({ type: 'header', text: { text: 'Access policy' } });
  });

  it('is for admins only, even when a rule grants all of /opsbot', async () => {
    const guest = await startSandboxBot({
      pollSeconds: 60,
      configYaml: POLICY.replace(
        '    - actions: ["gh:*"]',
        '    - actions: ["opsbot:*"]\n      users: [U0DEV]\n    - actions: ["gh:*"]',
      ),
    });
    try {
      const delivery = await guest.slack.sendSlashCommand({
        command: '/opsbot',
        text: 'access review',
        userId: 'U0DEV',
        channelId: 'C0DEV',
      });
      const [reply] = await guest.slack.waitForResponse(delivery.responseUrl);
      expect(reply?.text).toMatch(/admins/i);
      expect(reply?.text).not.toContain('Access review');
    } finally {
      await guest.stop();
    }
  });

  it('the proposed file loads with the real loader and grants what was used', async () => {
    const review = await accessReview(
      reviewDeps({
        audit: bot.state.audit,
        access: (parse(POLICY) as { access: never }).access,
        slack: bot.app.slack,
        clock: bot.clock,
        configPath: join(bot.dir, 'opsbot.yaml'),
        configured: () => true,
      }),
      30,
    );
    expect(review.removalCount).toBe(2);
    const patched = applyDiff(POLICY, review.diff);
    const loaded = fileSchemaOf(CONFIG_SECTIONS).parse(parse(patched) as unknown);
    expect(loaded.access.rules).toEqual([
      { actions: ['dd:*', 'jira:*'], users: ['U0DEV'], channels: ['C0DEV'] },
      { actions: ['devenv:*'], usergroups: ['S0PLATFORM'], channels: ['C0DEV'] },
    ]);
  });
});

describe('the scheduled review', () => {
  it('posts to the security channel; Mark reviewed is an audited attestation by that admin', async () => {
    const scheduled = new ScheduledAccessReview({
      review: (days) =>
        accessReview(
          reviewDeps({
            audit: bot.state.audit,
            access: (parse(POLICY) as { access: never }).access,
            slack: bot.app.slack,
            clock: bot.clock,
            configPath: join(bot.dir, 'opsbot.yaml'),
            configured: () => true,
          }),
          days,
        ),
      leases: bot.state.leases,
      dedupe: bot.state.dedupe,
      messages: bot.state.messages,
      owner: 'replica-a',
      slack: bot.app.slack,
      clock: bot.clock,
      log: bot.log,
      channel: 'C0SECURITY',
      everyMs: 30 * 86_400_000,
      days: 90,
    });
    const id = await scheduled.pass();
    expect(id).toMatch(/^\d+\.\d+$/);
    // Once per period, whichever replica checks.
    expect(await scheduled.pass()).toBeUndefined();
    const posted = bot.slack.messages('C0SECURITY').filter((m) => m.text?.startsWith('Access review'));
    expect(posted).toHaveLength(1);
    const message = posted[0];
    expect(JSON.stringify(message?.blocks)).toContain(`"action_id":"${ATTEST_ACTION}","value":"${id}"`);

    const byDev = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'C0SECURITY',
      actionId: ATTEST_ACTION,
      value: String(id),
      messageTs: message?.ts as string,
    });
    await bot.slack.waitForResponse(byDev.responseUrl);
    expect(bot.slack.responses(byDev.responseUrl)[0]?.text).toMatch(/admins/i);

    const pressed = await bot.slack.sendBlockAction({
      userId: 'U0ADMIN',
      channelId: 'C0SECURITY',
      actionId: ATTEST_ACTION,
      value: String(id),
      messageTs: message?.ts as string,
    });
    await bot.slack.waitForResponse(pressed.responseUrl);
    const answer = bot.slack.responses(pressed.responseUrl).at(-1);
    expect(answer?.replaceOriginal).toBe(true);
    expect(JSON.stringify(answer?.blocks)).toContain('Marked reviewed by <@U0ADMIN>');
    expect(JSON.stringify(answer?.blocks)).not.toContain(ATTEST_ACTION);
    const attestation = async () => (await bot.state.audit.query({ command: 'security', limit: 1 }))[0];
    await expect.poll(attestation).toBeDefined();
    const attested = await attestation();
    expect(attested).toMatchObject({
      action: 'security:review_attested',
      actor: 'U0ADMIN',
      details: { review: id, days: 90, removals: 2 },
    });
    expect(typeof attested?.details.records).toBe('number');
  });
});

/** Applies a unified diff made by unifiedDiff (hunks in order, exact context). */
function applyDiff(text: string, diff: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let at = 0;
  const hunks = diff.split('\n').slice(2);
  for (let i = 0; i < hunks.length; i++) {
    const header = /^@@ -(\d+)(?:,(\d+))? /.exec(hunks[i] as string);
    if (!header) continue;
    const start = Number(header[1]) - (header[2] === '0' ? 0 : 1);
    while (at < start) out.push(lines[at++] as string);
    for (i++; i < hunks.length && !(hunks[i] as string).startsWith('@@'); i++) {
      const line = hunks[i] as string;
      if (line.startsWith(' ')) {
        expect(lines[at]).toBe(line.slice(1));
        out.push(lines[at++] as string);
      } else if (line.startsWith('-')) {
        expect(lines[at]).toBe(line.slice(1));
        at++;
      } else if (line.startsWith('+')) out.push(line.slice(1));
    }
    i--;
  }
  while (at < lines.length) out.push(lines[at++] as string);
  return out.join('\n');
}
