import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_BREAK_GLASS_REASON, takeBreakGlass } from '../../../src/command-kit/break-glass.js';

/**
 * `--break-glass "<reason>"` taken out of any slash command's text (issue 26): the rest goes to
 * the command's grammar as usual, and without the flag the text is not touched.
 */
const SAY_WHY = 'Say why with the flag: `--break-glass "what is broken"`.';
const TWICE = '`--break-glass` is given twice.';
const TOO_LONG = `The break-glass reason is too long: at most ${MAX_BREAK_GLASS_REASON} characters.`;

describe('takeBreakGlass: examples', () => {
  it.each([
    ['double quotes', 'up large --break-glass "prod is down" --ttl 2h', 'up large --ttl 2h', 'prod is down'],
    ['single quotes', "up large --break-glass 'prod is down'", 'up large', 'prod is down'],
    ['smart double quotes', 'up large --break-glass \u201cprod is down\u201d', 'up large', 'prod is down'],
    ['smart single quotes', 'up --break-glass \u2018prod down\u2019 large', 'up large', 'prod down'],
    ['one word', 'up large --break-glass outage', 'up large', 'outage'],
    ['the = form', 'up large --break-glass=outage --ttl 2h', 'up large --ttl 2h', 'outage'],
    ['the = form, quoted', 'up --break-glass="prod is down" large', 'up large', 'prod is down'],
    ['at the start', '--break-glass "prod is down" up large', 'up large', 'prod is down'],
    ['in the middle', 'up --break-glass "x y" large --ttl 2h', 'up large --ttl 2h', 'x y'],
    ['alone', '--break-glass "prod is down"', '', 'prod is down'],
    ['after a tab and a no-break space', 'up\t--break-glass\u00a0outage large', 'up large', 'outage'],
    ['the reason trimmed', 'up --break-glass "  prod is down  "', 'up', 'prod is down'],
    [
      "Slack's entities decoded in the reason",
      'up --break-glass "<@U0ALICE|alice> says &lt;prod&gt; is down"',
      'up',
      '@alice says <prod> is down',
    ],
    ['a reason of exactly the limit', `up --break-glass "${'r'.repeat(200)}"`, 'up', 'r'.repeat(200)],
  ])('%s', (_, text, rest, reason) => {
    expect(takeBreakGlass(text)).toEqual({ ok: true, text: rest, reason });
  });

  it.each([
    ['no reason, at the end', 'up large --break-glass'],
    ['no reason, before another word that is a flag', 'up --break-glass --ttl 2h'],
    ['an empty quoted reason', 'up --break-glass "" large'],
    ['a blank quoted reason', 'up --break-glass "   " large'],
    ['a quoted reason that is a flag', 'up --break-glass "--force"'],
    ['an unterminated quote', 'up --break-glass "prod is down'],
    ['the = form with nothing after it', 'up --break-glass= large'],
    ['the = form at the very end', 'up large --break-glass='],
    ['the = form with an unterminated quote', 'up --break-glass="prod is down'],
    ['the = form with a quote run into a word', "up --break-glass='prod'down"],
  ])('refuses %s and says how to give one', (_, text) => {
    expect(takeBreakGlass(text)).toEqual({ ok: false, problem: SAY_WHY });
  });

  it('refuses the flag given twice', () => {
    expect(takeBreakGlass('up --break-glass a large --break-glass "b c"')).toEqual({
      ok: false,
      problem: TWICE,
    });
    expect(takeBreakGlass('--break-glass=a --break-glass=b')).toEqual({ ok: false, problem: TWICE });
  });

  it(`refuses a reason longer than ${MAX_BREAK_GLASS_REASON} characters (after decoding and trimming)`, () => {
    expect(takeBreakGlass(`up --break-glass "${'r'.repeat(201)}"`)).toEqual({ ok: false, problem: TOO_LONG });
    // `&amp;` is one character once decoded: 200 of them fit.
    expect(takeBreakGlass(`up --break-glass "${'&amp;'.repeat(200)}"`)).toEqual({
      ok: true,
      text: 'up',
      reason: '&'.repeat(200),
    });
  });

  it.each([
    ['a longer flag name', 'up --break-glassy "x"'],
    ['the flag inside a word', 'up x--break-glass "x"'],
    ['a single dash', 'up -break-glass "x"'],
    ['no flag at all', '  up   large\t--ttl  2h  '],
    ['empty text', ''],
  ])('leaves %s untouched', (_, text) => {
    expect(takeBreakGlass(text)).toEqual({ ok: true, text });
  });
});

