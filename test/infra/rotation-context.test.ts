import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContextError } from '../../infra/lib/context.js';
import { ROTATED_SECRETS } from '../../infra/lib/rotated-secrets.js';
import { parseSchedule, readRotation } from '../../infra/lib/rotation-context.js';
import { synth } from './synth.js';

/** What Secrets Manager takes as a ScheduleExpression (the forms this app writes). */
const SCHEDULE = /^(rate\((\d+) (days|hours)\)|cron\((\S+ ){5}\S+\))$/;

function problemsOf(value: unknown): string[] {
  const problems: string[] = [];
  readRotation(value, ROTATED_SECRETS, problems);
  return problems;
}

describe('context rotation', () => {
  it('defaults: audit every 90 days, datadog every 30, the others on demand only', () => {
    const problems: string[] = [];
    expect(readRotation(undefined, ROTATED_SECRETS, problems)).toEqual({
      slackTokenRotation: false,
      reservedConcurrency: false,
      schedules: {
        slack: 'off',
        github: 'off',
        jira: 'off',
        datadog: { expression: 'rate(30 days)' },
        audit: { expression: 'rate(90 days)' },
      },
    });
    expect(problems).toEqual([]);
  });

  it('slack rotates every 4 hours with token rotation on, unless told otherwise', () => {
    expect(readRotation({ slackTokenRotation: true }, ROTATED_SECRETS, []).schedules.slack).toEqual({
      expression: 'rate(4 hours)',
    });
    expect(
      readRotation({ slackTokenRotation: 'true', slack: 'rate(6 hours)' }, ROTATED_SECRETS, []).schedules
        .slack,
    ).toEqual({
      expression: 'rate(6 hours)',
    });
    expect(
      readRotation({ slackTokenRotation: true, slack: 'off' }, ROTATED_SECRETS, []).schedules.slack,
    ).toBe('off');
  });

  it('refuses, naming the key and what to do: schedules for person-made values, bad values, unknown keys', () => {
    expect(problemsOf({ github: 30 })).toEqual([
      expect.stringMatching(
        /^rotation\.github: its value is made by a person.*leave it "off".*\/opsbot rotate github/,
      ),
    ]);
    expect(problemsOf({ slack: 'rate(4 hours)' })).toEqual([
      expect.stringMatching(/^rotation\.slack: .*set rotation\.slackTokenRotation to true/),
    ]);
    expect(problemsOf({ audit: 0 })).toEqual([
      expect.stringMatching(/^rotation\.audit: expected a whole number of days \(1-1000\)/),
    ]);
    expect(problemsOf({ datadog: 'rate(2 hours)' })).toEqual([
      expect.stringMatching(/^rotation\.datadog: expected/),
    ]);
    expect(problemsOf({ statuspage: 30 })).toEqual([
      expect.stringMatching(
        /^rotation\.statuspage: not a secret opsbot's rotation function rotates \(known: slack, github/,
      ),
    ]);
    expect(problemsOf({ slackTokenRotation: 'yes' })).toEqual([
      expect.stringMatching(/^rotation\.slackTokenRotation: expected true or false/),
    ]);
    expect(problemsOf({ reservedConcurrency: 1 })).toEqual([
      expect.stringMatching(/^rotation\.reservedConcurrency: expected true or false/),
    ]);
    expect(readRotation({ reservedConcurrency: 'true' }, ROTATED_SECRETS, []).reservedConcurrency).toBe(true);
    expect(problemsOf([30])).toEqual([expect.stringMatching(/^rotation: expected a mapping/)]);
  });

  it('a bad value fails the synth with a ContextError naming it', () => {
    let error: unknown;
    try {
      synth({ rotation: '{"audit": "weekly"}' }).cleanup();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ContextError);
    expect((error as Error).message).toMatch(
      /context problem.*\n.*rotation\.audit: expected a whole number of days/,
    );
  }, 60_000);

  it('property: whole days 1-1000 are rate(n days); anything outside is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5000, max: 5000 }), fc.boolean(), (n, asText) => {
        const parsed = parseSchedule(asText ? String(n) : n);
        if (n >= 1 && n <= 1000) expect(parsed).toEqual({ expression: `rate(${n} days)` });
        else expect(parsed).toBeUndefined();
      }),
    );
  });

  it('property: hours from 4 to 23 are accepted, fewer or more are not (Secrets Manager rotates at most every 4 hours)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99 }), (n) => {
        const parsed = parseSchedule(`rate(${n} hours)`);
        if (n >= 4 && n <= 23) expect(parsed).toEqual({ expression: `rate(${n} hours)` });
        else expect(parsed).toBeUndefined();
      }),
    );
  });

  it('property: whatever is accepted is "off" or a schedule expression Secrets Manager takes; nothing throws', () => {
    const candidates = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom(
        'off',
        'rate(4 hours)',
        'rate(1 days)',
        'cron(0 4 ? * MON *)',
        'cron(0 4 * *)',
        ' rate( 7 days ) ',
      ),
      fc
        .tuple(fc.constantFrom('rate(', 'cron('), fc.string(), fc.constantFrom(')', ''))
        .map((p) => p.join('')),
    );
    fc.assert(
      fc.property(candidates, (raw) => {
        const parsed = parseSchedule(raw);
        if (parsed === undefined || parsed === 'off') return;
        expect(parsed.expression).toMatch(SCHEDULE);
      }),
    );
  });
});
