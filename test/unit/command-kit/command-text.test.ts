import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_COMMAND_TEXT,
  plainFromSlack,
  type Token,
  tokenize,
} from '../../../src/command-kit/command-text.js';

const ok = (text: string): Token[] => {
  const result = tokenize(text);
  if (!result.ok) throw new Error(`expected tokens for ${JSON.stringify(text)}: ${result.problem}`);
  return result.tokens;
};
const problem = (text: string): string => {
  const result = tokenize(text);
  if (result.ok) throw new Error(`expected a problem for ${JSON.stringify(text)}`);
  return result.problem;
};

describe('tokenize', () => {
  it('reads words, flags, pairs and Slack-escaped mentions', () => {
    expect(ok('pr list acme/web --author <@U0DEV|dev> --limit=5')).toEqual([
      { kind: 'text', value: 'pr', quoted: false },
      { kind: 'text', value: 'list', quoted: false },
      { kind: 'text', value: 'acme/web', quoted: false },
      { kind: 'flag', name: 'author' },
      { kind: 'user', id: 'U0DEV', label: 'dev' },
      { kind: 'flag', name: 'limit', value: '5' },
    ]);
    expect(ok('create OPS "Fix the &lt;thing&gt; &amp; more" priority=P1')).toEqual([
      { kind: 'text', value: 'create', quoted: false },
      { kind: 'text', value: 'OPS', quoted: false },
      { kind: 'text', value: 'Fix the <thing> & more', quoted: true },
      { kind: 'pair', key: 'priority', value: 'P1' },
    ]);
    expect(ok('<#C0DEV|dev> <!subteam^S0PLAT|@platform> <!here> <https://x.io/a?b=1|docs>')).toEqual([
      { kind: 'channel', id: 'C0DEV', label: 'dev' },
      { kind: 'usergroup', id: 'S0PLAT', label: '@platform' },
      { kind: 'broadcast', name: 'here' },
      { kind: 'link', url: 'https://x.io/a?b=1', label: 'docs' },
    ]);
  });

  it('handles smart quotes, escapes, apostrophes, glued quotes and a bare --', () => {
    expect(ok('“smart quotes” ‘single ones’')).toEqual([
      { kind: 'text', value: 'smart quotes', quoted: true },
      { kind: 'text', value: 'single ones', quoted: true },
    ]);
    expect(ok('"say \\"hi\\" \\\\ bye"')).toEqual([{ kind: 'text', value: 'say "hi" \\ bye', quoted: true }]);
    expect(ok("don't")).toEqual([{ kind: 'text', value: "don't", quoted: false }]);
    expect(ok('a"b c"d')).toEqual([{ kind: 'text', value: 'ab cd', quoted: true }]);
    expect(ok('--command="gh:pr list"')).toEqual([{ kind: 'flag', name: 'command', value: 'gh:pr list' }]);
    expect(ok('-- --not-a-flag x=y')).toEqual([
      { kind: 'text', value: '--not-a-flag', quoted: false },
      { kind: 'text', value: 'x=y', quoted: false },
    ]);
    expect(ok('"multi\nline" body')).toEqual([
      { kind: 'text', value: 'multi\nline', quoted: true },
      { kind: 'text', value: 'body', quoted: false },
    ]);
  });

  it('reads mentions, broadcasts and links inside quotes or glued to a word as plain text', () => {
    expect(
      ok('"<!channel> deploy <@U0ADMIN|ada> <https://x.io|doc>" hello<@U123ABC> <!here>, x<#C0DEV|dev>'),
    ).toEqual([
      { kind: 'text', value: '@channel deploy @ada doc (https://x.io)', quoted: true },
      { kind: 'text', value: 'hello@U123ABC', quoted: false },
      { kind: 'text', value: '@here,', quoted: false },
      { kind: 'text', value: 'x#dev', quoted: false },
    ]);
    expect(ok('"<!subteam^S0PLAT|@platform> <!date^1392734382^{date}|Feb 18>"')).toEqual([
      { kind: 'text', value: '@platform Feb 18', quoted: true },
    ]);
    // Glued or not, an entity that is no mention, channel, broadcast or link is still refused.
    expect(problem('x<javascript:alert(1)>')).toContain('cannot read');
  });

  it('leaves no Slack markup in plain text made from any mix of words and entities (property)', () => {
    const piece = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9 .,:;!?@#/-]{0,12}$/),
      fc.constantFrom(
        '<!channel>',
        '<!here>',
        '<!everyone>',
        '<@U0ADMIN>',
        '<@U0DEV|dev>',
        '<#C0OPS|ops>',
        '<!subteam^S0PLAT|@platform>',
        '<https://evil.example|click here>',
        '<https://x.io>',
        '<mailto:a@b.c|mail>',
      ),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const plain = plainFromSlack(pieces.join(''));
        expect(plain).not.toMatch(/[<>]/);
        // A link's label never hides where it goes.
        if (pieces.includes('<https://evil.example|click here>'))
          expect(plain).toContain('click here (https://evil.example)');
      }),
    );
  });

  it('keeps text a user typed as &lt;@U1&gt; as text, not a mention', () => {
    expect(ok('&lt;@U123ABC&gt;')).toEqual([{ kind: 'text', value: '<@U123ABC>', quoted: false }]);
  });

  it('says what is wrong, briefly and without quoting the input', () => {
    expect(problem('pr "open')).toBe('Unbalanced quote: the quote at character 4 is never closed.');
    expect(problem('hi\u0007there')).toContain('control or direction-override character at position 3');
    expect(problem('abc\u202eevil')).toContain('position 4');
    expect(problem('<@lowercase>')).toContain('cannot read');
    expect(problem('<!nope>')).toContain('cannot read');
    expect(problem('x <#C1ABC')).toContain('never closed');
    // Slack reads a raw `<` as the start of a link or mention: the answer spells it as an entity.
    expect(problem('<')).toBe('There is a `&lt;` at character 1 that is never closed.');
    expect(problem('--9lives')).toContain('--name');
    expect(problem('x'.repeat(MAX_COMMAND_TEXT + 1))).toBe(
      'The command text is too long: at most 4000 characters.',
    );
    expect(problem('a '.repeat(101))).toBe('The command text has too many words: at most 100.');
    expect(problem('y'.repeat(10_240))).toContain('too long');
  });

  it('never throws; a problem is short, printable and quotes nothing (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        const result = tokenize(text);
        if (!result.ok) {
          expect(result.problem.length).toBeLessThanOrEqual(200);
          // biome-ignore lint/suspicious/noControlCharactersInRegex: checking for them
          expect(result.problem).not.toMatch(/[\u0000-\u001f<]/);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('round-trips words: quoting what needs it gives the same values back (property)', () => {
    const word = fc
      .stringMatching(/^[A-Za-z0-9./ -]{1,12}$/)
      .filter((w) => w.trim() !== '' && !w.startsWith('-'));
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 10 }), (words) => {
        const text = words.map((w) => (/\s/.test(w) || w.includes('=') ? `"${w}"` : w)).join(' ');
        const tokens = ok(text);
        expect(tokens.map((t) => (t.kind === 'text' ? t.value : '?'))).toEqual(words);
      }),
    );
  });
});
