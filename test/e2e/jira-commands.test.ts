import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';

/** `/jira` over the real jira.js against the simulated Jira Cloud (REST v3, Agile/Software). */
const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["jira:*"]
      channels: [C0DEV]
jira:
  defaultProject: OPS
  defaultBoard: 1
  users: { U0DEV: "5b10a2844c20165700ede21g" }
`;

let bot: SandboxBot;
const jira = async (text: string, userId = 'U0DEV') => {
  const delivery = await bot.slack.sendSlashCommand({ command: '/jira', text, userId, channelId: 'C0DEV' });
  expect(delivery.status).toBe(200);
  const [post] = await bot.slack.waitForResponse(delivery.responseUrl);
  return post?.text ?? '';
};
const calls = () => bot.jira.calls.length;

beforeAll(async () => {
  bot = await startSandboxBot({ configYaml: POLICY, pollSeconds: 600 });
});
afterAll(async () => {
  await bot?.stop();
});

describe('/jira against the simulated Jira', () => {
  it('shows an issue (also as /jira KEY-1), and says plainly when there is none', async () => {
    const text = await jira('OPS-1');
    expect(text).toMatch(/<http:\/\/127\.0\.0\.1:\d+\/browse\/OPS-1\|OPS-1>/);
    expect(text).toContain(bot.jira.issue('OPS-1')?.summary ?? '?');
    expect(await jira('issue OPS-999')).toContain('Jira has no issue OPS-999');
    const before = calls();
    expect(await jira('issue ops-1')).toContain('KEY-1');
    expect(calls()).toBe(before);
  });

  it('moves by status or transition name, and lists the valid ones otherwise without moving', async () => {
    const moved = await jira('move OPS-2 in review');
    expect(moved).toMatch(/moved <.*\|OPS-2> from .* to \*In Review\*/);
    expect(await jira('issue OPS-2')).toContain('*In Review*');
    const refused = await jira('move OPS-2 Shipped');
    expect(refused).toMatch(/OPS-2 cannot move to “Shipped” from In Review\. It can move to: .*`Done`/);
    expect(await jira('issue OPS-2')).toContain('*In Review*');
  });

  it('assigns through jira.users; an unmapped user is refused with how to fix it, and no call', async () => {
    expect(await jira('assign OPS-3 me')).toContain('assigned <');
    expect(bot.jira.issue('OPS-3')?.assignee).toBe('5b10a2844c20165700ede21g');
    const before = calls();
    expect(await jira('assign OPS-3 <@U0GUEST>')).toContain('has no Jira account in opsbot');
    expect(calls()).toBe(before);
  });

  it('comments in Atlassian Document Format, and searches with user text quoted', async () => {
    expect(await jira('comment OPS-1 Deployed to staging, please verify')).toContain('Commented on');
    expect(JSON.stringify(bot.jira.issue('OPS-1'))).toContain('Deployed to staging, please verify');
    const found = await jira(`search ${bot.jira.issue('OPS-1')?.summary.split(' ')[0] ?? 'x'} --project OPS`);
    expect(found).toMatch(/Jira issues? matching/);
    // JQL metacharacters are text, never syntax: no 400 from Jira, no injected clause.
    expect(await jira('search x" OR project = WEB OR text ~ "y')).toMatch(/No Jira issues match|matching/);
    expect(bot.jira.calls.filter((c) => c.status === 400)).toEqual([]);
  });

  it('shows the active sprint of the default board: goal, days left, issues by status, flagged', async () => {
    const text = await jira('sprint');
    expect(text).toContain('Sprint: OPS Sprint 14');
    expect(text).toMatch(/\d+ days? left/);
    expect(text).toContain(':triangular_flag_on_post: *Flagged:*');
    assertNoCanary({ logs: bot.logLines.join('\n'), answer: text }, bot.secrets());
  });
});
