import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  channelMention,
  escapeText,
  inlineCode,
  truncate,
  usergroupMention,
  userMention,
} from '../../../src/text/escape.js';

const decodeSlack = (s: string) =>
  s
    .replace(/\u200b/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

describe('escapeText', () => {
  it('turns mentions and broadcasts into plain text', () => {
    expect(escapeText('<!channel> ping <@U123> & <#C1|x>')).toBe(
      '&lt;!channel&gt; ping &lt;@U123&gt; &amp; &lt;#C1|x&gt;',
    );
    expect(escapeText('hey @here and @channel')).toBe('hey @\u200bhere and @\u200bchannel');
  });

  it('leaves no angle brackets and no live broadcast, and round-trips (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const out = escapeText(s.replace(/\u200b/g, ''));
        expect(out).not.toMatch(/[<>]/);
        expect(out).not.toMatch(/@(channel|here|everyone)\b/i);
        expect(decodeSlack(out)).toBe(s.replace(/\u200b/g, ''));
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('truncate and inlineCode', () => {
  it('bounds the length and never leaves a lone surrogate (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 100 }),
        fc.integer({ min: 1, max: 60 }),
        (s, max) => {
          const out = truncate(s, max);
          expect(out.length).toBeLessThanOrEqual(Math.max(max, 0));
          if (out !== s) expect(out.endsWith('…')).toBe(true);
          const body = out.endsWith('…') && out !== s ? out.slice(0, -1) : out;
          const last = body.charCodeAt(body.length - 1);
          if (body !== s) expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
        },
      ),
    );
  });

  it('makes inline code nothing can break out of: one backtick pair, one line, no entity (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 120 }),
        fc.integer({ min: 1, max: 100 }),
        (s, max) => {
          const out = inlineCode(s, max);
          expect(out.startsWith('`') && out.endsWith('`')).toBe(true);
          const inner = out.slice(1, -1);
          expect(inner).not.toContain('`');
          expect(inner.length).toBeGreaterThan(0); // "``" is not code in Slack
          // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may be left
          expect(inner).not.toMatch(/[<>\r\n\u2028\u2029\u0000-\u001f\u007f-\u009f]/);
          expect(inner).not.toMatch(/@(channel|here|everyone)\b/i);
          expect(inner.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
        },
      ),
      { numRuns: 1_000 },
    );
    expect(inlineCode('')).toBe('`\u00a0`');
    expect(inlineCode('a\u2028b')).toBe('`a b`');
  });

  it('makes one escaped line of code', () => {
    expect(inlineCode('a`b\n<!here>')).toBe('`aˋb &lt;!here&gt;`');
    expect(inlineCode('x'.repeat(100), 10)).toBe(`\`${'x'.repeat(9)}…\``);
  });
});

describe('mentions', () => {
  it('builds mentions only from valid ids', () => {
    expect(userMention('U0DEV')).toBe('<@U0DEV>');
    expect(channelMention('C0DEV')).toBe('<#C0DEV>');
    expect(usergroupMention('S0PLAT')).toBe('<!subteam^S0PLAT>');
    expect(() => userMention('U0DEV> <!channel')).toThrow(TypeError);
    expect(() => channelMention('here')).toThrow(TypeError);
    expect(() => usergroupMention('S1|x')).toThrow(TypeError);
  });
});
