import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MembershipCheck } from '../../../src/access/policy.js';
import { matchesAction } from '../../../src/access/policy.js';
import { approvalsConfig } from '../../../src/approvals/config.js';
import {
  type ActionInput,
  type ApprovalRule,
  approvalRuleFor,
  approvalRulePatternsUnmatched,
  describeApprovalRule,
  heldActions,
  isApprover,
} from '../../../src/approvals/rules.js';
import { isActionPattern } from '../../../src/config/file-schema.js';

/**
 * Which approval rule holds an action (issue 26): patterns as the access policy reads them, then
 * argument conditions; a button (no input) never gets past an argument condition.
 */
const MINUTE = 60_000;
const COMMANDS = ['gh', 'devenv', 'dd'];
const WORDS = ['up', 'down', 'run', 'rerun', 'mute', 'pr', 'list'];
const NAMES = ['template', 'repo', 'id', 'force'];
const VALUES = ['large', 'small', 'acme/prod', 'acme/web', '12345', 'true', ' large '];

const commandArb = fc.constantFrom(...COMMANDS);
const subcommandArb = fc
  .array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 2 })
  .map((w) => w.join(' '));
const actionArb = fc.tuple(commandArb, subcommandArb).map(([c, s]) => `${c}:${s}`);
const patternArb = fc
  .oneof(
    fc.constant('*'),
    commandArb,
    commandArb.map((c) => `${c}:*`),
    actionArb,
    fc.tuple(commandArb, fc.constantFrom(...WORDS)).map(([c, w]) => `${c}:${w} *`),
  )
  .filter(isActionPattern);
const argsArb = fc.dictionary(
  fc.constantFrom(...NAMES),
  fc.array(fc.constantFrom(...VALUES), { minLength: 1, maxLength: 3 }),
  { minKeys: 1, maxKeys: 3 },
);
const ruleArb = (withArgs: boolean): fc.Arbitrary<ApprovalRule> =>
  fc
    .record({
      actions: fc.array(patternArb, { minLength: 1, maxLength: 3 }),
      args: withArgs ? fc.option(argsArb, { nil: undefined }) : fc.constant(undefined),
      users: fc.constant<string[]>(['U0LEAD']),
    })
    .map(({ actions, args, users }) => ({
      actions,
      ...(args ? { args } : {}),
      approvers: { users },
      expires: 15 * MINUTE,
    }));
const argValueArb = fc.oneof(fc.constantFrom(...VALUES, 'xlarge', 'LARGE'), fc.integer(), fc.boolean());
const inputArb: fc.Arbitrary<ActionInput> = fc.record({
  args: fc.dictionary(fc.constantFrom(...NAMES), argValueArb, { maxKeys: 4 }),
  flags: fc.dictionary(fc.constantFrom(...NAMES), argValueArb, { maxKeys: 4 }),
});

/** Rules as the configuration file gives them (YAML already parsed). */
const parse = (rules: unknown): ApprovalRule[] => approvalsConfig.schema?.parse(rules) as ApprovalRule[];
const NO_INPUT = { args: {}, flags: {} };

