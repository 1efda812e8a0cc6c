import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  parseDuration,
  parseEnum,
  parseHttpUrl,
  parseInteger,
} from '../../../src/config/parsers.js';

describe('parseInteger', () => {
  const range = fc
    .tuple(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: -1e9, max: 1e9 }))
    .map(([a, b]) => ({ min: Math.min(a, b), max: Math.max(a, b) }));

  it('reads back every integer in range, with or without spaces or a plus sign', () => {
    fc.assert(
      fc.property(range, fc.double(), fc.constantFrom('', ' ', '\t'), (r, t, pad) => {
        const n = Math.round(r.min + (r.max - r.min) * (Number.isFinite(t) ? Math.abs(t) % 1 : 0));
        const text = `${pad}${n >= 0 && pad ? '+' : ''}${n}${pad}`;
        expect(parseInteger(text, r)).toEqual({ ok: true, value: n });
      }),
    );
  });

  it('rejects every integer outside the range', () => {
    fc.assert(
      fc.property(range, fc.integer({ min: 1, max: 1e6 }), fc.boolean(), (r, d, below) => {
        const n = below ? r.min - d : r.max + d;
        expect(parseInteger(String(n), r).ok).toBe(false);
      }),
    );
  });

  it('never throws, and accepts only plain decimal integers', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        const result = parseInteger(text, { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
        if (result.ok) {
          expect(text.trim()).toMatch(/^[+-]?\d+$/);
          expect(result.value).toBe(Number(text.trim()));
        }
      }),
    );
  });

  it('rejects the usual lookalikes', () => {
    for (const text of ['', '1.5', '1e3', '0x10', '12abc', '1 2', 'NaN', 'Infinity', '-', '٣']) {
      expect(parseInteger(text, { min: -100, max: 10_000 }).ok, text).toBe(false);
    }
  });
});

describe('parseEnum', () => {
  const values = ['aws', 'file', 'env'] as const;

  it('accepts exactly the members, ignoring case and surrounding space', () => {
    fc.assert(
      fc.property(fc.constantFrom(...values), fc.boolean(), (v, upper) => {
        expect(parseEnum(` ${upper ? v.toUpperCase() : v} `, values)).toEqual({ ok: true, value: v });
      }),
    );
  });

  it('rejects everything else and lists the choices', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (text) => {
        fc.pre(!values.includes(text.trim().toLowerCase() as (typeof values)[number]));
        expect(parseEnum(text, values)).toEqual({ ok: false, expected: 'one of aws, file, env' });
      }),
    );
  });
});

describe('parseDuration', () => {
  it('reads back what formatDuration writes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9_999 * 86_400 }), (seconds) => {
        expect(parseDuration(formatDuration(seconds * 1000))).toEqual({ ok: true, value: seconds * 1000 });
      }),
    );
  });

  it('reads the usual forms', () => {
    expect(parseDuration('4h')).toEqual({ ok: true, value: 4 * 3_600_000 });
    expect(parseDuration('1h30m')).toEqual({ ok: true, value: 90 * 60_000 });
    expect(parseDuration('90s')).toEqual({ ok: true, value: 90_000 });
    expect(parseDuration('1d')).toEqual({ ok: true, value: 86_400_000 });
  });

  it('rejects zero, bad order, unknown units and bounds', () => {
    for (const text of ['', '0h', '30m4h', '4', '4x', 'h', '-1h', '1.5h'])
      expect(parseDuration(text).ok, text).toBe(false);
    expect(parseDuration('25h', { maxMs: 24 * 3_600_000 }).ok).toBe(false);
    expect(parseDuration('1m', { minMs: 5 * 60_000 }).ok).toBe(false);
  });

  it('never throws', () => {
    fc.assert(fc.property(fc.string({ maxLength: 20 }), (text) => void parseDuration(text)));
  });
});

describe('parseHttpUrl', () => {
  it('accepts http(s) URLs and strips a trailing slash', () => {
    expect(parseHttpUrl('http://127.0.0.1:8080/')).toEqual({ ok: true, value: 'http://127.0.0.1:8080' });
    expect(parseHttpUrl('https://acme.atlassian.net')).toEqual({
      ok: true,
      value: 'https://acme.atlassian.net',
    });
  });

  it('rejects other schemes, relative URLs and embedded credentials', () => {
    for (const text of ['ftp://x', 'acme.atlassian.net', 'https://user:pw@host', 'javascript:alert(1)', '']) {
      expect(parseHttpUrl(text).ok, text).toBe(false);
    }
  });
});
