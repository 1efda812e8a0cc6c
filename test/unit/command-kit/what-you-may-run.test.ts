import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../commands/index.js';
import { AccessPolicy, type MembershipCheck } from '../../../src/access/policy.js';
import type { CommandContext, CommandModule, CoreServices } from '../../../src/command-kit/command-spec.js';
import { EMPTY_FILE } from '../../../src/features.js';
import type { IntegrationKey } from '../../../src/integrations/integration.js';

type Context = CommandContext<IntegrationKey>;

const opsbot = COMMANDS.find((m) => m.name === 'opsbot') as CommandModule;
const sub = (name: string) => opsbot.subcommands.find((s) => s.name === name);

const access = {
  admins: ['U0ADMIN'],
  rules: [
    { actions: ['gh:pr *', 'gh:runs'], channels: ['C0DEV'] },
    { actions: ['devenv:*'], usergroups: ['S0PLATFORM'] },
  ],
};
const membership: MembershipCheck = async (group, user) => group === 'S0PLATFORM' && user === 'U0DEV';

function contextFor(userId: string, channelId: string): Context {
  const policy = new AccessPolicy(access);
  const services = {
    policy,
    membership,
    commands: COMMANDS,
    file: { ...EMPTY_FILE, access },
  } as unknown as CoreServices;
  return {
    actor: { teamId: 'T0', userId, channelId },
    requestId: 'r1',
    action: 'opsbot:help',
    isAdmin: policy.isAdmin(userId),
    scope: { requestId: 'r1', credentialVersions: new Set() },
    services,
    apis: {} as Context['apis'],
    progress: async () => {},
  };
}

/** The actions `/opsbot help` says you may run: `command:subcommand` for each listed subcommand. */
async function fromHelp(ctx: Context): Promise<string[]> {
  const reply = await sub('help')?.run(ctx, { args: {}, flags: {} });
  const actions: string[] = [];
  for (const [, command, list] of (reply?.text ?? '').matchAll(/\*\/(\w+)\* — .*\n\s+you may run: (.*)/g)) {
    for (const [, name] of (list ?? '').matchAll(/`([^`]+)`/g)) actions.push(`${command}:${name}`);
  }
  return actions.sort();
}

/** The actions `/opsbot whoami` says you may run here. */
async function fromWhoami(ctx: Context): Promise<string[]> {
  const reply = await sub('whoami')?.run(ctx, { args: {}, flags: {} });
  const line = /\*You may run here:\* (.*)/.exec(reply?.text ?? '')?.[1] ?? '';
  return [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string).sort();
}

describe('/opsbot help and /opsbot whoami', () => {
  it.each([
    ['U0GUEST', 'C0RANDOM'],
    ['U0GUEST', 'C0DEV'],
    ['U0DEV', 'C0DEV'],
    ['U0DEV', 'C0OPS'],
    ['U0ADMIN', 'C0OPS'],
  ])('agree on what %s may run in %s', async (user, channel) => {
    const ctx = contextFor(user, channel);
    const help = await fromHelp(ctx);
    expect(help).toEqual(await fromWhoami(ctx));
    expect(help).toContain('opsbot:whoami');
  });

  it('list what the policy allows, and nothing else', async () => {
    expect(await fromHelp(contextFor('U0DEV', 'C0DEV'))).toEqual(
      [
        'devenv:down',
        'devenv:extend',
        'devenv:list',
        'devenv:up',
        'gh:pr list',
        'gh:runs',
        'opsbot:approvals',
        'opsbot:whoami',
      ].sort(),
    );
  });
});
