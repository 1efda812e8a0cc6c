import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AccessConfig,
  AccessPolicy,
  type AccessRequest,
  type Decision,
  type MembershipCheck,
  matchesAction,
  unmatchedPatterns,
} from '../../../src/access/policy.js';
import { emptyFileOf, fileSchemaOf, isActionPattern } from '../../../src/config/file-schema.js';
import { describePolicy, explainDenial } from '../../../src/slack/policy-text.js';

type Rule = AccessConfig['rules'][number];
type Groups = Record<string, string[]>;

const USERS = ['U0ANA', 'U0BOB', 'U0CAT', 'U0DAN'];
const CHANNELS = ['C0DEV', 'C0OPS', 'C0RANDOM'];
const GROUPS = ['S0PLATFORM', 'S0ONCALL', 'S0SRE'];
const COMMANDS = ['gh', 'jira', 'devenv', 'opsbot', 'dd'];
const WORDS = ['pr', 'list', 'rerun', 'help', 'up', 'create', 'access', 'audit', 'whoami', 'p'];

const commandArb = fc.constantFrom(...COMMANDS);
const subcommandArb = fc
  .array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 3 })
  .map((w) => w.join(' '));
const actionArb = fc.oneof(
  fc.constantFrom('opsbot:help', 'opsbot:whoami', 'opsbot:access', 'opsbot:audit', 'gh:pr list', 'gh:help'),
  fc.tuple(commandArb, subcommandArb).map(([c, s]) => `${c}:${s}`),
);
const globArb = fc
  .array(fc.constantFrom('*', ' ', 'p', 'pr', 'list', 'up', 'help', 'audit', 'access'), {
    minLength: 1,
    maxLength: 4,
  })
  .map((parts) => parts.join(''))
  .filter((s) => /^[a-z0-9*]/.test(s));
const patternArb = fc
  .oneof(
    fc.constant('*'),
    commandArb,
    commandArb.map((c) => `${c}:*`),
    fc.tuple(commandArb, globArb).map(([c, g]) => `${c}:${g}`),
    fc.tuple(fc.constantFrom('*', ...COMMANDS), subcommandArb).map(([c, s]) => `${c}:${s}`),
    globArb.map((g) => `*:${g}`),
  )
  .filter(isActionPattern);

const subsetOf = <T>(values: readonly T[]) => fc.subarray([...values]);
const ruleArb: fc.Arbitrary<Rule> = fc
  .record(
    {
      actions: fc.array(patternArb, { minLength: 1, maxLength: 3 }),
      users: subsetOf(USERS),
      usergroups: subsetOf(GROUPS),
      channels: subsetOf(CHANNELS),
    },
    { requiredKeys: ['actions'] },
  )
  // Exactly what the configuration schema would accept.
  .filter((rule) => fileSchemaOf([]).safeParse({ access: { rules: [rule] } }).success);
const configArb: fc.Arbitrary<AccessConfig> = fc.record({
  admins: subsetOf(USERS).map((a) => a.slice(0, 1)),
  rules: fc.array(ruleArb, { maxLength: 6 }),
});
const groupsArb: fc.Arbitrary<Groups> = fc.record(
  Object.fromEntries(GROUPS.map((g) => [g, subsetOf(USERS)])) as Record<string, fc.Arbitrary<string[]>>,
);
const requestArb: fc.Arbitrary<AccessRequest> = fc.record({
  user: fc.constantFrom(...USERS),
  channel: fc.constantFrom(...CHANNELS),
  action: actionArb,
});

const checkOf =
  (groups: Groups): MembershipCheck =>
  async (group, user) =>
    (groups[group] ?? []).includes(user);

/** Pattern matching the slow, obvious way: a RegExp built from the pattern. */
function referenceMatch(pattern: string, action: string): boolean {
  if (pattern === '*') return true;
  const full = pattern.includes(':') ? pattern : `${pattern}:*`;
  const [pc, ps] = [full.slice(0, full.indexOf(':')), full.slice(full.indexOf(':') + 1)];
  const [ac, as] = [action.slice(0, action.indexOf(':')), action.slice(action.indexOf(':') + 1)];
  const escapeRe = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  const sub = new RegExp(`^${ps.split('*').map(escapeRe).join('.*')}$`);
  return (pc === '*' || pc === ac) && sub.test(as);
}

