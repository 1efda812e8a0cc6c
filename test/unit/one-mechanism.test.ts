import { describe, expect, it } from 'vitest';
import { productionSources, readSource } from '../helpers/source-tree.js';

/**
 * One way to wait and one way to back off: production code awaits "this, or a deadline" with
 * `src/time/deadline.ts` (`finishedWithin`, `within`, `waitAtMost`, `deadlineSignal` with
 * `abortable`) and computes retry delays with `src/time/backoff.ts` (`cappedExponentialDelay`,
 * `fullJitterDelay`, `equalJitterDelay`, `jitteredInterval`, a named `BackoffPolicy`). A
 * hand-rolled `Promise.race(`, a private `2 **` / `Math.pow(2` formula or a hand-rolled sleep on the
 * clock (use `sleep(clock, ms)`) anywhere else fails here,
 * with the places it found.
 *
 * Comments are not code (they may name the formula); a doubling that is not a wait (page sizes
 * growing, say) says so with a comment containing `not a backoff` on its line or the line above.
 */
/** Besides what is not production: src/time/ is where the one mechanism lives. */
const ALSO_EXCLUDED = ['src/time/'];
const EXEMPT = /not a backoff/;

const MECHANISMS: { name: string; pattern: RegExp; instead: string }[] = [
  {
    name: 'hand-rolled race',
    pattern: /\bPromise\s*\.\s*race\s*\(/,
    instead: 'finishedWithin / within / waitAtMost / abortable (src/time/deadline.ts)',
  },
  {
    name: 'private exponential formula',
    pattern: /(?<![\w.])2\s*\*\*|\bMath\s*\.\s*pow\s*\(\s*2\b/,
    instead:
      'cappedExponentialDelay / fullJitterDelay / equalJitterDelay with a BackoffPolicy (src/time/backoff.ts)',
  },
  {
    name: 'hand-rolled sleep',
    pattern: /new\s+Promise\b.*\.schedule\s*\(|\.schedule\s*\(\s*resolve\s*,/,
    instead: 'sleep(clock, ms) (src/time/deadline.ts)',
  },
];

/** The source with comments blanked (line numbers kept). Strings are left alone: a `//` in one only hides code from the scan. */
function withoutComments(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** `path:line: code` for every use of `pattern` in `source` that no `not a backoff` comment exempts. */
function findUses(path: string, source: string, pattern: RegExp): string[] {
  const raw = source.split('\n');
  return withoutComments(source)
    .split('\n')
    .flatMap((line, i) =>
      pattern.test(line) && !EXEMPT.test(raw[i] ?? '') && !EXEMPT.test(raw[i - 1] ?? '')
        ? [`${path}:${i + 1}: ${line.trim()}`]
        : [],
    );
}

describe('one mechanism for each job', () => {
  it('finds what it looks for, and not in comments or exempted lines', () => {
    const source = [
      '/** Not Promise.race([a, b]), nor 2 ** n: */',
      'const x = await Promise.race([a, b]); // a race',
      'const d = Math.min(cap, base * 2 ** n);',
      'const e = Math.pow(2, n);',
      '// a comment: Promise.race(',
      '// not a backoff: pages grow',
      'const page = first * 2 ** n;',
      'const s = 12 ** 2;',
      'await new Promise((resolve) => clock.schedule(resolve, 50));',
      'return new Promise((r) => this.deps.clock.schedule(() => r(undefined), ms));',
      'const cancel = clock.schedule(() => tick(), ms);',
    ].join('\n');
    const [race, formula, sleeps] = MECHANISMS.map((m) => findUses('f.ts', source, m.pattern));
    expect(sleeps).toEqual([
      'f.ts:9: await new Promise((resolve) => clock.schedule(resolve, 50));',
      'f.ts:10: return new Promise((r) => this.deps.clock.schedule(() => r(undefined), ms));',
    ]);
    expect(race).toEqual(['f.ts:2: const x = await Promise.race([a, b]);']);
    expect(formula).toEqual([
      'f.ts:3: const d = Math.min(cap, base * 2 ** n);',
      'f.ts:4: const e = Math.pow(2, n);',
    ]);
  });

  const files = productionSources(ALSO_EXCLUDED);

  it('scans the production tree', () => {
    expect(files).toContain('src/app.ts');
    expect(files).toContain('commands/index.ts');
    expect(files.some((f) => f.startsWith('src/time/') || f.startsWith('src/sandbox/'))).toBe(false);
  });

  for (const { name, pattern, instead } of MECHANISMS) {
    it(`has no ${name} outside src/time (use ${instead})`, () => {
      const found = files.flatMap((file) => findUses(file, readSource(file), pattern));
      expect(found, `a ${name} in production code; use ${instead}`).toEqual([]);
    });
  }
});
