import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { approvalsConfig } from '../../../src/approvals/config.js';
import { fileSchemaOf } from '../../../src/config/file-schema.js';
import { loadConfig } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';
import { CONFIG_SECTIONS } from '../../../src/features.js';

/**
 * `approvals:` of the configuration file (issue 26): which actions need a second person, who may
 * approve, how long a request stays open. Read the way opsbot reads it: YAML through loadConfig,
 * whose problems name the path and what a valid value looks like.
 */
const SECTIONS = [...CONFIG_SECTIONS.filter((s) => s.key !== 'approvals'), approvalsConfig];
const MINUTE = 60_000;

const CONTRACT = `
approvals:                    # actions that need a second person before they run
  - actions: ["devenv:up"]
    args: { template: [large] }   # optional: only when these arguments match
    approvers: { usergroups: [S0LEADS], users: [U0LEAD] }   # never the requester
    expires: 15m
    channel: C0APPROVALS
`;

function load(yaml: string) {
  return loadConfig({ AWS_REGION: 'eu-west-1' }, { readFile: () => yaml, sections: SECTIONS });
}

/** The problems loadConfig reports for this file (none: it loaded). */
function problemsOf(yaml: string): string[] {
  try {
    load(yaml);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
}

/** The file with one rule, `fields` (YAML flow mapping entries) after a valid `actions`. */
const oneRule = (fields: string) => `approvals:\n  - { actions: ["devenv:up"], ${fields} }\n`;

describe('the approvals section', () => {
  it("reads the contract's example: expires in milliseconds", () => {
    expect(load(CONTRACT).file.approvals).toEqual([
      {
        actions: ['devenv:up'],
        args: { template: ['large'] },
        approvers: { usergroups: ['S0LEADS'], users: ['U0LEAD'] },
        expires: 15 * MINUTE,
        channel: 'C0APPROVALS',
      },
    ]);
  });

  it('is optional: an absent section holds nothing; a rule left with defaults is open 15 minutes', () => {
    expect(load('').file.approvals).toEqual([]);
    expect(fileSchemaOf(SECTIONS).parse({}).approvals).toEqual([]);
    expect(load(oneRule('approvers: { users: [U0LEAD] }')).file.approvals).toEqual([
      { actions: ['devenv:up'], approvers: { users: ['U0LEAD'] }, expires: 15 * MINUTE },
    ]);
  });

  it('reads YAML numbers and booleans in args as their text, trimmed', () => {
    const [rule] = load(
      oneRule('args: { id: [12345, " 7 "], force: [true], ratio: [1.5] }, approvers: { users: [U0LEAD] }'),
    ).file.approvals;
    expect(rule?.args).toEqual({ id: ['12345', '7'], force: ['true'], ratio: ['1.5'] });
  });

  it('takes any expiry from 1 minute to 7 days, in milliseconds (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 * 24 * 60 }), (minutes) => {
        const [rule] = load(oneRule(`approvers: { users: [U0LEAD] }, expires: ${minutes}m`)).file.approvals;
        expect(rule?.expires).toBe(minutes * MINUTE);
      }),
      { numRuns: 50 },
    );
  });

  it('refuses a rule that names nobody, saying what to add', () => {
    const nobody =
      'approvals[0].approvers: names nobody who may approve: add users (such as [U0LEAD]) or usergroups (such as [S0LEADS]); the requester never approves their own request';
    expect(problemsOf(oneRule('approvers: {}'))).toEqual([expect.stringContaining(nobody)]);
    expect(problemsOf(oneRule('approvers: { users: [], usergroups: [] }'))).toEqual([
      expect.stringContaining(nobody),
    ]);
    expect(problemsOf(oneRule('approvers: { usergroups: [] }'))).toEqual([expect.stringContaining(nobody)]);
    expect(problemsOf(oneRule('expires: 15m'))).toEqual([
      expect.stringContaining('approvals[0].approvers: expected a mapping'),
    ]);
  });

  it('refuses an action pattern that can match nothing, with what a pattern looks like', () => {
    expect(
      problemsOf('approvals:\n  - { actions: ["Devenv:up"], approvers: { users: [U0LEAD] } }\n'),
    ).toEqual([
      expect.stringContaining(
        'approvals[0].actions[0]: "Devenv:up" cannot match any action: a pattern is command:subcommand',
      ),
    ]);
    expect(problemsOf('approvals:\n  - { actions: [], approvers: { users: [U0LEAD] } }\n')).toEqual([
      expect.stringContaining(
        'approvals[0].actions: a rule needs at least one action, such as ["devenv:up"]',
      ),
    ]);
  });

  it.each([
    ['10s', 'too short'],
    ['8d', 'too long'],
    ['soon', 'not a duration'],
    ['0m', 'zero'],
  ])('refuses expires %s (%s), naming the bounds', (value) => {
    expect(problemsOf(oneRule(`approvers: { users: [U0LEAD] }, expires: ${value}`))).toEqual([
      expect.stringContaining(
        'approvals[0].expires: expected a duration from 1m to 7d, such as 15m, 4h or 1d (units d, h, m, s)',
      ),
    ]);
  });

  it('refuses a channel name, a bad approver id, an unknown key', () => {
    expect(problemsOf(oneRule('approvers: { users: [U0LEAD] }, channel: "#approvals"'))).toEqual([
      expect.stringContaining('approvals[0].channel: expected a Slack channel id such as C0123ABCD'),
    ]);
    expect(problemsOf(oneRule('approvers: { users: [lead] }'))).toEqual([
      expect.stringContaining('approvals[0].approvers.users[0]: expected a Slack user id such as U0123ABCD'),
    ]);
    expect(problemsOf(oneRule('approvers: { usergroups: [leads] }'))).toEqual([
      expect.stringContaining(
        'approvals[0].approvers.usergroups[0]: expected a Slack user-group id such as S0123ABCD',
      ),
    ]);
    expect(problemsOf(oneRule('approvers: { users: [U0LEAD] }, expire: 15m'))).toEqual([
      expect.stringContaining('approvals[0]: unknown key "expire"'),
    ]);
    expect(problemsOf(oneRule('approvers: { users: [U0LEAD], channels: [C0X] }'))).toEqual([
      expect.stringContaining('approvals[0].approvers: unknown key "channels"'),
    ]);
    expect(problemsOf('approvals: { actions: ["devenv:up"] }\n')).toEqual([
      expect.stringContaining('approvals: expected array'),
    ]);
  });

  it('refuses args that hold nothing or are malformed, saying what is expected', () => {
    const withArgs = (args: string) => oneRule(`args: ${args}, approvers: { users: [U0LEAD] }`);
    expect(problemsOf(withArgs('{}'))).toEqual([
      expect.stringContaining('approvals[0].args: name 1 to 10 arguments with their values'),
    ]);
    expect(problemsOf(withArgs('{ template: [] }'))).toEqual([
      expect.stringContaining('approvals[0].args.template: list at least one value, such as [large]'),
    ]);
    expect(problemsOf(withArgs('{ template: ["  "] }'))).toEqual([
      expect.stringContaining('approvals[0].args.template[0]: expected a value such as large or acme/prod'),
    ]);
    expect(problemsOf(withArgs(`{ template: ["${'x'.repeat(201)}"] }`))).toEqual([
      expect.stringContaining('approvals[0].args.template[0]: expected a value of at most 200 characters'),
    ]);
    expect(problemsOf(withArgs('{ template: [{ a: 1 }] }'))).toEqual([
      expect.stringContaining('approvals[0].args.template[0]: expected a value such as large or acme/prod'),
    ]);
    expect(problemsOf(withArgs('{ Template: [large] }'))).toEqual([
      expect.stringContaining(
        'approvals[0].args.Template: expected an argument or flag name such as template or repo (lower case, digits, -)',
      ),
    ]);
    const eleven = Array.from({ length: 11 }, (_, i) => `a${i}: [x]`).join(', ');
    expect(problemsOf(withArgs(`{ ${eleven} }`))).toEqual([
      expect.stringContaining('approvals[0].args: name 1 to 10 arguments'),
    ]);
  });

  it('bounds the lists: at most 100 rules', () => {
    const rule = '  - { actions: ["devenv:up"], approvers: { users: [U0LEAD] } }\n';
    expect(load(`approvals:\n${rule.repeat(100)}`).file.approvals).toHaveLength(100);
    expect(problemsOf(`approvals:\n${rule.repeat(101)}`)).toEqual([
      expect.stringContaining('approvals: at most 100 approval rules'),
    ]);
  });
});