/** The rules written out the slow, obvious way; `failing` groups count as not matching. */
function reference(config: AccessConfig, req: AccessRequest, groups: Groups, failing: string[] = []) {
  if (config.admins.includes(req.user)) return true;
  if (req.action === 'opsbot:help' || req.action === 'opsbot:whoami' || req.action.endsWith(':help'))
    return true;
  if (req.action === 'opsbot:access' || req.action === 'opsbot:audit') return false;
  return config.rules.some((rule) => {
    const actionOk = rule.actions.some((p) => referenceMatch(p, req.action));
    const channelOk = rule.channels === undefined || rule.channels.includes(req.channel);
    const anyone = rule.users === undefined && rule.usergroups === undefined;
    const inGroup = (g: string) => !failing.includes(g) && (groups[g] ?? []).includes(req.user);
    const whoOk = anyone || (rule.users ?? []).includes(req.user) || (rule.usergroups ?? []).some(inGroup);
    return actionOk && channelOk && whoOk;
  });
}

const allowedOf = async (config: AccessConfig, req: AccessRequest, groups: Groups) =>
  (await new AccessPolicy(config).evaluate(req, checkOf(groups))).allowed;

function denied(decision: Decision): Extract<Decision, { allowed: false }> {
  if (decision.allowed) throw new Error(`expected a denial, got ${JSON.stringify(decision)}`);
  return decision;
}

describe('AccessPolicy (properties)', () => {
  it('agrees with a reference implementation', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, requestArb, groupsArb, async (config, req, groups) => {
        expect(await allowedOf(config, req, groups)).toBe(reference(config, req, groups));
      }),
      { numRuns: 2_000 },
    );
  });

  it('adding a rule anywhere never removes access', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        ruleArb,
        fc.nat(),
        requestArb,
        groupsArb,
        async (config, extra, at, req, groups) => {
          const rules = [...config.rules];
          rules.splice(at % (rules.length + 1), 0, extra);
          if (await allowedOf(config, req, groups)) {
            expect(await allowedOf({ ...config, rules }, req, groups)).toBe(true);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('the empty policy allows exactly opsbot:help, opsbot:whoami and *:help', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (req) => {
        const decision = await new AccessPolicy(emptyFileOf([]).access).evaluate(req, checkOf({}));
        const expected =
          ['opsbot:help', 'opsbot:whoami'].includes(req.action) || req.action.endsWith(':help');
        expect(decision.allowed).toBe(expected);
        if (!decision.allowed) expect(decision.needs).toEqual([]);
      }),
    );
  });

  it('opsbot:access and opsbot:audit are allowed iff admin, whatever the rules', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        requestArb,
        groupsArb,
        fc.constantFrom('opsbot:access', 'opsbot:audit'),
        async (config, req, groups, action) => {
          const withStar: AccessConfig = { ...config, rules: [...config.rules, { actions: ['*'] }] };
          for (const c of [config, withStar]) {
            const decision = await new AccessPolicy(c).evaluate({ ...req, action }, checkOf(groups));
            const admin = c.admins.includes(req.user);
            expect(decision.allowed).toBe(admin);
            if (!admin) expect(decision).toEqual({ allowed: false, reason: 'admin_only', needs: [] });
          }
        },
      ),
    );
  });

  it('admins are allowed everything, without any membership check', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, requestArb, async (config, req) => {
        const policy = new AccessPolicy({ ...config, admins: [...config.admins, req.user] });
        const never: MembershipCheck = async () => {
          throw new Error('must not be asked');
        };
        expect(await policy.evaluate(req, never)).toEqual({ allowed: true, reason: 'admin' });
      }),
    );
  });

  it("a denial's needs are non-empty iff some rule's actions match (one per such rule)", async () => {
    await fc.assert(
      fc.asyncProperty(configArb, requestArb, groupsArb, async (config, req, groups) => {
        const decision = await new AccessPolicy(config).evaluate(req, checkOf(groups));
        if (decision.allowed || decision.reason === 'admin_only') return;
        const matching = config.rules.filter((r) => r.actions.some((p) => referenceMatch(p, req.action)));
        expect(decision.needs.length > 0).toBe(matching.length > 0);
        expect(decision.needs).toHaveLength(matching.length);
      }),
    );
  });

  it('a failing group check is rethrown exactly when the answer would otherwise be a denial', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        requestArb,
        groupsArb,
        subsetOf(GROUPS),
        async (config, req, groups, failing) => {
          const boom = new Error('slack down');
          const check: MembershipCheck = async (group, user) => {
            if (failing.includes(group)) throw boom;
            return (groups[group] ?? []).includes(user);
          };
          const outcome = await new AccessPolicy(config).evaluate(req, check).then(
            (d) => d,
            (e: unknown) => e,
          );
          const allowed = reference(config, req, groups, failing);
          // When denied, every rule that matches action and channel had all its groups asked.
          const consulted = config.rules.some(
            (r) =>
              r.actions.some((p) => referenceMatch(p, req.action)) &&
              (r.channels === undefined || r.channels.includes(req.channel)) &&
              (r.usergroups ?? []).some((g) => failing.includes(g)),
          );
          const decidedBeforeRules =
            config.admins.includes(req.user) ||
            ['opsbot:help', 'opsbot:whoami', 'opsbot:access', 'opsbot:audit'].includes(req.action) ||
            req.action.endsWith(':help');
          if (!allowed && consulted && !decidedBeforeRules) expect(outcome).toBe(boom);
          else expect((outcome as Decision).allowed).toBe(allowed);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('asks about each group at most once, and not at all when a cheap check already allows', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, requestArb, groupsArb, async (config, req, groups) => {
        const asked: string[] = [];
        const check: MembershipCheck = async (group, user) => {
          asked.push(group);
          return (groups[group] ?? []).includes(user);
        };
        await new AccessPolicy(config).evaluate(req, check);
        expect(new Set(asked).size).toBe(asked.length);
        const cheap = reference(config, req, {});
        if (cheap) expect(asked).toEqual([]);
      }),
    );
  });

  it('allowedActions lists exactly the actions evaluate allows', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        requestArb,
        groupsArb,
        fc.array(actionArb, { maxLength: 8 }),
        async (config, req, groups, actions) => {
          const policy = new AccessPolicy(config);
          const expected = actions.filter((action) => reference(config, { ...req, action }, groups));
          expect(await policy.allowedActions(req.user, req.channel, actions, checkOf(groups))).toEqual(
            expected,
          );
        },
      ),
    );
  });
});

