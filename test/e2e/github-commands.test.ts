import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';

const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["gh:pr *", "gh:pr", "gh:issue", "gh:issue create", "gh:runs"]
      channels: [C0DEV]
    - actions: ["gh:rerun"]
      usergroups: [S0PLATFORM]
      channels: [C0DEV]
github:
  users: { U0DEV: octocat }
`;

let bot: SandboxBot;
const gh = async (text: string, userId = 'U0DEV', channelId = 'C0DEV') => {
  const delivery = await bot.slack.sendSlashCommand({ command: '/gh', text, userId, channelId });
  expect(delivery.status).toBe(200);
  const [reply] = await bot.slack.waitForResponse(delivery.responseUrl);
  return { ...(reply as NonNullable<typeof reply>), text: reply?.text ?? '', delivery };
};
const mutations = () =>
  bot.github.calls.filter((c) => c.method === 'POST' && !c.path.startsWith('/app/')).length;

beforeAll(async () => {
  bot = await startSandboxBot({ configYaml: POLICY, pollSeconds: 60 });
});
afterAll(async () => {
  await bot?.stop();
});

describe('/gh over real Octokit against the simulated GitHub', () => {
  it('lists pull requests, filters by author (me → the configured login), and says when there are none', async () => {
    const all = await gh('pr list acme/web');
    expect(all.text).toContain('acme/web: 2 open pull requests');
    expect(all.text).toContain(
      '<https://github.com/acme/web/pull/42|#42 Fix login redirect on Safari> by octocat',
    );
    expect(all.text).toContain('#41 Bump &lt;script&gt; loader &amp; drop IE11> by monalisa · _draft_');
    const mine = await gh('pr list acme/web --author me');
    expect(mine.text).toContain('acme/web: 1 open pull request by octocat');
    expect(mine.text).not.toContain('#41');
    const closed = await gh('pr list acme/web --state closed --limit 1');
    expect(closed.text).toContain('acme/web: 1 closed pull request');
    expect((await gh('pr list acme/api')).text).toBe('No open pull requests in `acme/api`.');
    expect(bot.github.issued.at(-1)).toMatchObject({
      repositories: ['api'],
      permissions: { pull_requests: 'read' },
    });
  });

  it('shows one pull request: state, review decision, checks, mergeable, link', async () => {
    const { text, blocks } = await gh('pr acme/web#42');
    expect(text).toBe(
      '<https://github.com/acme/web/pull/42|#42 Fix login redirect on Safari> by octocat: open; reviews: :white_check_mark: approved by monalisa; checks: :hourglass: 2 passed, 0 failed, 1 pending; mergeable: yes',
    );
    expect(JSON.stringify(blocks)).toContain('"text":"#42 Fix login redirect on Safari"');
    const draft = await gh('pr acme/web#41');
    expect(draft.text).toContain(
      'open (draft); reviews: :x: changes requested; checks: :x: 0 passed, 1 failed, 0 pending (failed: build); mergeable: no (conflicts)',
    );
    expect(bot.github.issued.at(-1)).toMatchObject({
      permissions: { checks: 'read', pull_requests: 'read' },
    });
  });

  it('shows an issue, escaping its title', async () => {
    const { text } = await gh('issue acme/web#7');
    expect(text).toBe(
      '<https://github.com/acme/web/issues/7|#7 Checkout button unresponsive &lt;!channel&gt;> (issue) by hubot: open; labels: `bug` `p2`; assigned to octocat',
    );
    expect((await gh('issue acme/web#42')).text).toContain('(pull request (try `/gh pr`))');
  });

  it('creates an issue from arguments, in the channel, after checking the title before any API call', async () => {
    const before = mutations();
    const long = await gh(`issue create acme/web "${'x'.repeat(300)}"`);
    expect(long.text).toContain('<title> is too long: at most 256 characters.');
    expect(mutations()).toBe(before);
    const { text, responseType } = await gh(
      'issue create acme/web "Login fails on Safari" Steps: open /login',
    );
    expect(responseType).toBe('in_channel');
    expect(text).toMatch(
      /^:memo: <@U0DEV> opened <https:\/\/github.com\/acme\/web\/issues\/(\d+)\|acme\/web#\1>: Login fails on Safari$/,
    );
    const created = bot.github.repo('acme', 'web')?.issues.at(-1);
    expect(created).toMatchObject({ title: 'Login fails on Safari', body: 'Steps: open /login' });
    expect(bot.github.issued.at(-1)).toMatchObject({ permissions: { issues: 'write' } });
  });

  it('opens a form with no arguments, and creates the issue from its submission', async () => {
    const { delivery } = await (async () => {
      const d = await bot.slack.sendSlashCommand({
        command: '/gh',
        text: 'issue create',
        userId: 'U0DEV',
        channelId: 'C0DEV',
      });
      return { delivery: d };
    })();
    expect(delivery.status).toBe(200);
    await expect.poll(() => bot.slack.views().length).toBe(1);
    const view = bot.slack.views()[0]?.view as {
      callback_id: string;
      private_metadata: string;
      blocks: { block_id: string }[];
    };
    expect(view.callback_id).toBe('gh:issue create');
    expect(view.blocks.map((b) => b.block_id)).toEqual(['repo', 'title', 'body', 'labels']);
    // A bad repository and an empty title are refused under their fields; GitHub is not called.
    const callsBefore = bot.github.calls.length;
    const refused = await bot.slack.sendViewSubmission({
      userId: 'U0DEV',
      callbackId: view.callback_id,
      privateMetadata: view.private_metadata,
      values: {
        repo: { value: { type: 'plain_text_input', value: 'not a repo' } },
        title: { value: { type: 'plain_text_input', value: ' ' } },
      },
    });
    expect(JSON.parse(refused.body)).toEqual({
      response_action: 'errors',
      errors: { repo: expect.stringContaining('acme/web'), title: expect.stringContaining('title') },
    });
    expect(bot.github.calls.length).toBe(callsBefore);
    const submit = await bot.slack.sendViewSubmission({
      userId: 'U0DEV',
      callbackId: view.callback_id,
      privateMetadata: view.private_metadata,
      values: {
        repo: { value: { type: 'plain_text_input', value: 'acme/web' } },
        title: { value: { type: 'plain_text_input', value: 'From the form' } },
        body: { value: { type: 'plain_text_input', value: 'Body text' } },
        labels: { value: { type: 'plain_text_input', value: 'bug, p3' } },
      },
    });
    expect(submit.status).toBe(200);
    await expect.poll(() => bot.slack.messages('C0DEV').at(-1)?.text ?? '').toContain('>: From the form');
    expect(bot.github.repo('acme', 'web')?.issues.at(-1)).toMatchObject({
      title: 'From the form',
      labels: ['bug', 'p3'],
    });
  });

  it('lists runs with a re-run button that is its own policy action', async () => {
    const { text, blocks } = await gh('runs acme/web --branch main');
    expect(text).toContain(':x: <https://github.com/acme/web/actions/runs/9001|CI #311> on `main`: failure');
    expect(text).not.toContain('fix/safari-login');
    expect(JSON.stringify(blocks)).toContain('"action_id":"gh:rerun","value":"acme/web:9001"');
    const guest = await bot.slack.sendBlockAction({
      userId: 'U0GUEST',
      channelId: 'C0DEV',
      actionId: 'gh:rerun',
      value: 'acme/web:9001',
    });
    const [denied] = await bot.slack.waitForResponse(guest.responseUrl);
    expect(denied?.text).toBe(':no_entry: `gh:rerun` is allowed in <#C0DEV> for <!subteam^S0PLATFORM>.');
    expect(bot.github.repo('acme', 'web')?.runs[0]?.rerunRequested).toBeUndefined();
    const dev = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'C0DEV',
      actionId: 'gh:rerun',
      value: 'acme/web:9001',
    });
    const [ran] = await bot.slack.waitForResponse(dev.responseUrl);
    expect(ran).toMatchObject({
      responseType: 'in_channel',
      text: ':repeat: <@U0DEV> re-ran the failed jobs of run 9001 in `acme/web`.',
    });
    expect(bot.github.repo('acme', 'web')?.runs[0]?.rerunRequested).toBe(true);
    const again = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'C0DEV',
      actionId: 'gh:rerun',
      value: 'acme/web:9001',
    });
    expect((await bot.slack.waitForResponse(again.responseUrl))[0]?.text).toContain('cannot be re-run');
  });
});

describe('Slack users, broadcasts and links in what is typed', () => {
  it('maps `--author @dev` (a Slack user) through github.users; an unmapped one is told what to do', async () => {
    for (const author of ['<@U0DEV|dev>', '<@U0DEV>']) {
      const mapped = await gh(`pr list acme/web --author ${author}`);
      expect(mapped.text, author).toContain('acme/web: 1 open pull request by octocat');
    }
    expect((await gh('pr list acme/web --author @octocat')).text).toContain('1 open pull request by octocat');
    const calls = bot.github.calls.length;
    const unmapped = await gh('pr list acme/web --author <@U0GUEST|guest>');
    expect(unmapped.text).toBe(
      '@guest has no GitHub login in the configuration (`github.users`); use `--author &lt;login&gt;`, or ask an opsbot admin to add `U0GUEST: &lt;login&gt;` under `github.users`.',
    );
    expect(bot.github.calls.length).toBe(calls);
  });

  it('carries @channel, mentions and links to GitHub as plain text, and pings nobody in Slack', async () => {
    const { text } = await gh(
      'issue create acme/web "Deploy broke <!channel>" see <https://evil.example|click here> <!here> <@U0ADMIN|ada>',
    );
    const created = bot.github.repo('acme', 'web')?.issues.at(-1);
    expect(created).toMatchObject({
      title: 'Deploy broke @channel',
      body: 'see click here (https://evil.example) @here @ada',
    });
    expect(text).toContain(': Deploy broke @\u200bchannel');
    expect(text).not.toMatch(/<!|<@U0ADMIN|@channel\b/);
  });

  it("escapes GitHub's own refusal text", async () => {
    bot.github.failNext({
      kind: 'validation',
      message: '<!channel> title <@U0ADMIN> is <https://evil.example|bad>',
    });
    const { text } = await gh('issue create acme/web "Anything"');
    expect(text).toContain('GitHub rejected that: &lt;!channel&gt; title &lt;@U0ADMIN&gt;');
    expect(text).not.toMatch(/<!|<@U0ADMIN|<https:\/\/evil/);
  });
});

describe('what GitHub sends back is shown safely and whole', () => {
  beforeAll(() => {
    const long = 'A very long pull request title that goes on and on about what it changes '.repeat(2);
    bot.github.repos.push({
      owner: 'acme',
      name: 'odd',
      installed: true,
      pulls: Array.from({ length: 30 }, (_, i) => ({
        number: 100 + i,
        title: `${long} ${i}`,
        author: 'octocat',
        state: 'open' as const,
        headSha: `${String(i).padStart(2, '0')}${'c'.repeat(38)}`,
        headRef: 'main',
        reviews: [],
        checks: [],
      })),
      issues: [
        {
          number: 3,
          title: 'Odd labels',
          author: 'hubot',
          state: 'open',
          labels: ['wont`fix', '<!here>'],
          assignees: [],
        },
      ],
      runs: [
        {
          id: 1,
          name: 'CI',
          branch: 'feat/`rm -rf`',
          status: 'completed',
          conclusion: '<!channel> *x*' as never,
          runNumber: 1,
        },
        {
          id: 2,
          name: 'CI',
          branch: 'main',
          status: '<@U0ADMIN>_queued' as never,
          conclusion: null,
          runNumber: 2,
        },
      ],
    });
  });

  it('escapes run status and conclusion, and keeps branch names and labels inside their code', async () => {
    const { text, blocks } = await gh('runs acme/odd');
    const shown = `${text}\n${JSON.stringify(blocks)}`;
    expect(shown).not.toMatch(/<!channel>|<@U0ADMIN>/);
    expect(text).toContain('on `feat/ˋrm -rfˋ`: &lt;!channel&gt; *x*');
    expect(text).toContain('&lt;@U0ADMIN&gt; queued');
    const issue = await gh('issue acme/odd#3');
    expect(issue.text).toContain('labels: `wontˋfix` `&lt;!here&gt;`');
  });

  it('splits a long list at line boundaries into sections under 3,000 characters', async () => {
    const { text, blocks } = await gh('pr list acme/odd --limit 30');
    expect(text).toContain('acme/odd: 30 open pull requests');
    const all = (blocks ?? []) as { type: string; text?: { text: string } }[];
    const sections = all.filter((b) => b.type === 'section') as { text: { text: string } }[];
    expect(sections.length).toBeGreaterThan(1);
    expect(all.length).toBeLessThanOrEqual(50);
    for (const section of sections) {
      expect(section.text.text.length).toBeLessThanOrEqual(3_000);
      for (const line of section.text.text.split('\n'))
        expect(line).toMatch(/^• <https:[^<>]+\|[^<>]+> by octocat$/);
    }
    const shown = sections.map((s) => s.text.text).join('\n');
    for (let i = 0; i < 30; i++) expect(shown).toContain(`/pull/${100 + i}|`);
  });

  it('refuses number 0 before calling GitHub, and points from a pull request to an issue', async () => {
    const calls = bot.github.calls.length;
    expect((await gh('pr acme/web#0')).text).toContain(
      '<pr> must be a repository and number, like `acme/web#42`',
    );
    expect(bot.github.calls.length).toBe(calls);
    expect((await gh('pr acme/web#7')).text).toBe(
      '`acme/web#7` is an issue, not a pull request: try `/gh issue acme/web#7`.',
    );
    expect((await gh('pr acme/web#999')).text).toContain("I can't find that in `acme/web`");
  });
});

