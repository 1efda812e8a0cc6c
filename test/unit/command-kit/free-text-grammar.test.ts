import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../commands/index.js';
import type { CommandModule } from '../../../src/command-kit/command-spec.js';
import { slackUserIn } from '../../../src/command-kit/parse-input.js';
import { routeCommand } from '../../../src/command-kit/route-command.js';

/**
 * The grammar as a new user types it: `/jira create OPS fix the login page` without quotes,
 * `/jira ops-1` in lower case, `@channel` and links inside free text, `--author @dev` (a Slack user).
 */
const ACTIONS = COMMANDS.flatMap((m) => m.subcommands.map((s) => `${m.name}:${s.name}`));
const ctx = { userId: 'U0DEV', channelId: 'C0DEV', actions: ACTIONS };
const module = (name: string) => COMMANDS.find((m) => m.name === name) as CommandModule;
const jira = module('jira');
const gh = module('gh');

describe('/jira create: project, summary and description', () => {
  it('takes unquoted words after the project (up to the flags) as the summary', () => {
    expect(routeCommand(jira, 'create OPS fix the login page', ctx)).toMatchObject({
      ok: true,
      action: 'jira:create',
      input: { args: { project: 'OPS', summary: 'fix the login page' } },
    });
    const flagged = routeCommand(jira, 'create OPS fix the login page --type bug', ctx);
    expect(flagged).toMatchObject({
      ok: true,
      input: { args: { project: 'OPS', summary: 'fix the login page' }, flags: { type: 'bug' } },
    });
    expect(flagged.ok && flagged.kind === 'run' && flagged.input.args.description).toBeUndefined();
  });

  it('reads a first word that is not a project key (capitals) as the start of the summary', () => {
    for (const [text, summary] of [
      ['create fix the login page', 'fix the login page'],
      ['create ops is down', 'ops is down'],
      ['create Fix it', 'Fix it'],
    ] as const) {
      const route = routeCommand(jira, text, ctx);
      expect(route, text).toMatchObject({ ok: true, input: { args: { summary } } });
      expect(route.ok && route.kind === 'run' && route.input.args.project, text).toBeUndefined();
    }
  });

  it('keeps the documented quoted form: a quoted summary, then the description', () => {
    expect(
      routeCommand(
        jira,
        'create OPS "Rotate the staging certificate" It expires Friday --priority high',
        ctx,
      ),
    ).toMatchObject({
      ok: true,
      input: {
        args: { project: 'OPS', summary: 'Rotate the staging certificate', description: 'It expires Friday' },
        flags: { priority: 'high' },
      },
    });
    expect(routeCommand(jira, 'create "Flaky login test"', ctx)).toMatchObject({
      ok: true,
      input: { args: { summary: 'Flaky login test' } },
    });
    const form = routeCommand(jira, 'create OPS --type story', ctx);
    expect(form).toMatchObject({ ok: true, input: { args: { project: 'OPS' }, flags: { type: 'story' } } });
    expect(form.ok && form.kind === 'run' && form.input.args.summary).toBeUndefined();
  });

  it('any unquoted summary after a project comes back whole (property)', () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9.,]{0,9}$/);
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 12 }), (words) => {
        const route = routeCommand(jira, `create OPS ${words.join(' ')} --type task`, ctx);
        expect(route).toMatchObject({
          ok: true,
          input: { args: { project: 'OPS', summary: words.join(' ') }, flags: { type: 'task' } },
        });
      }),
    );
  });
});

