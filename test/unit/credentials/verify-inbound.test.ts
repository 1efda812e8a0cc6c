import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { constantTimeEquals } from '../../../src/credentials/verify-inbound.js';

describe('constantTimeEquals', () => {
  it('is string equality, for any lengths and any characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(constantTimeEquals(a, b)).toBe(a === b);
        expect(constantTimeEquals(a, a)).toBe(true);
      }),
    );
  });

  it('tells apart values that differ in one character or only in length', () => {
    expect(constantTimeEquals('webhook-secret-1', 'webhook-secret-2')).toBe(false);
    expect(constantTimeEquals('webhook-secret', 'webhook-secret ')).toBe(false);
    expect(constantTimeEquals('', '')).toBe(true);
  });
});
