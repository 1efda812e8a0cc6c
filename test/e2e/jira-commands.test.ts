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
/** Every answer the simulated Slack received at a response_url (text and blocks). */
const received: unknown[] = [];
const jira = async (text: string, userId = 'U0DEV') => {
  const delivery = await bot.slack.sendSlashCommand({ command: '/jira', text, userId, channelId: 'C0DEV' });
  expect(delivery.status).toBe(200);
  const [post] = await bot.slack.waitForResponse(delivery.responseUrl);
  received.push(post);
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
    // Keys in any case: `ops-1` is OPS-1, as the short form too.
    for (const typed of ['ops-1', 'issue ops-1', 'Ops-1'])
      expect(await jira(typed), typed).toMatch(/<http:\/\/127\.0\.0\.1:\d+\/browse\/OPS-1\|OPS-1>/);
    const before = calls();
    expect(await jira('issue ops')).toContain('must be an issue key, like `OPS-42`');
    expect(calls()).toBe(before);
  });

  it('moves by status or transition name, and lists the valid ones otherwise without moving', async () => {
    const moved = await jira('move OPS-2 in review');
    expect(moved).toMatch(/moved <.*\|OPS-2> from .* to \*In Review\*/);
    expect(await jira('issue OPS-2')).toContain('*In Review*');
    const refused = await jira('move OPS-2 Shipped');
    expect(refused).toMatch(/OPS-2 cannot move to `Shipped` from `In Review`\. It can move to: .*`Done`/);
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

  it('says how many match when a search shows fewer than match', async () => {
    for (const n of [1, 2, 3]) bot.jira.addIssue({ project: 'OPS', summary: `Quokka sighting number ${n}` });
    expect(await jira('search quokka --limit 1')).toMatch(/^1 of about 3 Jira issues matching “quokka”\n• </);
    expect(await jira('search quokka --limit 3')).toMatch(/^3 Jira issues matching “quokka”/);
    expect(await jira('search quokka')).toMatch(/^3 Jira issues matching/);
    // Without Jira's count it says so honestly, rather than a number it does not know.
    bot.jira.failNext({
      path: '/rest/api/3/search/approximate-count',
      status: 400,
      errorMessages: ['Approximate count is not available.'],
    });
    expect(await jira('search quokka --limit 2')).toMatch(
      /^The first 2 Jira issues \(more match\) matching “quokka”/,
    );
  });

  it('creates from unquoted words: the project, then the summary up to the first flag', async () => {
    const created = await jira('create OPS fix the login page --type bug');
    const key = /\/browse\/(OPS-\d+)\|/.exec(created)?.[1] ?? '';
    expect(bot.jira.issue(key)).toMatchObject({ summary: 'fix the login page', issuetype: 'Bug' });
    expect(created).toContain(': fix the login page');
    const noProject = await jira('create restart the flaky runner');
    const other = /\/browse\/(OPS-\d+)\|/.exec(noProject)?.[1] ?? '';
    expect(bot.jira.issue(other)).toMatchObject({ project: 'OPS', summary: 'restart the flaky runner' });
  });

  it('echoes nothing live: what the user typed, and what Jira names or says, is escaped', async () => {
    const link = '<https://evil.example|click here>';
    const typed = await jira(`move OPS-1 ${link} <@U0ADMIN>`);
    expect(typed).toContain('OPS-1 cannot move to `click here (https://evil.example) @U0ADMIN`');
    // Jira's own status names, and its reasons, as a Jira admin (or a compromised site) may write them.
    const wombat = bot.jira.addIssue({ project: 'OPS', summary: 'Wombat burrow', status: 'In Review' });
    bot.jira.renameStatus('Done', '<!channel> <@U0ADMIN> <https://evil.example|Done>');
    try {
      const listed = await jira(`move ${wombat.key} Shipped`);
      expect(listed).toContain('`&lt;!channel&gt; &lt;@U0ADMIN&gt; &lt;https://evil.example|Done&gt;`');
      const moved = await jira(`move ${wombat.key} done`);
      expect(moved).toMatch(/to \*&lt;!channel&gt; &lt;@U0ADMIN&gt;/);
      expect(await jira(`issue ${wombat.key}`)).toContain('*&lt;!channel&gt; &lt;@U0ADMIN&gt;');
    } finally {
      bot.jira.renameStatus('Done', 'Done');
    }
    bot.jira.failNext({
      path: '/rest/api/3/issue/OPS-1/comment',
      status: 400,
      errorMessages: ['<@U0ADMIN> may not comment <!here>'],
      errors: { comment: '<https://evil.example|fix it here>' },
    });
    const reason = await jira('comment OPS-1 hello');
    expect(reason).toContain(
      'Jira refused that for issue OPS-1: &lt;@U0ADMIN&gt; may not comment &lt;!here&gt;',
    );
    bot.jira.failNext({ path: '/rest/api/3/issue/OPS-2', status: 404, errorMessages: ['<!channel> gone'] });
    const missing = await jira('issue OPS-2');
    expect(missing).toContain('(&lt;!channel&gt; gone)');
    // Even an issue key, as Jira answers it, is Jira's text.
    const key = wombat.key;
    wombat.key = '<!channel>-1';
    try {
      expect(await jira('search wombat')).toContain('&lt;!channel&gt;-1');
    } finally {
      wombat.key = key;
    }
    // What the simulated Slack received: no broadcast, no mention of the admin, no disguised link.
    for (const post of received.map((r) => JSON.stringify(r)))
      expect(post).not.toMatch(/<!(channel|here|everyone)|<@U0ADMIN|<https:\/\/evil/);
  });

  it('carries @channel, mentions and links in free text to Jira as plain text, and pings nobody back', async () => {
    const answer = await jira(
      'comment OPS-3 <!channel> deployed, see <https://runbook.example/r|the runbook> <@U0ADMIN|ada>',
    );
    expect(answer).toContain('Commented on');
    expect(JSON.stringify(bot.jira.issue('OPS-3')?.comments.at(-1)?.body)).toContain(
      '@channel deployed, see the runbook (https://runbook.example/r) @ada',
    );
    const created = await jira('create OPS <!here> checkout is down for <@U0ADMIN|ada>');
    const key = /\/browse\/(OPS-\d+)\|/.exec(created)?.[1] ?? '';
    expect(bot.jira.issue(key)?.summary).toBe('@here checkout is down for @ada');
    expect(created).toContain('@\u200bhere checkout is down for @ada');
    expect(created).not.toMatch(/<!|<@U0ADMIN|@here\b/);
  });

  it('shows the active sprint of the default board: goal, days left, issues by status, flagged', async () => {
    const text = await jira('sprint');
    expect(text).toContain('Sprint: OPS Sprint 14');
    expect(text).toMatch(/\d+ days? left/);
    expect(text).toContain(':triangular_flag_on_post: *Flagged:*');
    assertNoCanary({ logs: bot.logLines.join('\n'), answer: text }, bot.secrets());
  });
});
