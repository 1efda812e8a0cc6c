import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../commands/index.js';
import type { AnySubcommand, CommandModule } from '../../../src/command-kit/command-spec.js';
import { defaultSubcommandOf } from '../../../src/command-kit/default-subcommand.js';
import { routeCommand } from '../../../src/command-kit/route-command.js';

/**
 * The slash-command grammar of the operator interface, which outside tests rely on. The
 * registry must declare every one of these forms: the subcommand, its positional arguments (how
 * many, how many required) and at least these flags (names, choices, booleans). The contract may
 * grow (a new flag or subcommand), so the registry may declare more.
 */
const GRAMMAR: Record<string, string[]> = {
  opsbot: [
    'help',
    'whoami',
    'access',
    'access review [--days N]',
    'audit [--user @u] [--command c] [--since 24h] [--limit N] [--verify]',
    'secrets',
    'rotate <secret> [--emergency]',
  ],
  gh: [
    'pr list <owner/repo> [--author @login|me] [--state open|closed] [--limit N]',
    'pr <owner/repo#N>',
    'issue <owner/repo#N>',
    'issue create [<owner/repo> "title" [body]]',
    'runs <owner/repo> [--branch b]',
  ],
  jira: [
    '<KEY-1>',
    'issue <KEY-1>',
    'create [PROJECT] ["summary" [description]] [--type t] [--priority p]',
    'move <KEY-1> <status>',
    'assign <KEY-1> <@user|me>',
    'comment <KEY-1> <text>',
    'search <text> [--project KEY] [--limit N]',
    'sprint [board-id]',
  ],
  dd: [
    'monitors [--state alert|warn|no data|ok] [--tag t]',
    'monitor <id>',
    'mute <id> [--for 2h]',
    'unmute <id>',
    'alerts [--since 1h]',
  ],
  devenv: [
    'up <template> [--ttl 4h] [--name n]',
    'list [--all]',
    'extend <id|name> [--by 2h]',
    'down <id|name>',
  ],
};

/** Subcommands that only read; everything else has a side effect and is audited before it runs. */
const READ_ONLY: Record<string, string[]> = {
  opsbot: ['help', 'whoami', 'access', 'access review', 'audit', 'secrets', 'approvals'],
  gh: ['pr list', 'pr', 'issue', 'runs'],
  jira: ['issue', 'search', 'sprint'],
  dd: ['monitors', 'monitor', 'alerts'],
  devenv: ['list'],
};

interface Form {
  name: string;
  positional: { required: boolean }[];
  flags: Map<string, string | undefined>;
}

/** Reads one contract form: leading words, then `<required>`, `[optional]` (nested), `[--flag value]`. */
function parseForm(form: string): Form {
  const flags = new Map<string, string | undefined>();
  const rest = form.replace(/\[--([a-z-]+)(?: ([^\]]+))?\]/g, (_m, name: string, value?: string) => {
    flags.set(name, value);
    return '';
  });
  const name = /^([a-z][a-z-]*(?: [a-z][a-z-]*)?)(?= |$)/.exec(rest)?.[1] ?? '';
  const positional: { required: boolean }[] = [];
  let depth = 0;
  const items = rest.slice(name.length).match(/\[|\]|<[^>]+>|"[^"]+"|[^\s[\]<>"]+/g) ?? [];
  for (const item of items) {
    if (item === '[') depth++;
    else if (item === ']') depth--;
    else positional.push({ required: depth === 0 });
  }
  return { name, positional, flags };
}

const moduleOf = (name: string) => COMMANDS.find((m) => m.name === name) as CommandModule;

function subcommandOf(module: CommandModule, form: Form): AnySubcommand | undefined {
  if (form.name === '') return defaultSubcommandOf(module);
  return module.subcommands.find((s) => s.name === form.name);
}

