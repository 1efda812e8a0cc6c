import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSlackBody } from '../../../src/slack/parse-slack-body.js';

const FORM = 'application/x-www-form-urlencoded';

/** What the WHATWG parser makes of a form body: the model (last value of a repeated field wins). */
function model(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(text)) out[key] = value;
  return out;
}

const field = fc.string({
  unit: fc.constantFrom('a', 'b', 'c', '+', '%', '2', '0', 'F', '&', '=', ' ', 'é', '<', '@'),
  maxLength: 8,
});

describe('parseSlackBody', () => {
  it('reads a form body as the WHATWG URL parser does (+, %XX, repeats, empty values)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(field, field), { maxLength: 12 }), (pairs) => {
        const text = [
          'command=/gh',
          ...pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v).replace(/%20/g, '+')}`),
        ].join('&');
        const parsed = parseSlackBody(Buffer.from(text), FORM);
        expect(parsed.ok).toBe(true);
        if (parsed.ok) expect({ ...parsed.body }).toEqual(model(text));
      }),
      { numRuns: 300 },
    );
  });

  it('decodes + and %XX like Slack sends them, and keeps the last of a repeated field', () => {
    const parsed = parseSlackBody(Buffer.from('command=%2Fgh&text=pr+list+acme%2Fweb&text=issue+list'), FORM);
    expect(parsed).toEqual({
      ok: true,
      body: expect.objectContaining({ command: '/gh', text: 'issue list' }),
    });
  });

  it('refuses more than 100 fields, a form with neither command nor payload, and other content types', () => {
    const many = Array.from({ length: 101 }, (_, i) => `f${i}=x`).join('&');
    expect(parseSlackBody(Buffer.from(`command=/gh&${many}`), FORM)).toEqual({
      ok: false,
      problem: 'too many form fields',
    });
    expect(parseSlackBody(Buffer.from('text=hi'), FORM).ok).toBe(false);
    expect(parseSlackBody(Buffer.from('{}'), 'text/plain').ok).toBe(false);
  });

  it('reads the payload field of an interaction as JSON; a __proto__ field changes no prototype', () => {
    const payload = encodeURIComponent(JSON.stringify({ type: 'block_actions', actions: [] }));
    expect(parseSlackBody(Buffer.from(`payload=${payload}`), FORM)).toEqual({
      ok: true,
      body: { type: 'block_actions', actions: [] },
    });
    const parsed = parseSlackBody(Buffer.from('command=/gh&__proto__=x&constructor=y'), FORM);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(Object.getPrototypeOf(parsed.body)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});