describe('bad input and GitHub refusals', () => {
  it('answers each with a clear message', async () => {
    const repo = '<repo> must be a repository, like `acme/web`';
    expect((await gh('pr list acme')).text).toContain(repo);
    expect((await gh('pr acme/web#x')).text).toContain(
      '<pr> must be a repository and number, like `acme/web#42`',
    );
    expect((await gh('pr list -bad-/web')).text).toContain(repo);
    expect((await gh('issue create acme "Login fails"')).text).toContain(repo);
    expect((await gh('issue create "Login fails"')).text).toBe(
      'Which repository? `/gh issue create owner/repo "Title" [body]`, or `/gh issue create` for a form.',
    );
    expect((await gh('pr acme/web#999')).text).toContain("I can't find that in `acme/web`");
    expect((await gh('pr list acme/vault')).text).toContain('the opsbot GitHub App is not installed on it');
    bot.github.installationPermissions = { pull_requests: 'read', metadata: 'read' };
    bot.github.revokeInstallationTokens(); // so the next call must mint under the narrower installation
    try {
      expect((await gh('runs acme/web')).text).toBe(
        'GitHub refused opsbot access to `acme/web`: the GitHub App needs `actions: read` there. Ask a GitHub admin to grant it.',
      );
    } finally {
      bot.github.installationPermissions = {
        pull_requests: 'read',
        checks: 'read',
        issues: 'write',
        actions: 'write',
        metadata: 'read',
      };
    }
    expect((await gh('pr list acme/web', 'U0DEV', 'C0RANDOM')).text).toContain(
      ':no_entry: `gh:pr list` is allowed in <#C0DEV>',
    );
  });

  it('tells the user when GitHub asks us to wait, and waits out a short limit silently', async () => {
    bot.github.failNext({ kind: 'secondary', retryAfterSeconds: 1, status: 429 });
    expect((await gh('pr list acme/web')).text).toContain('acme/web: 2 open pull requests');
    // A repository of its own, so the 20-minute wait holds nothing else back.
    bot.github.repos.push({
      owner: 'acme',
      name: 'limits',
      installed: true,
      pulls: [],
      issues: [],
      runs: [],
    });
    const calls = bot.github.calls.length;
    bot.github.failNext({ kind: 'primary', resetInSeconds: 1_200 });
    const waitMessage =
      /^GitHub asks opsbot to wait before calling it again \(rate limit\): try again in 20 minutes, after \d\d:\d\d UTC\.$/;
    expect((await gh('runs acme/limits')).text).toMatch(waitMessage);
    // The wait is remembered for that repository: the next command is answered without calling GitHub…
    const afterLimit = bot.github.calls.length;
    expect(afterLimit).toBeGreaterThan(calls);
    expect((await gh('issue acme/limits#1')).text).toMatch(waitMessage);
    expect(bot.github.calls.length).toBe(afterLimit);
    // …while other repositories are not held back.
    expect((await gh('runs acme/api')).text).toContain('No workflow runs in `acme/api`');
  });
});