describe('approvalRuleFor', () => {
  const rules = parse([
    { actions: ['devenv:up'], args: { template: ['large'] }, approvers: { usergroups: ['S0LEADS'] } },
    { actions: ['gh:run *'], args: { repo: ['acme/prod'] }, approvers: { users: ['U0LEAD'] } },
    { actions: ['dd:mute'], approvers: { users: ['U0LEAD'] }, expires: '1h' },
    { actions: ['dd:*'], approvers: { users: ['U0OTHER'] } },
  ]);

  it('holds an action whose arguments match, by the first rule, with its index', () => {
    expect(approvalRuleFor(rules, 'devenv:up', { args: { template: 'large' }, flags: {} })).toEqual({
      rule: rules[0],
      index: 0,
    });
    expect(approvalRuleFor(rules, 'gh:run rerun', { args: { repo: 'acme/prod' }, flags: {} })?.index).toBe(1);
    expect(approvalRuleFor(rules, 'dd:mute', NO_INPUT)?.index).toBe(2);
    expect(approvalRuleFor(rules, 'dd:unmute', NO_INPUT)?.index).toBe(3);
  });

  it('lets through other values, an absent argument counting as no match', () => {
    expect(approvalRuleFor(rules, 'devenv:up', { args: { template: 'small' }, flags: {} })).toBeUndefined();
    expect(approvalRuleFor(rules, 'devenv:up', NO_INPUT)).toBeUndefined();
    expect(approvalRuleFor(rules, 'devenv:up', { args: { template: undefined }, flags: {} })).toBeUndefined();
    expect(approvalRuleFor(rules, 'devenv:down', { args: { template: 'large' }, flags: {} })).toBeUndefined();
    expect(approvalRuleFor(rules, 'gh:run', { args: { repo: 'acme/prod' }, flags: {} })).toBeUndefined();
  });

  it('compares text exactly but trimmed, reading a flag when there is no argument of that name', () => {
    expect(approvalRuleFor(rules, 'devenv:up', { args: { template: ' large ' }, flags: {} })?.index).toBe(0);
    expect(approvalRuleFor(rules, 'devenv:up', { args: { template: 'Large' }, flags: {} })).toBeUndefined();
    expect(approvalRuleFor(rules, 'devenv:up', { args: {}, flags: { template: 'large' } })?.index).toBe(0);
    const byNumber = parse([
      { actions: ['gh:run *'], args: { id: [12345], force: [true] }, approvers: { users: ['U0LEAD'] } },
    ]);
    expect(
      approvalRuleFor(byNumber, 'gh:run rerun', { args: { id: 12345 }, flags: { force: true } })?.index,
    ).toBe(0);
    expect(
      approvalRuleFor(byNumber, 'gh:run rerun', { args: { id: 12345 }, flags: { force: false } }),
    ).toBeUndefined();
  });

  it('reads only the arguments the request has, never a prototype property', () => {
    // `{}.constructor` as text: what a plain `input.args[name]` lookup would read for an absent argument.
    const proto = parse([
      { actions: ['devenv:up'], args: { constructor: [String(Object)] }, approvers: { users: ['U0LEAD'] } },
    ]);
    expect(approvalRuleFor(proto, 'devenv:up', NO_INPUT)).toBeUndefined();
    expect(
      approvalRuleFor(proto, 'devenv:up', { args: {}, flags: { constructor: String(Object) } })?.index,
    ).toBe(0);
  });

  it('holds a button (no input) under a rule with args: fail closed', () => {
    expect(approvalRuleFor(rules, 'devenv:up', undefined)?.index).toBe(0);
    expect(approvalRuleFor(rules, 'gh:run rerun', undefined)?.index).toBe(1);
    expect(approvalRuleFor(rules, 'gh:pr list', undefined)).toBeUndefined();
    expect(approvalRuleFor([], 'devenv:up', undefined)).toBeUndefined();
  });

  it('without args, holds an action exactly when one of its patterns matches it (property)', () => {
    fc.assert(
      fc.property(
        ruleArb(false),
        actionArb,
        fc.option(inputArb, { nil: undefined }),
        (rule, action, input) => {
          const held = approvalRuleFor([rule], action, input) !== undefined;
          expect(held).toBe(rule.actions.some((p) => matchesAction(p, action)));
        },
      ),
    );
  });

  it('an args condition never makes a rule hold a request it did not hold before (property)', () => {
    fc.assert(
      fc.property(ruleArb(true), argsArb, actionArb, inputArb, (rule, extra, action, input) => {
        // A condition on an argument the rule does not name yet (one on a named argument would
        // replace that condition, which may widen it: not a narrowing).
        const added = Object.fromEntries(
          Object.entries(extra).filter(([name]) => !(rule.args && Object.hasOwn(rule.args, name))),
        );
        const narrowed: ApprovalRule = { ...rule, args: { ...rule.args, ...added } };
        if (approvalRuleFor([narrowed], action, input))
          expect(approvalRuleFor([rule], action, input)).toBeDefined();
      }),
    );
  });

  it('with no input, args never keep a rule from holding its actions (property)', () => {
    fc.assert(
      fc.property(ruleArb(true), actionArb, (rule, action) => {
        const held = approvalRuleFor([rule], action, undefined) !== undefined;
        expect(held).toBe(rule.actions.some((p) => matchesAction(p, action)));
      }),
    );
  });

  it('the first rule that holds the request wins (property)', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb(true), { maxLength: 6 }),
        actionArb,
        fc.option(inputArb, { nil: undefined }),
        (rules, action, input) => {
          const found = approvalRuleFor(rules, action, input);
          const holding = rules.map((r) => approvalRuleFor([r], action, input) !== undefined);
          const first = holding.indexOf(true);
          if (first === -1) expect(found).toBeUndefined();
          else expect(found).toEqual({ rule: rules[first], index: first });
        },
      ),
    );
  });
});