describe('the registry declares the operator grammar', () => {
  for (const [command, forms] of Object.entries(GRAMMAR)) {
    it(`/${command}`, () => {
      const module = moduleOf(command);
      const named = forms.map(parseForm).filter((f) => f.name !== '');
      expect(module.subcommands.map((s) => s.name)).toEqual(expect.arrayContaining(named.map((f) => f.name)));
      for (const text of forms) {
        const form = parseForm(text);
        const sub = subcommandOf(module, form);
        expect(sub, text).toBeDefined();
        if (!sub) continue;
        const args = sub.args ?? [];
        expect(args.length, `${text}: arguments`).toBe(form.positional.length);
        expect(args.filter((a) => !a.optional).length, `${text}: required arguments`).toBe(
          form.positional.filter((p) => p.required).length,
        );
        const flags = sub.flags ?? [];
        expect(
          flags.map((f) => f.name),
          `${text}: flags`,
        ).toEqual(expect.arrayContaining([...form.flags.keys()]));
        for (const flag of flags.filter((f) => form.flags.has(f.name))) {
          const value = form.flags.get(flag.name);
          if (value === undefined) expect(flag.kind, `${text}: --${flag.name}`).toBe('boolean');
          if (flag.choices && value?.includes('|'))
            expect(flag.choices.join('|'), `${text}: --${flag.name}`).toBe(value);
        }
      }
      for (const sub of module.subcommands)
        expect(sub.readOnly === true, `/${command} ${sub.name}: readOnly`).toBe(
          READ_ONLY[command]?.includes(sub.name),
        );
    });
  }
});

describe('the contract forms route and parse', () => {
  const ctx = { userId: 'U0DEV', channelId: 'C0DEV' };
  it.each([
    ['jira', 'OPS-42', 'jira:issue', { args: { key: 'OPS-42' } }],
    ['jira', 'issue OPS-42', 'jira:issue', { args: { key: 'OPS-42' } }],
    ['jira', 'create', 'jira:create', { args: {} }],
    ['jira', 'create "Rotate the cert"', 'jira:create', { args: { summary: 'Rotate the cert' } }],
    [
      'jira',
      'create OPS "Rotate the cert" before Friday --type bug',
      'jira:create',
      {
        args: { project: 'OPS', summary: 'Rotate the cert', description: 'before Friday' },
        flags: { type: 'bug' },
      },
    ],
    ['jira', 'move OPS-42 In Progress', 'jira:move', { args: { key: 'OPS-42', status: 'In Progress' } }],
    ['jira', 'assign OPS-42 me', 'jira:assign', { args: { key: 'OPS-42', assignee: 'U0DEV' } }],
    [
      'jira',
      'comment OPS-42 Done, see the PR',
      'jira:comment',
      { args: { key: 'OPS-42', text: 'Done, see the PR' } },
    ],
    ['jira', 'sprint', 'jira:sprint', { args: {} }],
    ['jira', 'sprint 12', 'jira:sprint', { args: { board: '12' } }],
    ['dd', 'monitors --state "no data"', 'dd:monitors', { flags: { state: 'no data' } }],
    ['dd', 'alerts --since 1h', 'dd:alerts', { flags: { since: 3_600_000 } }],
    [
      'devenv',
      'up small --ttl 4h --name web-1',
      'devenv:up',
      { args: { template: 'small' }, flags: { name: 'web-1' } },
    ],
    ['devenv', 'extend web-1 --by 2h', 'devenv:extend', { args: { env: 'web-1' }, flags: { by: 7_200_000 } }],
    ['devenv', 'down i-0abc12345678', 'devenv:down', { args: { env: 'i-0abc12345678' } }],
  ] as const)('/%s %s', (command, text, action, input) => {
    expect(routeCommand(moduleOf(command), text, ctx)).toMatchObject({
      ok: true,
      kind: 'run',
      action,
      input,
    });
  });
});

describe('text that cannot be read', () => {
  it('still names the subcommand meant, so access is decided on it first', () => {
    const ctx = { userId: 'U0DEV', channelId: 'C0DEV' };
    const jira = routeCommand(moduleOf('jira'), 'OPS-42 "unclosed', ctx);
    expect(jira).toMatchObject({ ok: false, action: 'jira:issue' });
    const gh = routeCommand(moduleOf('gh'), 'pr list "acme/web', ctx);
    expect(gh).toMatchObject({ ok: false, action: 'gh:pr list' });
    if (!gh.ok) expect(gh.message).toContain('Unbalanced quote');
  });
});