describe('rotation', () => {
  it('rotates the App private key mid-traffic with no failed command', async () => {
    const before = bot.provider.current('github').versionId;
    const texts: string[] = [];
    for (let round = 0; round < 8; round++) {
      if (round === 3) bot.github.failNext({ kind: 'slow', count: 3, ms: 300 });
      // Three commands at once; in round 3 GitHub holds their calls while the key changes under them.
      const replies = Promise.all(['pr acme/web#42', 'runs acme/api', 'issue acme/web#7'].map((t) => gh(t)));
      if (round === 3) {
        await expect.poll(() => bot.github.held).toBe(3);
        bot.github.revokeInstallationTokens(); // tokens minted with the old key go too
        bot.rotateGitHubKey({ retireOld: true });
      }
      texts.push(...(await replies).map((r) => r.text));
    }
    expect(texts).toHaveLength(24);
    // The three held calls were refused with their revoked tokens, then retried under the new key.
    expect(
      bot.github.calls.filter((c) => c.status === 401 && c.auth !== 'jwt').length,
    ).toBeGreaterThanOrEqual(3);
    for (const text of texts)
      expect(text).toMatch(
        /^(<https:\/\/github.com\/acme\/web\/(pull\/42|issues\/7)|No workflow runs in `acme\/api`)/,
      );
    // The new key was picked up on the 401 (the poll is 60 s away), not by a restart.
    expect(bot.provider.current('github').versionId).not.toBe(before);
    expect(bot.github.calls.some((c) => c.path.startsWith('/app/') && c.status === 401)).toBe(true);
  });

  it('leaks no secret', async () => {
    assertNoCanary(
      {
        logs: bot.logLines.join('\n'),
        audit: await bot.state.audit.query({ limit: 200 }),
        slack: bot.slack.calls,
        messages: bot.slack.messages('C0DEV'),
      },
      bot.secrets(),
    );
  });
});
