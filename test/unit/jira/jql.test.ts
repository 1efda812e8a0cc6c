import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jqlPhrase, jqlString, searchJql } from '../../../src/jira/jql.js';

/** Reads one JQL string literal from the start of `jql` as Jira does; returns its value and the rest. */
function readString(jql: string): { value: string; rest: string } {
  if (jql[0] !== '"') throw new Error(`not a string: ${jql}`);
  let value = '';
  for (let i = 1; i < jql.length; i++) {
    const c = jql[i] as string;
    if (c === '\\') {
      value += jql[i + 1] ?? '';
      i++;
    } else if (c === '"') return { value, rest: jql.slice(i + 1) };
    else value += c;
  }
  throw new Error(`unterminated string: ${jql}`);
}

describe('JQL from user input', () => {
  it('quotes and escapes a value so that it reads back as exactly one string (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (value) => {
        const literal = jqlString(value);
        const { value: read, rest } = readString(literal);
        expect(rest).toBe('');
        // Control characters become spaces; everything else comes back as typed.
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the same set the module replaces
        expect(read).toBe(value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' '));
      }),
      { numRuns: 500 },
    );
  });

  it('cannot be broken out of: a typed quote never ends the literal', () => {
    const evil = 'x" OR project = SECRET OR text ~ "y';
    const literal = jqlString(evil);
    expect(literal).toBe('"x\\" OR project = SECRET OR text ~ \\"y"');
    expect(readString(literal)).toEqual({ value: evil, rest: '' });
  });

  it('searches text as a phrase without Lucene operators (property: one literal, no special characters inside)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const { value, rest } = readString(jqlPhrase(text));
        expect(rest).toBe('');
        // The phrase is `"words"`: quotes around, none inside, no operators.
        expect(value.startsWith('"') && value.endsWith('"')).toBe(true);
        expect(value.slice(1, -1)).not.toMatch(/[+\-&|!(){}[\]^~*?\\:"/]/);
      }),
      { numRuns: 500 },
    );
    expect(jqlPhrase('login (timeout) AND "x"')).toBe('"\\"login timeout AND x\\""');
  });

  it('builds the search with an optional project, newest first', () => {
    expect(searchJql('login timeout', 'OPS')).toBe(
      'project = "OPS" AND text ~ "\\"login timeout\\"" ORDER BY updated DESC',
    );
    expect(searchJql('cert')).toBe('text ~ "\\"cert\\"" ORDER BY updated DESC');
  });
});