describe('isApprover', () => {
  const rule = parse([
    { actions: ['devenv:up'], approvers: { users: ['U0LEAD'], usergroups: ['S0A', 'S0B'] } },
  ])[0] as ApprovalRule;

  it('is true for a listed user without asking about groups', async () => {
    const asked: string[] = [];
    const membership: MembershipCheck = async (group) => {
      asked.push(group);
      return false;
    };
    expect(await isApprover(rule, 'U0LEAD', membership)).toBe(true);
    expect(asked).toEqual([]);
  });

  it('is true through a user group the membership check says yes to, stopping there', async () => {
    const asked: string[] = [];
    const membership: MembershipCheck = async (group, user) => {
      asked.push(`${group}/${user}`);
      return group === 'S0A';
    };
    expect(await isApprover(rule, 'U0MEMBER', membership)).toBe(true);
    expect(asked).toEqual(['S0A/U0MEMBER']);
  });

  it('is false for anyone else', async () => {
    expect(await isApprover(rule, 'U0OTHER', async () => false)).toBe(false);
  });

  it('counts a membership check that throws as no, reporting it, and still asks the other groups', async () => {
    const errors: unknown[] = [];
    const failure = new Error('usergroups.users.list failed');
    const throwing: MembershipCheck = async () => {
      throw failure;
    };
    expect(await isApprover(rule, 'U0OTHER', throwing, (e) => errors.push(e))).toBe(false);
    expect(errors).toEqual([failure, failure]);
    const secondSays: MembershipCheck = async (group) => {
      if (group === 'S0A') throw failure;
      return true;
    };
    expect(await isApprover(rule, 'U0OTHER', secondSays)).toBe(true);
  });

  it('is true exactly for the listed users and the members of listed groups, whatever throws (property)', async () => {
    const people = ['U0A', 'U0B', 'U0C', 'U0D'];
    const groups = ['S0X', 'S0Y', 'S0Z'];
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(people),
        fc.subarray(groups),
        fc.dictionary(fc.constantFrom(...groups), fc.constantFrom('yes', 'no', 'throws'), { maxKeys: 3 }),
        fc.constantFrom(...people),
        async (users, usergroups, answers, person) => {
          fc.pre(users.length + usergroups.length > 0);
          const r: ApprovalRule = {
            actions: ['devenv:up'],
            approvers: { users, usergroups },
            expires: MINUTE,
          };
          let errors = 0;
          const membership: MembershipCheck = async (group) => {
            const answer = answers[group] ?? 'no';
            if (answer === 'throws') throw new Error('no answer');
            return answer === 'yes';
          };
          const expected = users.includes(person) || usergroups.some((g) => answers[g] === 'yes');
          expect(await isApprover(r, person, membership, () => errors++)).toBe(expected);
          if (!users.includes(person) && !expected)
            expect(errors).toBe(usergroups.filter((g) => answers[g] === 'throws').length);
        },
      ),
    );
  });
});

