import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { downtimeScope } from '../../../src/alerts/alert-actions.js';
import { UserFacingError } from '../../../src/errors.js';
import { isDowntimeScope, isScopeTag } from '../../../src/integrations/datadog-scope.js';

/** An alert's scope as a Datadog downtime scope: `key:value` tags only, joined with AND. */
describe('downtimeScope', () => {
  it('joins key:value tags with AND, and mutes every group of a simple alert', () => {
    expect(downtimeScope('host:web-1,env:prod')).toBe('host:web-1 AND env:prod');
    expect(downtimeScope(' availability-zone:us-east-1a , role:computing-node ')).toBe(
      'availability-zone:us-east-1a AND role:computing-node',
    );
    expect(downtimeScope('kube_namespace:a/b,url:https://x.example/y')).toBe(
      'kube_namespace:a/b AND url:https://x.example/y',
    );
    expect(downtimeScope('')).toBe('*');
    expect(downtimeScope(' , ')).toBe('*');
  });

  // `host:a,OR,env:prod` became `host:a AND OR AND env:prod`: Datadog reads OR as an operator.
  it.each([
    'host:a,OR,env:prod',
    'host:a,NOT,env:prod',
    'host:a,TO,env:prod',
    'host:a,AND,env:prod',
    'OR',
    'host:a,env',
    'host:*',
    'host:web-*',
    '*',
    'host:a OR host:b',
    '(host:a)',
    'host:(a)',
    '-host:a',
    '!host:a',
    'host:"a"',
    "host:'a'",
    'host:[a TO b]',
    'host:{a TO b}',
    'host:a\\ b',
    ':a',
    'host:',
    '1host:a',
    'host:a?',
    'host:a~',
    'host:a^2',
    `host:${'a'.repeat(200)}`,
  ])('refuses the scope %j with a sentence', (scope) => {
    expect(() => downtimeScope(scope)).toThrow(UserFacingError);
    expect(() => downtimeScope(scope)).toThrow(/`key:value` tags/);
  });

  it('puts only key:value tags joined with AND into a downtime (property)', () => {
    const piece = fc.oneof(
      fc.constantFrom('OR', 'NOT', 'TO', 'AND', '(', ')', '*', '"', '-', '!', '[', ']', ' ', ':', '\\', '?'),
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9_./-]{0,8}:[A-Za-z0-9_./:-]{1,8}$/),
      fc.string({ maxLength: 8 }),
    );
    const scope = fc.array(
      fc.array(piece, { maxLength: 3 }).map((p) => p.join('')),
      { maxLength: 5 },
    );
    fc.assert(
      fc.property(scope, (tags) => {
        const written = tags.join(',');
        let result: string;
        try {
          result = downtimeScope(written);
        } catch (error) {
          expect(error).toBeInstanceOf(UserFacingError);
          return;
        }
        expect(isDowntimeScope(result)).toBe(true);
        if (result === '*') return;
        for (const tag of result.split(' AND ')) {
          expect(tag).toMatch(/^[A-Za-z][A-Za-z0-9_./-]*:[A-Za-z0-9_./:-]+$/);
          expect(['OR', 'NOT', 'TO', 'AND']).not.toContain(tag);
        }
      }),
      { numRuns: 3_000 },
    );
  });
});

describe('isDowntimeScope (what the Datadog client will send)', () => {
  it.each(['*', 'host:a', 'host:a AND env:prod'])('accepts %j', (scope) => {
    expect(isDowntimeScope(scope)).toBe(true);
  });
  it.each(['', 'host:a AND OR AND env:prod', 'host:a OR env:prod', 'host:a AND', 'NOT host:a', 'host:*'])(
    'refuses %j',
    (scope) => {
      expect(isDowntimeScope(scope)).toBe(false);
    },
  );
  it('knows a tag when it sees one', () => {
    expect(isScopeTag('env:prod')).toBe(true);
    expect(isScopeTag('OR')).toBe(false);
  });
});
