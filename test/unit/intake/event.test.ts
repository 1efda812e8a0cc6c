import { describe, expect, it } from 'vitest';
import { bodyOf, headerOf, resultOf, webhookRequestOf } from '../../../src/intake/event.js';

/** The intake function's mapping of function URL / HTTP API (2.0) events to the webhook core and back. */

const event = (over: Record<string, unknown> = {}) => ({
  rawPath: '/webhooks/datadog',
  headers: { 'x-opsbot-webhook-secret': 'presented' },
  body: '{"a":1}',
  isBase64Encoded: false,
  requestContext: { http: { method: 'POST' } },
  ...over,
});

describe('webhookRequestOf', () => {
  it('hands POST /webhooks/datadog to the core with its secret header and a bounded body', async () => {
    const mapped = webhookRequestOf(event());
    if (!mapped.ok) throw new Error('refused');
    expect(mapped.request.secret).toBe('presented');
    expect((await mapped.request.body(1_000)).toString()).toBe('{"a":1}');
    expect(await mapped.request.body(3)).toBe('too_large');
  });

  it('decodes a base64 body and finds the header whatever its case; no header is undefined', async () => {
    const mapped = webhookRequestOf(
      event({
        headers: { 'X-Opsbot-Webhook-Secret': 'upper' },
        body: Buffer.from('{"é":1}').toString('base64'),
        isBase64Encoded: true,
      }),
    );
    if (!mapped.ok) throw new Error('refused');
    expect(mapped.request.secret).toBe('upper');
    expect((await mapped.request.body(100)).toString()).toBe('{"é":1}');
    const bare = webhookRequestOf(event({ headers: undefined, body: undefined }));
    if (!bare.ok) throw new Error('refused');
    expect(bare.request.secret).toBeUndefined();
    expect((await bare.request.body(10)).length).toBe(0);
  });

  it('answers other paths 404 and other methods 405 as the bot does, and what is no HTTP event 400', () => {
    expect(webhookRequestOf(event({ rawPath: '/webhooks/datadog/' }))).toMatchObject({
      ok: false,
      result: { statusCode: 404, body: 'not found\n' },
    });
    expect(webhookRequestOf(event({ requestContext: { http: { method: 'GET' } } }))).toMatchObject({
      ok: false,
      result: { statusCode: 405, body: 'method not allowed\n', headers: { allow: 'POST' } },
    });
    for (const bad of [
      undefined,
      'x',
      {},
      { ...event(), requestContext: {} },
      { ...event(), headers: { a: 1 } },
    ])
      expect(webhookRequestOf(bad)).toMatchObject({ ok: false, result: { statusCode: 400 } });
  });
});

describe('bodyOf', () => {
  it('refuses a base64 body too long to fit before decoding it, and one that decodes too long', () => {
    expect(bodyOf('a'.repeat(1_000), true, 10)).toBe('too_large');
    expect(bodyOf(Buffer.alloc(11).toString('base64'), true, 10)).toBe('too_large');
    expect(bodyOf(Buffer.alloc(10).toString('base64'), true, 10)).toEqual(Buffer.alloc(10));
    // Bytes, not characters: two-byte characters count twice.
    expect(bodyOf('éé', false, 3)).toBe('too_large');
  });
});

describe('resultOf and headerOf', () => {
  it('answers JSON with a Retry-After on a 503', () => {
    expect(resultOf({ status: 202, body: { status: 'accepted' } })).toEqual({
      statusCode: 202,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: '{"status":"accepted"}\n',
    });
    expect(resultOf({ status: 503, body: { error: 'not_ready' }, retryAfterSeconds: 5 }).headers).toEqual({
      'content-type': 'application/json; charset=utf-8',
      'retry-after': '5',
    });
    expect(headerOf({ A: '1', b: '2' }, 'a')).toBe('1');
  });
});