/** Whitespace the function treats as a word boundary, and a word without any whitespace (by `\s`). */
const SEPARATORS = [' ', '  ', '\t', '\n', '\r\n', '\u00a0'];
const separatorArb = fc.constantFrom(...SEPARATORS);
const wordArb = fc
  .string({ minLength: 1, maxLength: 12, unit: fc.constantFrom(...'abc-=_/.:"\'\u201c<>&@#1é'.split('')) })
  .filter((w) => !/\s/.test(w));
/** A command's text without the flag: words joined by any mix of separators, maybe padded. */
const textArb = fc
  .tuple(fc.array(fc.tuple(wordArb, separatorArb), { maxLength: 8 }), fc.option(separatorArb, { nil: '' }))
  .map(([pairs, lead]) => lead + pairs.map(([w, s]) => w + s).join(''))
  .filter((t) => !t.includes('--break-glass'));
/** A reason a person types: printable, no double quote or Slack entity characters, trimmed, not a flag. */
const reasonArb = fc
  .string({ minLength: 1, maxLength: MAX_BREAK_GLASS_REASON, unit: 'grapheme' })
  .map((r) => r.replace(/["<>&\p{C}\u2028\u2029]/gu, 'x'))
  .map((r) => r.trim())
  .filter((r) => r.length > 0 && r.length <= MAX_BREAK_GLASS_REASON && !r.startsWith('--'));

const words = (text: string) => text.split(/\s+/).filter((w) => w !== '');

/** The positions at which a word ends in `text` (and 0): where a flag may be put. */
function boundaries(text: string): number[] {
  const at = [0];
  for (const match of text.matchAll(/\S+/g)) at.push((match.index ?? 0) + match[0].length);
  return at;
}

describe('takeBreakGlass: properties', () => {
  it('gives back text without the flag exactly as it was', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        expect(takeBreakGlass(text)).toEqual({ ok: true, text });
      }),
    );
  });

  it('finds a quoted reason put at any word boundary, and gives back the same words around it', () => {
    fc.assert(
      fc.property(textArb, reasonArb, fc.nat(), (text, reason, pick) => {
        const places = boundaries(text);
        const at = places[pick % places.length] as number;
        const flag = `--break-glass "${reason}"`;
        const withFlag = at === 0 ? `${flag} ${text}` : `${text.slice(0, at)} ${flag}${text.slice(at)}`;
        const taken = takeBreakGlass(withFlag);
        expect(taken).toMatchObject({ ok: true, reason });
        if (!taken.ok) return;
        expect(words(taken.text)).toEqual(words(text));
        // Normalised as documented: no padding, no run of spaces or tabs.
        expect(taken.text).toBe(taken.text.trim());
        expect(taken.text).not.toMatch(/[ \t]{2}/);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws, and an answer is always one of its two shapes', () => {
    const tokenArb = fc.constantFrom(
      '--break-glass',
      '--break-glass=',
      '"',
      "'",
      '\u201c',
      '\u201d',
      '\u2018',
      '\u2019',
      ' ',
      '\t',
      '\u00a0',
      '=',
      '--',
      'x',
      '&lt;',
      '<@U1|a>',
    );
    const arbitrary = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.array(tokenArb, { maxLength: 30 }).map((t) => t.join('')),
    );
    fc.assert(
      fc.property(arbitrary, (text) => {
        const taken = takeBreakGlass(text);
        if (taken.ok) {
          expect(typeof taken.text).toBe('string');
          if (taken.reason !== undefined) {
            expect(taken.reason.length).toBeGreaterThan(0);
            expect(taken.reason.length).toBeLessThanOrEqual(MAX_BREAK_GLASS_REASON);
            expect(taken.reason).toBe(taken.reason.trim());
          } else expect(taken.text).toBe(text);
        } else expect([SAY_WHY, TWICE, TOO_LONG]).toContain(taken.problem);
      }),
      { numRuns: 1_000 },
    );
  });
});
