import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AccessConfig, AccessPolicy, explainDenial, matchesAction } from '../../../src/access/policy.js';
import { EMPTY_FILE } from '../../../src/config/file-schema.js';

type Rule = AccessConfig['rules'][number];
const USERS = ['U1', 'U2', 'U3', 'UADMIN'].map((u) => `${u}X`);
const CHANNELS = ['C1X', 'C2X', 'C3X'];
const GROUPS = ['S1X', 'S2X'];
const ACTIONS = [
  'gh:pr list',
  'gh:pr',
  'gh:rerun',
  'jira:create',
  'devenv:up',
  'opsbot:help',
  'opsbot:whoami',
  'opsbot:access',
  'opsbot:audit',
  'gh:help',
];
const PATTERNS = [
  '*',
  'gh',
  'gh:*',
  'gh:pr *',
  'gh:pr list',
  'jira:create',
  'devenv:up',
  'opsbot:*',
  'opsbot:audit',
];

const subset = <T>(values: readonly T[]) => fc.subarray([...values], { minLength: 1 });
const ruleArb: fc.Arbitrary<Rule> = fc.record(
  {
    actions: subset(PATTERNS),
    users: subset(USERS),
    usergroups: subset(GROUPS),
    channels: subset(CHANNELS),
  },
  { requiredKeys: ['actions'] },
);
const configArb = fc.record({
  admins: fc.subarray(USERS, { maxLength: 1 }),
  rules: fc.array(ruleArb, { maxLength: 5 }),
});
const membershipArb = fc.dictionary(fc.constantFrom(...GROUPS), fc.subarray(USERS));
const requestArb = fc.record({
  user: fc.constantFrom(...USERS),
  channel: fc.constantFrom(...CHANNELS),
  action: fc.constantFrom(...ACTIONS),
});

const checkOf = (groups: Record<string, string[]>) => async (group: string, user: string) =>
  (groups[group] ?? []).includes(user);

/** The rules written out the slow, obvious way. */
function reference(
  config: AccessConfig,
  req: { user: string; channel: string; action: string },
  groups: Record<string, string[]>,
): boolean {
  if (config.admins.includes(req.user)) return true;
  if (['opsbot:help', 'opsbot:whoami'].includes(req.action) || req.action.endsWith(':help')) return true;
  if (['opsbot:access', 'opsbot:audit'].includes(req.action)) return false;
  return config.rules.some((rule) => {
    const actionOk = rule.actions.some((p) => {
      if (p === '*') return true;
      const [pc, ps = '*'] = p.split(':') as [string, string?];
      const [ac, as = ''] = req.action.split(':') as [string, string?];
      if (pc !== ac) return false;
      return new RegExp(`^${ps.replace(/[.*+?^${}()|[\]\\]/g, (c) => (c === '*' ? '.*' : `\\${c}`))}$`).test(
        as,
      );
    });
    const channelOk = !rule.channels || rule.channels.includes(req.channel);
    const named = rule.users || rule.usergroups;
    const whoOk =
      !named ||
      (rule.users ?? []).includes(req.user) ||
      (rule.usergroups ?? []).some((g) => (groups[g] ?? []).includes(req.user));
    return actionOk && channelOk && whoOk;
  });
}

describe('AccessPolicy (properties)', () => {
  it('agrees with a reference implementation', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, requestArb, membershipArb, async (config, req, groups) => {
        const decision = await new AccessPolicy(config).evaluate(req, checkOf(groups));
        expect(decision.allowed).toBe(reference(config, req, groups));
      }),
      { numRuns: 1_000 },
    );
  });

  it('adding a rule never removes access', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        ruleArb,
        fc.nat(),
        requestArb,
        membershipArb,
        async (config, extra, at, req, groups) => {
          const before = await new AccessPolicy(config).evaluate(req, checkOf(groups));
          const rules = [...config.rules];
          rules.splice(at % (rules.length + 1), 0, extra);
          const after = await new AccessPolicy({ ...config, rules }).evaluate(req, checkOf(groups));
          if (before.allowed) expect(after.allowed).toBe(true);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('the empty policy allows nothing but help and whoami', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (req) => {
        const decision = await new AccessPolicy(EMPTY_FILE.access).evaluate(req, checkOf({}));
        const expected =
          ['opsbot:help', 'opsbot:whoami'].includes(req.action) || req.action.endsWith(':help');
        expect(decision.allowed).toBe(expected);
      }),
    );
  });

  it('access and audit are allowed exactly to admins, whatever the rules; admins may do everything', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, requestArb, membershipArb, async (config, req, groups) => {
        const decision = await new AccessPolicy(config).evaluate(req, checkOf(groups));
        const admin = config.admins.includes(req.user);
        if (admin) expect(decision.allowed).toBe(true);
        if (req.action === 'opsbot:access' || req.action === 'opsbot:audit')
          expect(decision.allowed).toBe(admin);
      }),
    );
  });

  it("a denial's needs list exactly the rules that allow the action", async () => {
    await fc.assert(
      fc.asyncProperty(configArb, requestArb, membershipArb, async (config, req, groups) => {
        const decision = await new AccessPolicy(config).evaluate(req, checkOf(groups));
        if (decision.allowed || decision.reason === 'admin_only') return;
        const matching = config.rules.filter((r) => r.actions.some((p) => matchesAction(p, req.action)));
        expect(decision.needs.length).toBe(matching.length);
      }),
    );
  });
});

