import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LEAK_RULES } from '../../../src/leaks/rules.js';
import { REPO_ROOT } from '../../helpers/source-tree.js';

/**
 * The rules' patterns are linear-time by construction (src/leaks/rules.ts): these checks read each
 * pattern's source, with escapes and character classes taken out, so what remains is its structure.
 */
function structure(source: string): string {
  return source
    .replace(/\\./g, 'e') // an escaped character is one literal
    .replace(/\[(?:[^\]\\]|\\.)*\]/g, 'c'); // a character class is one character
}

const patterns = LEAK_RULES.flatMap((rule) => [
  { name: `${rule.kind} pattern`, regex: rule.pattern },
  ...(rule.near ? [{ name: `${rule.kind} key words`, regex: rule.near.keyword }] : []),
]);

describe('the leak rules', () => {
  it('have unique kinds and a title each', () => {
    const kinds = LEAK_RULES.map((r) => r.kind);
    expect(new Set(kinds).size).toBe(kinds.length);
    for (const rule of LEAK_RULES) {
      expect(rule.kind).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
      expect(rule.title.length).toBeGreaterThan(3);
    }
  });

  it('are global regexes (the scanner walks every match)', () => {
    for (const { name, regex } of patterns) expect(regex.global, name).toBe(true);
  });

  it('repeat only with a bound: no *, no +, no {n,}', () => {
    for (const { name, regex } of patterns) {
      const shape = structure(regex.source);
      expect(shape, name).not.toMatch(/[*+]/);
      expect(shape, name).not.toMatch(/\{\d+,\}/);
    }
  });

  it('quantify no group except to make it optional, so no repetition is nested in another', () => {
    for (const { name, regex } of patterns) {
      expect(structure(regex.source), name).not.toMatch(/\)\{/);
    }
  });

  it('say where each pattern comes from (gitleaks, secretlint or the vendor)', () => {
    const text = readFileSync(join(REPO_ROOT, 'src/leaks/rules.ts'), 'utf8');
    for (const rule of LEAK_RULES) {
      const lines = text
        .slice(0, text.indexOf(`kind: '${rule.kind}'`))
        .split('\n')
        .reverse();
      const first = lines.findIndex((line) => line.trim().startsWith('//'));
      const end = lines.findIndex((line, i) => i > first && !line.trim().startsWith('//'));
      const note = lines.slice(first, end).join(' ');
      expect(note, rule.kind).toMatch(/gitleaks \[[a-z-]+\]|secretlint `[a-z]+`|RFC \d+/);
    }
  });

  it('checks itself: the structure check refuses a pattern that backtracks catastrophically', () => {
    expect(structure(/(a+)+$/.source)).toMatch(/[*+]/);
    expect(structure(/(?:[a-z]{1,9}){1,9}x/.source)).toMatch(/\)\{/);
    expect(structure(/[+*]{1,3}\+/.source)).toBe('c{1,3}e');
  });
});
