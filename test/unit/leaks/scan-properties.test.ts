import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LEAK_RULES } from '../../../src/leaks/rules.js';
import { MAX_FINDINGS, scanText } from '../../../src/leaks/scan.js';
import { sampleOf, TOKEN_SHAPES } from './corpus.js';

/** Text around a token that cannot glue onto it: words of letters with spaces and punctuation between. */
const filler = fc
  .array(fc.oneof(fc.stringMatching(/^[a-z]{1,12}$/), fc.constantFrom(' ', '. ', ', ', '\n', ' (', ') ')), {
    maxLength: 40,
  })
  .map((parts) => parts.join(''))
  .map((text) => `${text} `.replace(/^/, ' '));

/** Shapes that need no words around them: everything the generic and keyword-gated rules do not cover. */
const STANDALONE = TOKEN_SHAPES.filter(
  (s) =>
    ![
      'generic-secret',
      'bearer-token',
      'aws-secret-access-key',
      'datadog-api-key',
      'datadog-application-key',
    ].includes(s.kind),
);

/** Alphabets the rules read, to build near misses and long runs. */
const ALPHABET = fc.constantFrom(
  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  '0123456789abcdef',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567',
  'abcdefABCDEF0123456789-_=+/',
  'xob-pa_ghsur:=',
);
const PREFIXES = fc.constantFrom(
  'xoxb-',
  'xoxe.xoxp-',
  'xapp-',
  'ghp_',
  'github_pat_',
  'AKIA',
  'ATATT3',
  '-----BEGIN RSA PRIVATE KEY-----',
  'eyJ',
  'eyJhbGciOiJIUzI1NiJ9.eyJ',
  'Bearer ',
  'password=',
  'DD_API_KEY=',
  'hooks.slack.com/services/',
  'aws_secret_access_key=',
);

/** Adversarial text: prefixes, long runs of a rule's alphabet, near misses (one character short or wrong). */
const adversarial = fc
  .array(
    fc.oneof(
      PREFIXES,
      fc
        .tuple(ALPHABET, fc.integer({ min: 1, max: 600 }))
        .map(([alphabet, n]) =>
          Array.from({ length: n }, (_, i) => alphabet[(i * 7 + n) % alphabet.length]).join(''),
        ),
      fc.tuple(PREFIXES, fc.integer({ min: 1, max: 300 })).map(([p, n]) => p.repeat(n)),
      fc.string({ maxLength: 50 }),
    ),
    { maxLength: 30 },
  )
  .map((parts) => parts.join(''));

function assertWellFormed(text: string) {
  const found = scanText(text);
  expect(found.length).toBeLessThanOrEqual(MAX_FINDINGS);
  let previousEnd = 0;
  for (const f of found) {
    expect(Number.isInteger(f.start) && Number.isInteger(f.end)).toBe(true);
    expect(f.start).toBeGreaterThanOrEqual(previousEnd);
    expect(f.end).toBeGreaterThan(f.start);
    expect(f.end).toBeLessThanOrEqual(text.length);
    expect(LEAK_RULES.some((r) => r.kind === f.kind && r.title === f.title)).toBe(true);
    previousEnd = f.end;
  }
}

describe('scanText (properties)', () => {
  it('never throws, and every finding is a known kind with offsets inside the text, in order, apart', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 1_000 }), (text) => assertWellFormed(text)),
      { numRuns: 500 },
    );
  });

  it('stays bounded on adversarial text: long runs of a rule alphabet, repeated prefixes, near misses', () => {
    fc.assert(
      fc.property(adversarial, (text) => assertWellFormed(text)),
      { numRuns: 300 },
    );
  });

  it("stays bounded on 40,000 characters (Slack's limit) of each prefix and run, and returns", () => {
    fc.assert(
      fc.property(PREFIXES, ALPHABET, (prefix, alphabet) => {
        const unit = `${prefix}${alphabet.slice(0, 30)}`;
        assertWellFormed(unit.repeat(Math.ceil(40_000 / unit.length)).slice(0, 40_000));
        assertWellFormed(prefix + alphabet.repeat(Math.ceil(40_000 / alphabet.length)).slice(0, 40_000));
      }),
      { numRuns: 60 },
    );
  });

  it('finds a generated token anywhere in random text, with the right kind and offsets', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STANDALONE), filler, filler, (shape, before, after) => {
        const sample = sampleOf(shape, before, after);
        const found = scanText(sample.text);
        expect(found).toContainEqual(
          expect.objectContaining({ kind: sample.kind, start: sample.start, end: sample.end }),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('does not find a token one character short of its shape', () => {
    const short = TOKEN_SHAPES.filter((s) =>
      /^(github-(personal|oauth|user|app)-token|aws-access-key-id)$/.test(s.kind),
    );
    fc.assert(
      fc.property(fc.constantFrom(...short), filler, (shape, around) => {
        const { value } = shape.make();
        const text = `${around}${value.slice(0, -1)}${around}`;
        expect(scanText(text).map((f) => f.kind)).not.toContain(shape.kind);
      }),
      { numRuns: 200 },
    );
  });
});