describe('AccessPolicy (examples)', () => {
  const config: AccessConfig = {
    admins: ['UADMIN'],
    rules: [
      { actions: ['devenv:up'], usergroups: ['SPLATFORM'], channels: ['CDEVENVS'] },
      { actions: ['gh:*'], users: ['UDEV'] },
    ],
  };

  it('matches action patterns', () => {
    const table: [string, string, boolean][] = [
      ['*', 'gh:pr list', true],
      ['gh', 'gh:pr list', true],
      ['gh:*', 'gh:pr list', true],
      ['gh:pr *', 'gh:pr list', true],
      ['gh:pr *', 'gh:pr', false],
      ['gh:pr', 'gh:pr list', false],
      ['gh:pr list', 'gh:pr list', true],
      ['jira:*', 'gh:pr', false],
      ['gh:*', 'ghx:pr', false],
    ];
    for (const [pattern, action, expected] of table)
      expect(matchesAction(pattern, action), `${pattern} ${action}`).toBe(expected);
  });

  it('asks Slack about user groups only when a rule could otherwise match', async () => {
    const policy = new AccessPolicy(config);
    const asked: string[] = [];
    const membership = async (group: string, user: string) => {
      asked.push(group);
      return group === 'SPLATFORM' && user === 'UPLAT';
    };
    expect(
      (await policy.evaluate({ user: 'UDEV', channel: 'CDEV', action: 'gh:pr' }, membership)).allowed,
    ).toBe(true);
    expect(
      (await policy.evaluate({ user: 'UPLAT', channel: 'CDEV', action: 'devenv:up' }, membership)).allowed,
    ).toBe(false);
    expect(asked).toEqual([]); // wrong channel: no need to ask
    expect(
      (await policy.evaluate({ user: 'UPLAT', channel: 'CDEVENVS', action: 'devenv:up' }, membership))
        .allowed,
    ).toBe(true);
    expect(asked).toEqual(['SPLATFORM']);
  });

  it('rethrows a failed membership check only when the answer would otherwise be a denial', async () => {
    const failing = async () => {
      throw new Error('slack down');
    };
    const policy = new AccessPolicy(config);
    await expect(
      policy.evaluate({ user: 'UX', channel: 'CDEVENVS', action: 'devenv:up' }, failing),
    ).rejects.toThrow('slack down');
    expect(
      (await policy.evaluate({ user: 'UDEV', channel: 'CDEVENVS', action: 'gh:pr' }, failing)).allowed,
    ).toBe(true);
  });

  it('explains a denial with what would be needed', async () => {
    const policy = new AccessPolicy(config);
    const none = async () => false;
    const up = await policy.evaluate({ user: 'UX', channel: 'CDEV', action: 'devenv:up' }, none);
    if (up.allowed) throw new Error('expected a denial');
    expect(explainDenial('devenv:up', up, config.admins)).toBe(
      '`devenv:up` is allowed in <#CDEVENVS> for <!subteam^SPLATFORM>.',
    );
    const jira = await policy.evaluate({ user: 'UX', channel: 'CDEV', action: 'jira:create' }, none);
    if (jira.allowed) throw new Error('expected a denial');
    expect(explainDenial('jira:create', jira, config.admins)).toBe(
      'No rule allows `jira:create` yet; ask an opsbot admin (<@UADMIN>) to add one.',
    );
    const audit = await policy.evaluate({ user: 'UDEV', channel: 'CDEV', action: 'opsbot:audit' }, none);
    if (audit.allowed) throw new Error('expected a denial');
    expect(explainDenial('opsbot:audit', audit, config.admins)).toBe(
      '`opsbot:audit` is for opsbot admins only.',
    );
  });

  it('describes the effective policy and lists allowed actions', async () => {
    const policy = new AccessPolicy(config);
    expect(policy.describe()).toEqual([
      '*Admins* (everything, including `opsbot:access` and `opsbot:audit`): <@UADMIN>',
      "*Everyone, everywhere:* `opsbot:help`, `opsbot:whoami` and each command's `help`",
      '1. `devenv:up` → in <#CDEVENVS> for <!subteam^SPLATFORM>',
      '2. `gh:*` → in any channel for <@UDEV>',
    ]);
    expect(policy.usergroups()).toEqual(['SPLATFORM']);
    expect(
      await policy.allowedActions('UDEV', 'CDEV', ['gh:pr', 'devenv:up', 'opsbot:whoami'], async () => false),
    ).toEqual(['gh:pr', 'opsbot:whoami']);
  });
});
