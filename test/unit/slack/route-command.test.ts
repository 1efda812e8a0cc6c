import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../commands/index.js';
import type { CommandModule } from '../../../src/slack/command-spec.js';
import { looksSecret, routeCommand } from '../../../src/slack/route-command.js';

const ctx = { userId: 'U0DEV', channelId: 'C0DEV' };
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
      ['pr list acme', '<repo> must be like `owner/repo`'],
      ['pr list', 'Missing <owner/repo>'],
      ['pr list acme/web --limit 500', '--limit must be a whole number from 1 to 30'],
      ['pr list acme/web --state merged', '--state must be one of `open`, `closed`'],
      ['pr list acme/web --color red', 'is not an option of `pr list`'],
      ['pr list acme/web --limit', '`--limit` needs a value'],
      ['pr list acme/web extra', "I didn't expect `extra` there"],
      ['pr list acme/web --limit 1 --limit 2', '`--limit` is given twice'],
      ['pr list acme/web <!channel>', '`@channel`, `@here` and `@everyone` cannot be used'],
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
});
