import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesAction } from '../../src/access/policy.js';
import { fileSchemaOf, isActionPattern } from '../../src/config/file-schema.js';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { CONFIG_SECTIONS } from '../../src/features.js';

/** The file schema of the production build: `access` and every registered section. */
const fileSchema = fileSchemaOf(CONFIG_SECTIONS);

/** What a policy action looks like: `command:subcommand`, words separated by single spaces. */
const ACTION = /^[a-z][a-z0-9-]*:[a-z0-9][a-z0-9-]*( [a-z0-9][a-z0-9-]*)*$/;

/** The action a pattern is checked against: each `*` stands for one letter. */
function witness(pattern: string): string {
  const full = pattern.includes(':') ? pattern : `${pattern}:*`;
  return full.replace(/\*/g, 'a');
}

function problemsFor(actions: string[]): string[] {
  const yaml = `access:\n  rules:\n    - actions: ${JSON.stringify(actions)}\n      channels: [C0DEV]\n`;
  try {
    loadConfig({ AWS_REGION: 'eu-west-1' }, { readFile: () => yaml });
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
}

const pieces = fc.constantFrom(
  '*',
  ':',
  ' ',
  '  ',
  'gh',
  'pr',
  'list',
  '-',
  '.',
  'x',
  'A',
  '9',
  'up',
  ' *',
  '* ',
);
const candidate = fc.array(pieces, { minLength: 1, maxLength: 6 }).map((p) => p.join(''));

describe('action patterns in the configuration file', () => {
  it.each([
    ['gh:pr ', 'trailing space'],
    [' gh:pr', 'leading space'],
    ['gh:pr  list', 'doubled space'],
    ['gh:run.x', 'a dot no action has'],
    ['gh:', 'an empty subcommand'],
    ['gh:pr -x', 'a word starting with -'],
    ['*:x', 'a * command'],
    ['*:*', 'a * command'],
    ['GH:pr', 'upper case'],
    ['gh:pr:list', 'two colons'],
  ])('refuses %j (%s), naming the rule and what a pattern looks like', (pattern) => {
    expect(isActionPattern(pattern)).toBe(false);
    const problems = problemsFor(['gh:*', pattern]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`access.rules[0].actions[1]: ${JSON.stringify(pattern)} `);
    expect(problems[0]).toContain('command:subcommand');
    expect(problems[0]).toContain('"gh:pr *"');
  });

  it.each([
    '*',
    'gh',
    'gh:*',
    'gh:pr *',
    'gh:pr',
    'gh:pr list',
    'gh:*list',
    'devenv:up',
    'gh:p*r*t',
    'dd:*-x',
  ])('accepts %j', (pattern) => {
    expect(isActionPattern(pattern)).toBe(true);
    expect(problemsFor([pattern])).toEqual([]);
  });

  it('accepts a pattern only if it can match some action (property)', () => {
    fc.assert(
      fc.property(candidate, (pattern) => {
        const accepted = fileSchema.safeParse({ access: { rules: [{ actions: [pattern] }] } }).success;
        expect(accepted).toBe(isActionPattern(pattern));
        if (accepted) {
          const action = witness(pattern);
          expect(action).toMatch(ACTION);
          expect(matchesAction(pattern, action)).toBe(true);
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it('accepts every pattern that names its command and matches some action (property)', () => {
    const word = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,5}$/);
    const action = fc
      .tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,5}$/), fc.array(word, { minLength: 1, maxLength: 3 }))
      .map(([command, words]) => `${command}:${words.join(' ')}`);
    fc.assert(
      fc.property(action, fc.array(fc.nat(), { maxLength: 3 }), (text, cuts) => {
        // Replace some runs of the action with `*`: the pattern still matches it.
        const colon = text.indexOf(':');
        let sub = text.slice(colon + 1);
        for (const cut of cuts) {
          const at = cut % (sub.length + 1);
          sub = `${sub.slice(0, at)}*${sub.slice(Math.min(sub.length, at + (cut % 3)))}`;
        }
        const pattern = `${text.slice(0, colon)}:${sub}`;
        if (matchesAction(pattern, text)) expect(isActionPattern(pattern)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('the configuration example of the operator interface', () => {
  it('accepts jira.defaultBoard, the board of `/jira sprint` with no board', () => {
    const parsed = fileSchema.parse({ jira: { defaultProject: 'OPS', defaultBoard: 1 } });
    expect(parsed.jira).toMatchObject({ defaultProject: 'OPS', defaultBoard: 1 });
    expect(fileSchema.safeParse({ jira: { defaultBoard: 0 } }).success).toBe(false);
  });
});
