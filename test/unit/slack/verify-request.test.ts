import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkSlackHeaders,
  signSlackRequest,
  verifySlackRequest,
} from '../../../src/slack/verify-request.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const ts = (offsetSeconds = 0) => String(Math.floor(NOW / 1_000) + offsetSeconds);
const secretArb = fc.string({ minLength: 6, maxLength: 64 });

describe('signSlackRequest', () => {
  it('is Slack’s v0 HMAC-SHA256 of `v0:timestamp:body`, for any secret (the keys it keeps included)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 6, maxLength: 40, unit: 'grapheme' }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.uint8Array({ maxLength: 300 }),
        (secrets, bytes) => {
          const body = Buffer.from(bytes);
          // Twice each, past the number of keys it keeps: a kept key and a fresh one sign alike.
          for (const secret of [...secrets, ...secrets]) {
            const expected = createHmac('sha256', secret).update(`v0:${ts()}:`).update(body).digest('hex');
            expect(signSlackRequest(secret, ts(), body)).toBe(`v0=${expected}`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('verifySlackRequest', () => {
  it('accepts a body signed with any candidate secret, and says which', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2_000 }),
        fc.array(secretArb, { minLength: 1, maxLength: 3 }),
        fc.nat(),
        (bytes, secrets, pick) => {
          const body = Buffer.from(bytes);
          const index = pick % secrets.length;
          const signature = signSlackRequest(secrets[index] as string, ts(), body);
          const result = verifySlackRequest({ timestamp: ts(), signature, rawBody: body }, secrets, NOW);
          expect(result.ok).toBe(true);
          if (result.ok) expect(secrets[result.secretIndex]).toBe(secrets[index]);
        },
      ),
    );
  });

  it('refuses a changed body, a changed timestamp or another secret', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 500 }),
        secretArb,
        fc.nat(),
        (bytes, secret, at) => {
          const body = Buffer.from(bytes);
          const signature = signSlackRequest(secret, ts(), body);
          const flipped = Buffer.from(body);
          const i = at % flipped.length;
          flipped[i] = (flipped[i] as number) ^ 1;
          const bad = (rawBody: Buffer, timestamp: string, secrets: string[]) =>
            verifySlackRequest({ timestamp, signature, rawBody }, secrets, NOW);
          expect(bad(flipped, ts(), [secret])).toEqual({ ok: false, reason: 'bad_signature' });
          expect(bad(body, ts(-1), [secret])).toEqual({ ok: false, reason: 'bad_signature' });
          expect(bad(body, ts(), [`${secret}x`])).toEqual({ ok: false, reason: 'bad_signature' });
        },
      ),
    );
  });

  it('refuses requests older or newer than five minutes, before checking the signature', () => {
    const body = Buffer.from('token=x&command=%2Fgh');
    for (const offset of [-301, 301, -86_400]) {
      const signature = signSlackRequest('signing-secret', ts(offset), body);
      expect(
        verifySlackRequest({ timestamp: ts(offset), signature, rawBody: body }, ['signing-secret'], NOW),
      ).toEqual({
        ok: false,
        reason: 'stale',
      });
    }
    for (const offset of [-300, 0, 300]) {
      const signature = signSlackRequest('signing-secret', ts(offset), body);
      expect(
        verifySlackRequest({ timestamp: ts(offset), signature, rawBody: body }, ['signing-secret'], NOW).ok,
      ).toBe(true);
    }
  });

  it('refuses missing or malformed headers and having no secret, whatever the input', () => {
    const body = Buffer.from('x');
    expect(
      verifySlackRequest({ timestamp: undefined, signature: 'v0=00', rawBody: body }, ['s'], NOW),
    ).toEqual({
      ok: false,
      reason: 'missing_headers',
    });
    expect(verifySlackRequest({ timestamp: ts(), signature: 'v1=abc', rawBody: body }, ['s'], NOW)).toEqual({
      ok: false,
      reason: 'malformed_headers',
    });
    const signature = signSlackRequest('s', ts(), body);
    expect(verifySlackRequest({ timestamp: ts(), signature, rawBody: body }, [], NOW)).toEqual({
      ok: false,
      reason: 'no_secret',
    });
    fc.assert(
      fc.property(fc.option(fc.string()), fc.option(fc.string()), (timestamp, sig) => {
        const result = verifySlackRequest(
          { timestamp: timestamp ?? undefined, signature: sig ?? undefined, rawBody: body },
          ['s'],
          NOW,
        );
        expect(result.ok).toBe(false);
      }),
    );
  });

  it('says from the headers alone whether a request can be from Slack, as verification would', () => {
    const sig = `v0=${'ab'.repeat(32)}`;
    expect(checkSlackHeaders(ts(), sig, NOW)).toEqual({ ok: true });
    expect(checkSlackHeaders(undefined, sig, NOW)).toEqual({ ok: false, reason: 'missing_headers' });
    expect(checkSlackHeaders(ts(), undefined, NOW)).toEqual({ ok: false, reason: 'missing_headers' });
    expect(checkSlackHeaders(ts(), `v0=${'AB'.repeat(32)}`, NOW)).toEqual({
      ok: false,
      reason: 'malformed_headers',
    });
    expect(checkSlackHeaders(ts(), `${sig}0`, NOW)).toEqual({ ok: false, reason: 'malformed_headers' });
    expect(checkSlackHeaders('1e9', sig, NOW)).toEqual({ ok: false, reason: 'malformed_headers' });
    expect(checkSlackHeaders(ts(-301), sig, NOW)).toEqual({ ok: false, reason: 'stale' });
    expect(checkSlackHeaders(ts(301), sig, NOW)).toEqual({ ok: false, reason: 'stale' });
    // Whatever the headers, the early check refuses exactly what full verification refuses for them.
    fc.assert(
      fc.property(
        fc.option(fc.string()),
        fc.option(fc.string()),
        fc.integer({ min: -400, max: 400 }),
        (t, s, at) => {
          const timestamp = t ?? undefined;
          const signature = s ?? undefined;
          const early = checkSlackHeaders(timestamp, signature, NOW + at * 1_000);
          const full = verifySlackRequest(
            { timestamp, signature, rawBody: Buffer.from('x') },
            ['s'],
            NOW + at * 1_000,
          );
          if (!early.ok) expect(full).toEqual(early);
        },
      ),
    );
  });
});
