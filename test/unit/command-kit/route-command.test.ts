import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../commands/index.js';
import type { CommandModule } from '../../../src/command-kit/command-spec.js';
import { routeCommand } from '../../../src/command-kit/route-command.js';
import { looksSecret } from '../../../src/log/looks-secret.js';

const ACTIONS = COMMANDS.flatMap((m) => m.subcommands.map((s) => `${m.name}:${s.name}`));
const ctx = { userId: 'U0DEV', channelId: 'C0DEV', actions: ACTIONS };
const module = (name: string) => COMMANDS.find((m) => m.name === name) as CommandModule;
const gh = module('gh');
const opsbot = module('opsbot');

describe('routeCommand', () => {
  it('routes the longest matching subcommand and parses its arguments and flags', () => {
    const route = routeCommand(gh, 'pr list acme/web --state closed --limit 5', ctx);
    expect(route).toMatchObject({
      ok: true,
      kind: 'run',
      action: 'gh:pr list',
      input: { args: { repo: 'acme/web' }, flags: { state: 'closed', limit: 5 } },
    });
    expect(routeCommand(gh, 'pr acme/web#42', ctx)).toMatchObject({
      ok: true,
      action: 'gh:pr',
      input: { args: { pr: 'acme/web#42' } },
    });
  });

  it('takes --flag=value, key=value, quoted text, mentions and `me`', () => {
    const route = routeCommand(opsbot, 'audit user=<@U0ALICE|alice> --command="gh:pr list" --since 24h', ctx);
    expect(route).toMatchObject({
      ok: true,
      action: 'opsbot:audit',
      input: { flags: { user: 'U0ALICE', command: 'gh:pr list', since: 86_400_000 } },
    });
    const mine = routeCommand(opsbot, 'audit --user me --verify', ctx);
    expect(mine).toMatchObject({ ok: true, input: { flags: { user: 'U0DEV', verify: true } } });
    const title = routeCommand(gh, 'issue create acme/web "Login fails" on Safari 17', ctx);
    expect(title).toMatchObject({
      ok: true,
      action: 'gh:issue create',
      input: { args: { repo: 'acme/web', title: 'Login fails', body: 'on Safari 17' } },
    });
  });

  it('treats empty text and `help` as the command help', () => {
    expect(routeCommand(gh, '', ctx)).toEqual({ ok: true, kind: 'help', action: 'gh:help' });
    expect(routeCommand(gh, 'help', ctx)).toEqual({ ok: true, kind: 'help', action: 'gh:help' });
    // /opsbot declares its own help (the overview of every command).
    expect(routeCommand(opsbot, '', ctx)).toMatchObject({ ok: true, kind: 'run', action: 'opsbot:help' });
  });

  it('suggests the closest subcommand with its usage', () => {
    const route = routeCommand(gh, 'prs acme/web', ctx);
    expect(route.ok).toBe(false);
    if (route.ok) return;
    expect(route.action).toBe('gh:?');
    expect(route.message).toContain('Did you mean `/gh pr`?');
    expect(route.message).toContain('Usage: `/gh pr <owner/repo#N>`');
    const whoami = routeCommand(opsbot, 'whoamı', ctx);
    expect(!whoami.ok && whoami.message).toContain('Did you mean `/opsbot whoami`?');
    const nothing = routeCommand(gh, 'deploy everything', ctx);
    expect(!nothing.ok && nothing.message).toContain('`/gh` subcommands: `pr list`, `pr`');
  });

  it('says what is wrong with an argument, naming it and what it expects', () => {
    const cases: [string, string][] = [
      ['pr list acme', '<repo> must be a repository, like `acme/web`; got `acme`'],
      ['pr list', 'Missing <owner/repo>'],
      ['pr list acme/web --limit 500', '--limit must be a whole number from 1 to 30'],
      ['pr list acme/web --state merged', '--state must be one of `open`, `closed`'],
      ['pr list acme/web --color red', 'is not an option of `pr list`'],
      ['pr list acme/web --limit', '`--limit` needs a value'],
      ['pr list acme/web extra', "I didn't expect `extra` there"],
      ['pr list acme/web --limit 1 --limit 2', '`--limit` is given twice'],
      ['pr list acme/web <!channel>', "I didn't expect `@\u200bchannel` there"],
    ];
    for (const [text, expected] of cases) {
      const route = routeCommand(gh, text, ctx);
      expect(route.ok, text).toBe(false);
      if (!route.ok) {
        expect(route.message, text).toContain(expected);
        expect(route.message, text).toContain('Usage:');
      }
    }
  });

  it('answers bad text (unbalanced quotes, control characters, 10 KB) with a message, never a crash', () => {
    for (const text of ['pr list "acme/web', 'pr list acme/web\u0007', 'x'.repeat(10_240)]) {
      const route = routeCommand(gh, text, ctx);
      expect(route.ok).toBe(false);
      if (!route.ok) expect(route.message.length).toBeLessThan(1_000);
    }
  });

  it('never throws, and never echoes a broadcast mention or raw angle brackets', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...COMMANDS),
        fc.array(
          fc.oneof(
            fc.string({ maxLength: 12 }),
            fc.constantFrom(
              '<!channel>',
              '<!here>',
              '<@U0X|x>',
              '"',
              '--limit',
              'pr',
              'list',
              'acme/web',
              '&lt;!channel&gt;',
            ),
          ),
          { maxLength: 12 },
        ),
        (mod, parts) => {
          const route = routeCommand(mod, parts.join(' '), ctx);
          if (!route.ok) {
            expect(route.message).not.toMatch(/<!(channel|here|everyone)/);
            expect(route.message).not.toMatch(/<[@#!]/);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps free text out of the audit summary and redacts what looks like a secret', () => {
    const route = routeCommand(gh, 'issue create acme/web "A title with words" and a long body here', ctx);
    expect(route.ok && route.kind === 'run' && route.summary).toBe(
      'repo=acme/web title=[18 chars] body=[20 chars]',
    );
    expect(looksSecret('xoxb-1234-5678-abcdef')).toBe(true);
    expect(looksSecret('ghp_abcdefabcdef')).toBe(true);
    expect(looksSecret('AKIAABCDEFGHIJKLMNOP')).toBe(true);
    expect(looksSecret('acme/web')).toBe(false);
    const pasted = routeCommand(gh, 'issue create acme/web xoxb-123-456-abcdefghijkl', ctx);
    expect(pasted.ok && pasted.kind === 'run' && pasted.summary).toBe('repo=acme/web title=[redacted]');
  });

  it('redacts a token inside a short value, not only a whole-value token (property)', () => {
    const inside = routeCommand(gh, 'issue create acme/web fix:ghp_abcdefabcdef1234', ctx);
    expect(inside.ok && inside.kind === 'run' && inside.summary).toBe('repo=acme/web title=[redacted]');
    const branch = routeCommand(gh, 'runs acme/web --branch feat/xoxb-1234-5678-abcdef', ctx);
    expect(branch.ok && branch.kind === 'run' && branch.summary).toBe('repo=acme/web branch=[redacted]');
    const plain = routeCommand(gh, 'runs acme/web --branch high_priority', ctx);
    expect(plain.ok && plain.kind === 'run' && plain.summary).toBe('repo=acme/web branch=high_priority');
    const token = fc.oneof(
      fc.stringMatching(/^ghp_[A-Za-z0-9]{36}$/),
      fc.stringMatching(/^github_pat_[A-Za-z0-9_]{22}$/),
      fc.stringMatching(/^xox[bp]-\d{6,12}-[A-Za-z0-9]{8,24}$/),
      fc.stringMatching(/^AKIA[A-Z0-9]{16}$/),
    );
    const around = fc.stringMatching(/^([a-z0-9:/._][a-z0-9:/._-]{0,11})?$/); // not `--`: that is a flag
    fc.assert(
      fc.property(around, token, around, (before, secret, after) => {
        const route = routeCommand(gh, `issue create acme/web ${before}${secret}${after}`, ctx);
        expect(route.ok).toBe(true);
        if (route.ok && route.kind === 'run') expect(route.summary).not.toContain(secret.slice(4, 14));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses pull request and issue number 0 in the grammar', () => {
    for (const text of ['pr acme/web#0', 'issue acme/web#00', 'pr acme/web#-1']) {
      const route = routeCommand(gh, text, ctx);
      expect(route.ok, text).toBe(false);
      if (!route.ok)
        expect(route.message, text).toContain('must be a repository and number, like `acme/web#42`');
    }
    expect(routeCommand(gh, 'pr acme/web#10', ctx)).toMatchObject({ ok: true, action: 'gh:pr' });
  });

  it('takes an action with a space after --command without quotes, as the usage line shows it', () => {
    for (const text of ['audit --command gh:pr list', 'audit --command=gh:pr list --limit 3']) {
      const route = routeCommand(opsbot, text, ctx);
      expect(route, text).toMatchObject({ ok: true, input: { flags: { command: 'gh:pr list' } } });
    }
    expect(routeCommand(opsbot, 'audit --command gh:pr', ctx)).toMatchObject({
      ok: true,
      input: { flags: { command: 'gh:pr' } },
    });
    const unknown = routeCommand(opsbot, 'audit --command gh:pr lst', ctx);
    expect(!unknown.ok && unknown.message).toContain("I didn't expect `lst` there");
  });

  it('suggests a two-word subcommand for a typo in its second word', () => {
    const cases: [string, string][] = [
      ['pr lst acme/web', 'Did you mean `/gh pr list`?'],
      ['pr lsit', 'Did you mean `/gh pr list`?'],
      ['issue craete acme/web "Title"', 'Did you mean `/gh issue create`?'],
    ];
    for (const [text, expected] of cases) {
      const route = routeCommand(gh, text, ctx);
      expect(route.ok, text).toBe(false);
      if (!route.ok) {
        expect(route.action, text).toBe('gh:?');
        expect(route.message, text).toContain(expected);
        expect(route.message, text).toContain('Usage: `/gh ');
      }
    }
    // A first argument that fits the one-word subcommand is not a typo.
    expect(routeCommand(gh, 'issue acme/web#7', ctx)).toMatchObject({ ok: true, action: 'gh:issue' });
  });

  it('says what is too long: the command text', () => {
    const route = routeCommand(gh, 'x'.repeat(4_001), ctx);
    expect(!route.ok && route.message).toContain('The command text is too long: at most 4000 characters.');
  });

  it('parses every example of every subcommand', () => {
    for (const mod of COMMANDS) {
      for (const sub of mod.subcommands) {
        for (const example of sub.examples) {
          // Slack delivers `@alice` typed in a command as a mention.
          const route = routeCommand(mod, example.replace(/@(\w+)/g, '<@U0EXAMPLE|$1>'), ctx);
          expect(route.ok ? route.action : route.message, `/${mod.name} ${example}`).toBe(
            `${mod.name}:${sub.name}`,
          );
        }
      }
    }
  });
});