describe('matchesAction', () => {
  it.each([
    ['*', 'gh:pr list', true],
    ['*', 'opsbot:audit', true],
    ['gh', 'gh:pr list', true],
    ['gh', 'ghx:pr', false],
    ['gh:*', 'gh:pr list', true],
    ['gh:*', 'ghx:pr', false],
    ['gh:*', 'jira:create', false],
    ['gh:pr *', 'gh:pr list', true],
    ['gh:pr *', 'gh:pr', false],
    ['gh:pr*', 'gh:pr', true],
    ['gh:pr*', 'gh:prune', true],
    ['gh:pr', 'gh:pr list', false],
    ['gh:pr list', 'gh:pr list', true],
    ['gh:pr list', 'gh:pr lis', false],
    ['gh:*list', 'gh:pr list', true],
    ['gh:* list', 'gh:list', false],
    ['gh:p*r*t', 'gh:pr rerun part', true],
    ['gh:run.x', 'gh:runax', false],
    ['*:help', 'jira:help', true],
    ['*:help', 'jira:helper', false],
  ] as const)('%s vs %s → %s', (pattern, action, expected) => {
    expect(matchesAction(pattern, action)).toBe(expected);
  });

  it('agrees with a RegExp-based reference', () => {
    fc.assert(
      fc.property(patternArb, actionArb, (pattern, action) => {
        expect(matchesAction(pattern, action)).toBe(referenceMatch(pattern, action));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('AccessPolicy (examples)', () => {
  const config: AccessConfig = {
    admins: ['U0ADMIN'],
    rules: [
      { actions: ['devenv:up'], usergroups: ['S0PLATFORM'], channels: ['C0DEVENVS'] },
      { actions: ['gh:*'], users: ['U0DEV'] },
      { actions: ['jira:create', 'gh:pr *'], users: ['U0PM'], channels: ['C0DEV', 'C0OPS'] },
    ],
  };
  const policy = new AccessPolicy(config);
  const none: MembershipCheck = async () => false;

  it('a rule with users and channels needs both', async () => {
    const at = (user: string, channel: string) =>
      policy.evaluate({ user, channel, action: 'jira:create' }, none).then((d) => d.allowed);
    expect(await at('U0PM', 'C0DEV')).toBe(true);
    expect(await at('U0PM', 'C0OPS')).toBe(true);
    expect(await at('U0PM', 'C0RANDOM')).toBe(false);
    expect(await at('U0DEV', 'C0DEV')).toBe(false);
    expect(await policy.evaluate({ user: 'U0PM', channel: 'C0DEV', action: 'gh:pr list' }, none)).toEqual({
      allowed: true,
      reason: 'rule',
      ruleIndex: 2,
    });
  });

  it('gives the reason: admin, always, rule, admin_only, no_rule', async () => {
    const reason = (user: string, action: string) =>
      policy.evaluate({ user, channel: 'C0DEV', action }, none).then((d) => d.reason);
    expect(await reason('U0ADMIN', 'opsbot:audit')).toBe('admin');
    expect(await reason('U0NOBODY', 'opsbot:whoami')).toBe('always');
    expect(await reason('U0NOBODY', 'devenv:help')).toBe('always');
    expect(await reason('U0DEV', 'gh:rerun')).toBe('rule');
    expect(await reason('U0DEV', 'opsbot:access')).toBe('admin_only');
    expect(await reason('U0DEV', 'dd:mute')).toBe('no_rule');
  });

  it('asks about user groups only when a rule matches action and channel but not the user', async () => {
    const asked: string[] = [];
    const membership: MembershipCheck = async (group, user) => {
      asked.push(`${group}/${user}`);
      return group === 'S0PLATFORM' && user === 'U0PLAT';
    };
    expect(
      (await policy.evaluate({ user: 'U0DEV', channel: 'C0DEV', action: 'gh:pr' }, membership)).allowed,
    ).toBe(true);
    expect(
      (await policy.evaluate({ user: 'U0PLAT', channel: 'C0DEV', action: 'devenv:up' }, membership)).allowed,
    ).toBe(false);
    expect(asked).toEqual([]); // wrong channel: nothing to ask
    expect(
      (await policy.evaluate({ user: 'U0PLAT', channel: 'C0DEVENVS', action: 'devenv:up' }, membership))
        .allowed,
    ).toBe(true);
    expect(asked).toEqual(['S0PLATFORM/U0PLAT']);
  });

  it('matches by user before asking about any group, even in an earlier rule', async () => {
    const grouped = new AccessPolicy({
      admins: [],
      rules: [
        { actions: ['gh:*'], usergroups: ['S0A', 'S0B'] },
        { actions: ['gh:*'], usergroups: ['S0B'], channels: ['C0DEV'] },
        { actions: ['gh:rerun'], users: ['U0DEV'] },
      ],
    });
    let calls = 0;
    const counting: MembershipCheck = async (group) => {
      calls++;
      return group === 'S0B';
    };
    expect(await grouped.evaluate({ user: 'U0DEV', channel: 'C0DEV', action: 'gh:rerun' }, counting)).toEqual(
      {
        allowed: true,
        reason: 'rule',
        ruleIndex: 2,
      },
    );
    expect(calls).toBe(0);
    expect(await grouped.evaluate({ user: 'U0X', channel: 'C0DEV', action: 'gh:pr' }, counting)).toEqual({
      allowed: true,
      reason: 'rule',
      ruleIndex: 0,
    });
    expect(calls).toBe(2); // S0A (no), S0B (yes): stops there
    calls = 0;
    const nobody: MembershipCheck = async () => {
      calls++;
      return false;
    };
    await grouped.evaluate({ user: 'U0X', channel: 'C0DEV', action: 'gh:pr' }, nobody);
    expect(calls).toBe(2); // S0B is named twice but asked once
  });

  it('rethrows a failed membership check only when the answer would otherwise be a denial', async () => {
    const boom = new Error('slack down');
    const failing: MembershipCheck = async () => {
      throw boom;
    };
    await expect(
      policy.evaluate({ user: 'U0X', channel: 'C0DEVENVS', action: 'devenv:up' }, failing),
    ).rejects.toBe(boom);
    expect(
      (await policy.evaluate({ user: 'U0DEV', channel: 'C0DEVENVS', action: 'gh:pr' }, failing)).allowed,
    ).toBe(true);
    // The group could not be asked here anyway (wrong channel): a plain denial.
    expect(
      (await policy.evaluate({ user: 'U0X', channel: 'C0DEV', action: 'devenv:up' }, failing)).allowed,
    ).toBe(false);
    // One group fails, another grants: allowed.
    const either = new AccessPolicy({
      admins: [],
      rules: [
        { actions: ['devenv:up'], usergroups: ['S0DOWN'] },
        { actions: ['devenv:up'], usergroups: ['S0UP'] },
      ],
    });
    const half: MembershipCheck = async (group) => {
      if (group === 'S0DOWN') throw boom;
      return true;
    };
    expect(await either.evaluate({ user: 'U0X', channel: 'C0DEV', action: 'devenv:up' }, half)).toEqual({
      allowed: true,
      reason: 'rule',
      ruleIndex: 1,
    });
  });

  it('allowedActions asks about each group once and leaves out actions it could not check', async () => {
    let calls = 0;
    const counting: MembershipCheck = async (group, user) => {
      calls++;
      return group === 'S0PLATFORM' && user === 'U0PLAT';
    };
    const actions = ['devenv:up', 'devenv:up', 'gh:pr', 'opsbot:whoami', 'opsbot:audit'];
    expect(await policy.allowedActions('U0PLAT', 'C0DEVENVS', actions, counting)).toEqual([
      'devenv:up',
      'devenv:up',
      'opsbot:whoami',
    ]);
    expect(calls).toBe(1);
    const failing: MembershipCheck = async () => {
      throw new Error('slack down');
    };
    expect(await policy.allowedActions('U0DEV', 'C0DEVENVS', actions, failing)).toEqual([
      'gh:pr',
      'opsbot:whoami',
    ]);
  });

  it('lists the user groups it names, each once', () => {
    const many = new AccessPolicy({
      admins: [],
      rules: [
        { actions: ['gh'], usergroups: ['S0B', 'S0A'] },
        { actions: ['dd'], usergroups: ['S0A', 'S0C'] },
      ],
    });
    expect(many.usergroups()).toEqual(['S0B', 'S0A', 'S0C']);
    expect(new AccessPolicy(emptyFileOf([]).access).usergroups()).toEqual([]);
  });
});

describe('explainDenial', () => {
  const denial = (needs: Extract<Decision, { allowed: false }>['needs']) =>
    ({ allowed: false, reason: 'no_rule', needs }) as const;

  it('says where and for which groups, one line per distinct rule, naming no person', async () => {
    expect(
      explainDenial('devenv:up', denial([{ channels: ['C0DEVENVS'], usergroups: ['S0PLATFORM'] }])),
    ).toBe('`devenv:up` is allowed in <#C0DEVENVS> for <!subteam^S0PLATFORM>.');
    expect(
      explainDenial(
        'gh:rerun',
        denial([
          { users: ['U0DEV'], usergroups: ['S0SRE'] },
          { channels: ['C0OPS', 'C0DEV'] },
          { users: ['U0DEV'], usergroups: ['S0SRE'] },
          { users: ['U0ANA'], channels: ['C0OPS'] },
        ]),
      ),
    ).toBe(
      '`gh:rerun` is allowed:\n• in any channel for <!subteam^S0SRE> and people the policy names\n• in <#C0OPS>, <#C0DEV> for everyone\n• in <#C0OPS> for people the policy names',
    );
  });

  it('keeps a long list short', () => {
    const needs = Array.from({ length: 8 }, (_, i) => ({ channels: [`C0CHAN${i}`] }));
    const text = explainDenial('gh:pr list', denial(needs));
    expect(text.split('\n')).toHaveLength(7);
    expect(text).toMatch(/• …and 3 more$/);
  });

  it('says which actions only admins may run', async () => {
    const policy = new AccessPolicy({ admins: ['U0ADMIN'], rules: [{ actions: ['*'] }] });
    const decision = denied(
      await policy.evaluate({ user: 'U0DEV', channel: 'C0DEV', action: 'opsbot:audit' }, async () => false),
    );
    expect(explainDenial('opsbot:audit', decision)).toBe('`opsbot:audit` is for opsbot admins only.');
  });

  it('says only opsbot admins may run what no rule allows, without naming them', () => {
    expect(explainDenial('jira:create', denial([]))).toBe(
      'No rule allows `jira:create` yet, so only opsbot admins may run it; ask one of them to add a rule.',
    );
  });

  it('never mentions a user, whatever the rules name (property)', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, requestArb, groupsArb, async (config, req, groups) => {
        const decision = await new AccessPolicy(config).evaluate(req, checkOf(groups));
        if (!decision.allowed) expect(explainDenial(req.action, decision)).not.toMatch(/<@|U0[A-Z]{3}/);
      }),
      { numRuns: 300 },
    );
  });
});

describe('AccessPolicy.describe', () => {
  it('lists admins, what everyone may do, then each rule: actions → where, who', () => {
    const policy = new AccessPolicy({
      admins: ['U0ADMIN', 'U0ROOT'],
      rules: [
        {
          actions: ['devenv:up'],
          usergroups: ['S0PLATFORM'],
          channels: ['C0DEVENVS'],
          description: 'dev envs',
        },
        { actions: ['gh:*', 'jira:create'], users: ['U0DEV'], usergroups: ['S0SRE'] },
        { actions: ['dd:*'], channels: ['C0OPS'], description: 'ping <!channel> & @here' },
      ],
    });
    expect(describePolicy(policy)).toEqual([
      '*Admins* (everything, including `opsbot:access` and `opsbot:audit`): <@U0ADMIN>, <@U0ROOT>',
      "*Everyone, everywhere:* `opsbot:help`, `opsbot:whoami`, `opsbot:approvals`, `opsbot:approve`, `opsbot:deny`, `opsbot:cancel` and each command's `help`",
      '1. `devenv:up` → in <#C0DEVENVS> for <!subteam^S0PLATFORM> — dev envs',
      '2. `gh:*`, `jira:create` → in any channel for <@U0DEV>, <!subteam^S0SRE>',
      '3. `dd:*` → in <#C0OPS> for everyone — ping &lt;!channel&gt; &amp; @\u200bhere',
    ]);
  });

  it('says so when there are no admins and no rules', () => {
    expect(describePolicy(new AccessPolicy(emptyFileOf([]).access))).toEqual([
      '*Admins* (everything, including `opsbot:access` and `opsbot:audit`): none',
      "*Everyone, everywhere:* `opsbot:help`, `opsbot:whoami`, `opsbot:approvals`, `opsbot:approve`, `opsbot:deny`, `opsbot:cancel` and each command's `help`",
      '*Rules:* none, so nothing else is allowed.',
    ]);
  });
});

describe('unmatchedPatterns', () => {
  const actions = ['gh:pr', 'gh:pr list', 'gh:rerun', 'devenv:up', 'jira:sprint', 'opsbot:help'];

  it('names each pattern that matches none of the actions, by its path, with the closest action', () => {
    expect(
      unmatchedPatterns(
        [{ actions: ['gh:*', 'gh:prs'] }, { actions: ['devenv:up', 'jira:sprnt', 'nope:*'] }],
        actions,
      ),
    ).toEqual([
      'access.rules[0].actions[1]: "gh:prs" matches none of opsbot\'s actions; did you mean "gh:pr"?',
      'access.rules[1].actions[1]: "jira:sprnt" matches none of opsbot\'s actions; did you mean "jira:sprint"?',
      'access.rules[1].actions[2]: "nope:*" matches none of opsbot\'s actions',
    ]);
  });

  it('is empty exactly when every pattern matches some action (property)', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 5 }), (rules) => {
        const every = rules.every((r) => r.actions.every((p) => actions.some((a) => matchesAction(p, a))));
        expect(unmatchedPatterns(rules, actions).length === 0).toBe(every);
      }),
    );
  });
});