describe('describeApprovalRule', () => {
  it('reads as one line: actions, the condition, approvers, how long it stays open', () => {
    const [rule] = parse([
      {
        actions: ['devenv:up'],
        args: { template: ['large'] },
        approvers: { usergroups: ['S0LEADS'], users: ['U0LEAD'] },
        expires: '15m',
      },
    ]);
    expect(describeApprovalRule(rule as ApprovalRule)).toBe(
      '`devenv:up` when template is large — approvers: <@U0LEAD>, <!subteam^S0LEADS> — open 15m',
    );
  });

  it('lists every action, value and condition; durations in words', () => {
    const [rule] = parse([
      {
        actions: ['gh:run *', 'dd:mute'],
        args: { repo: ['acme/prod', 'acme/pay'], id: [7] },
        approvers: { users: ['U0A', 'U0B'] },
        expires: '1d1h30m',
      },
    ]);
    expect(describeApprovalRule(rule as ApprovalRule)).toBe(
      '`gh:run *`, `dd:mute` when repo is acme/prod or acme/pay and id is 7 — approvers: <@U0A>, <@U0B> — open 1d1h30m',
    );
  });

  it('escapes values so that they never form a mention or a link', () => {
    const [rule] = parse([
      {
        actions: ['devenv:up'],
        args: { template: ['<!channel>', 'a&b', '<https://evil|x>', '@here'] },
        approvers: { users: ['U0LEAD'] },
      },
    ]);
    const text = describeApprovalRule(rule as ApprovalRule);
    expect(text).toContain(
      'template is &lt;!channel&gt; or a&amp;b or &lt;https://evil|x&gt; or @\u200bhere',
    );
    expect(text.replace(/<@U0LEAD>/, '')).not.toMatch(/[<>]/);
  });
});

describe('heldActions', () => {
  const ACTIONS = ['devenv:up', 'devenv:down', 'gh:run rerun', 'gh:pr list', 'dd:mute'];

  it('maps each held action to its rules, stopping at the first without args', () => {
    const rules = parse([
      { actions: ['devenv:up'], args: { template: ['large'] }, approvers: { users: ['U0LEAD'] } },
      { actions: ['devenv:*', 'gh:run *'], approvers: { users: ['U0LEAD'] }, expires: '1h' },
      { actions: ['devenv:up'], approvers: { users: ['U0NEVER'] } },
    ]);
    const held = heldActions(rules, ACTIONS);
    expect([...held.keys()]).toEqual(['devenv:up', 'devenv:down', 'gh:run rerun']);
    expect(held.get('devenv:up')).toBe(
      '`devenv:up` when template is large — approvers: <@U0LEAD> — open 15m; `devenv:*`, `gh:run *` — approvers: <@U0LEAD> — open 1h',
    );
    expect(held.get('devenv:down')).toBe('`devenv:*`, `gh:run *` — approvers: <@U0LEAD> — open 1h');
  });

  it('holds exactly the actions some rule has a pattern for (property)', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb(true), { maxLength: 5 }),
        fc.array(actionArb, { maxLength: 8 }),
        (rules, actions) => {
          const held = heldActions(rules, actions);
          for (const action of actions)
            expect(held.has(action)).toBe(rules.some((r) => r.actions.some((p) => matchesAction(p, action))));
        },
      ),
    );
  });
});

describe('approvalRulePatternsUnmatched', () => {
  it('names each pattern that holds none of the actions, by its path in approvals', () => {
    const rules = parse([
      { actions: ['devenv:up', 'devenv:upp'], approvers: { users: ['U0LEAD'] } },
      { actions: ['nope:*'], approvers: { users: ['U0LEAD'] } },
    ]);
    expect(approvalRulePatternsUnmatched(rules, ['devenv:up', 'devenv:down'])).toEqual([
      'approvals[0].actions[1]: "devenv:upp" matches none of opsbot\'s actions; did you mean "devenv:up"?',
      'approvals[1].actions[0]: "nope:*" matches none of opsbot\'s actions',
    ]);
  });
});
