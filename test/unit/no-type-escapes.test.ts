import { describe, expect, it } from 'vitest';
import { productionSources, readSource } from '../helpers/source-tree.js';

/**
 * Library types stay at the boundaries (src/ARCHITECTURE.md, "House rules"): production code never
 * switches the type checker off with `as never`, `as any`, or a ts-ignore / ts-expect-error comment. The
 * casts are looked for in the code with comments, strings and regular expressions blanked out (a
 * comment saying "has any" or "as never before" is not a cast); the directives in the comments.
 * The sandbox, the console and the tests are not production.
 */

/** After these (or at the start), a `/` starts a regular expression rather than a division. */
const BEFORE_REGEX =
  /(?:^|[(,=:[!&|?{};+\-*%<>~^]|\b(?:return|typeof|case|in|of|delete|void|throw|new|else|do|yield|await))\s*$/;

/**
 * The text split into code and comments, both the same length as the text with newlines kept:
 * in `code` comments and the insides of strings, templates and regular expressions are spaces
 * (a template's `${…}` stays code); `comments` holds only the comments.
 */
function lex(text: string): { code: string; comments: string } {
  const code = [...text];
  const comments: string[] = [...text].map((c) => (c === '\n' ? c : ' '));
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (code[k] !== '\n') code[k] = ' ';
  };
  /** Braces open in each `${…}` of the templates we are inside. */
  const templates: number[] = [];
  let i = 0;
  const skipQuoted = (quote: string): number => {
    let j = i + 1;
    while (j < text.length && text[j] !== quote && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
    return j + 1;
  };
  /** From inside a template's text, to just after its closing backtick or at its next `${`. */
  const templateText = (from: number): number => {
    let j = from;
    while (j < text.length) {
      if (text[j] === '\\') j += 2;
      else if (text[j] === '`') return j + 1;
      else if (text[j] === '$' && text[j + 1] === '{') {
        templates.push(0);
        return j + 2;
      } else j += 1;
    }
    return j;
  };
  while (i < text.length) {
    const c = text[i] as string;
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i) === -1 ? text.length : text.indexOf('\n', i);
      for (let k = i; k < end; k++) comments[k] = text[k] as string;
      blank(i, end);
      i = end;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2) === -1 ? text.length : text.indexOf('*/', i + 2) + 2;
      for (let k = i; k < end; k++) comments[k] = text[k] as string;
      blank(i, end);
      i = end;
    } else if (c === "'" || c === '"') {
      const end = skipQuoted(c);
      blank(i + 1, end - 1);
      i = end;
    } else if (c === '`') {
      const end = templateText(i + 1);
      blank(i + 1, end - 1);
      i = end;
    } else if (c === '{' && templates.length > 0) {
      templates[templates.length - 1] = (templates.at(-1) as number) + 1;
      i += 1;
    } else if (c === '}' && templates.length > 0) {
      if (templates.at(-1) === 0) {
        templates.pop();
        const end = templateText(i + 1);
        blank(i + 1, end - 1);
        i = end;
      } else {
        templates[templates.length - 1] = (templates.at(-1) as number) - 1;
        i += 1;
      }
    } else if (c === '/' && BEFORE_REGEX.test(code.slice(Math.max(0, i - 20), i).join(''))) {
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== '\n' && (inClass || text[j] !== '/')) {
        if (text[j] === '\\') j += 1;
        else if (text[j] === '[') inClass = true;
        else if (text[j] === ']') inClass = false;
        j += 1;
      }
      blank(i + 1, j);
      i = j + 1;
    } else i += 1;
  }
  return { code: code.join(''), comments: comments.join('') };
}

const CAST = /\bas\s+(never|any)\b/g;
const DIRECTIVE = /@ts-(ignore|expect-error|nocheck)\b/g;

/** Every type escape in a file's text, as `line: what`, in order. */
function typeEscapes(text: string): string[] {
  const { code, comments } = lex(text);
  const lineOf = (index: number) => text.slice(0, index).split('\n').length;
  return [
    ...[...code.matchAll(CAST)].map((m) => ({ at: m.index, what: m[0] })),
    ...[...comments.matchAll(DIRECTIVE)].map((m) => ({ at: m.index, what: m[0] })),
  ]
    .sort((a, b) => a.at - b.at)
    .map((e) => `${lineOf(e.at)}: ${e.what}`);
}

const PRODUCTION = productionSources();

describe('no type escapes in production code', () => {
  it('finds the casts and directives it is meant to find, and nothing in prose, strings or patterns', () => {
    const sample = [
      'const a = x as never;',
      'const b = (y as  any).z;',
      '// @ts-ignore',
      'f(/* @ts-expect-error */ 1);',
      '// the secret was never logged, and has anything but a token as never before',
      'const s = \'as never\' + "as any";',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a template literal's source text, on purpose
      'const t = `as never ${u as any} as never`;',
      'const r = /[\'"`]as never/.test(v) ? a / b : c / d as never;',
      'const d = x as unknown as string; type N = never; const e: any = 1;',
      '/* a block',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a template literal's source text, on purpose
      '   as never */ const f = `${`${g as never}`}`;',
    ].join('\n');
    expect(typeEscapes(sample)).toEqual([
      '1: as never',
      '2: as  any',
      '3: @ts-ignore',
      '4: @ts-expect-error',
      '7: as any',
      '8: as never',
      '11: as never',
    ]);
  });

  it('finds the production files', () => {
    expect(PRODUCTION.length).toBeGreaterThan(100);
    expect(PRODUCTION).toContain('src/slack/listeners/interactions.ts');
    expect(PRODUCTION).toContain('commands/jira.ts');
    expect(PRODUCTION.some((f) => f.startsWith('src/sandbox/'))).toBe(false);
  });

  it('has no `as never`, `as any`, `@ts-ignore` or `@ts-expect-error` in src/ or commands/', () => {
    const found = PRODUCTION.flatMap((file) => typeEscapes(readSource(file)).map((e) => `${file}:${e}`));
    expect(found).toEqual([]);
  });
});