describe('issue keys in any case', () => {
  it('reads `ops-1` as OPS-1, as the short form and in every subcommand that takes a key', () => {
    expect(routeCommand(jira, 'ops-1', ctx)).toMatchObject({
      ok: true,
      action: 'jira:issue',
      input: { args: { key: 'OPS-1' } },
    });
    expect(routeCommand(jira, 'issue ops-1', ctx)).toMatchObject({
      ok: true,
      input: { args: { key: 'OPS-1' } },
    });
    expect(routeCommand(jira, 'move Ops-2 In Review', ctx)).toMatchObject({
      ok: true,
      input: { args: { key: 'OPS-2', status: 'In Review' } },
    });
    expect(routeCommand(jira, 'search login --project ops', ctx)).toMatchObject({
      ok: true,
      input: { flags: { project: 'OPS' } },
    });
    const bad = routeCommand(jira, 'issue ops', ctx);
    expect(!bad.ok && bad.message).toContain('<key> must be an issue key, like `OPS-42`; got `ops`');
  });
});

describe('free text carries mentions, broadcasts and links as plain text', () => {
  it('turns `<!channel>`, `<@U…>` and `<url|label>` into `@channel`, `@name`, `label (url)`', () => {
    expect(
      routeCommand(
        jira,
        'comment OPS-1 <!channel> deployed, ask <@U0ADMIN|ada> or <@U0OPS>: <https://x.io/r|runbook> <!here>',
        ctx,
      ),
    ).toMatchObject({
      ok: true,
      input: { args: { text: '@channel deployed, ask @ada or @U0OPS: runbook (https://x.io/r) @here' } },
    });
    expect(
      routeCommand(
        gh,
        'issue create acme/web "Deploy broke <!channel>" see <https://evil.example|click here>',
        ctx,
      ),
    ).toMatchObject({
      ok: true,
      input: { args: { title: 'Deploy broke @channel', body: 'see click here (https://evil.example)' } },
    });
    expect(routeCommand(jira, 'create OPS <!here> the login page is down', ctx)).toMatchObject({
      ok: true,
      input: { args: { project: 'OPS', summary: '@here the login page is down' } },
    });
  });

  it('still refuses a broadcast where a value (not free text) is expected', () => {
    const route = routeCommand(jira, 'assign OPS-1 <!channel>', ctx);
    expect(route.ok).toBe(false);
    if (!route.ok) {
      expect(route.message).toContain('<assignee> must be a user');
      expect(route.message).not.toMatch(/<!|@channel/);
    }
  });
});

describe('--author: a GitHub login, me, or a Slack user', () => {
  it('passes a Slack user through for the handler to map, and a login as typed', () => {
    for (const text of ['pr list acme/web --author <@U0DEV|dev>', 'pr list acme/web --author=<@U0DEV|dev>']) {
      const route = routeCommand(gh, text, ctx);
      expect(route, text).toMatchObject({ ok: true, input: { flags: { author: '<@U0DEV|dev>' } } });
      if (route.ok && route.kind === 'run')
        expect(slackUserIn(String(route.input.flags.author))).toEqual({ id: 'U0DEV', label: 'dev' });
    }
    const bare = routeCommand(gh, 'pr list acme/web --author <@U0DEV>', ctx);
    expect(bare.ok && bare.kind === 'run' && slackUserIn(String(bare.input.flags.author))).toEqual({
      id: 'U0DEV',
    });
    for (const login of ['octocat', '@octocat', 'me', 'U0DEV'])
      expect(slackUserIn(login), login).toBeUndefined();
  });
});

describe('key=value inside free text', () => {
  it('is text when it names none of the options, and still an option when it does', () => {
    expect(routeCommand(jira, 'comment OPS-1 set x=y and retry', ctx)).toMatchObject({
      ok: true,
      input: { args: { key: 'OPS-1', text: 'set x=y and retry' } },
    });
    expect(routeCommand(jira, 'comment OPS-1 timeout=30s', ctx)).toMatchObject({
      ok: true,
      input: { args: { text: 'timeout=30s' } },
    });
    expect(routeCommand(jira, 'create OPS "Rotate the certificate" priority=high', ctx)).toMatchObject({
      ok: true,
      input: { flags: { priority: 'high' } },
    });
    // Where no free text is taken, an unknown pair is still refused with the options listed.
    const refused = routeCommand(jira, 'issue OPS-1 x=y', ctx);
    expect(refused.ok).toBe(false);
  });
});
