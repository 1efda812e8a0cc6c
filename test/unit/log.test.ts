import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, SecretRedactor } from '../../src/log.js';
import { assertNoCanary, bareCanary, canary } from '../helpers/canary.js';
import { captureLogs } from '../helpers/log-capture.js';

describe('log redaction', () => {
  it('masks a registered secret in the message, in fields and in nested objects', () => {
    const capture = captureLogs();
    const token = canary('xoxb');
    capture.redactor.register(token);
    capture.log.info({ headers: { authorization: `Bearer ${token}` }, list: [token] }, `token is ${token}`);
    const [record] = capture.records();
    expect(record?.msg).toBe(`token is ${REDACTED}`);
    expect(record?.headers).toEqual({ authorization: `Bearer ${REDACTED}` });
    expect(record?.list).toEqual([REDACTED]);
    assertNoCanary({ logs: capture.text() }, [token]);
  });

  it("masks a secret inside an error's message, stack trace and cause chain", () => {
    const capture = captureLogs();
    const apiKey = bareCanary(); // Datadog keys carry no prefix: only the registry can find them
    capture.redactor.register(apiKey);
    const cause = new Error(`upstream said key ${apiKey} is invalid`);
    const error = new Error(`call failed with ${apiKey}`, { cause });
    expect(error.stack).toContain(apiKey);
    capture.log.error({ err: error }, 'Datadog call failed');
    const text = capture.text();
    expect(text).not.toContain(apiKey);
    const record = capture.records()[0] as { err: { message: string; stack: string } };
    expect(record.err.message).toBe(`call failed with ${REDACTED}`);
    expect(record.err.stack).toContain(REDACTED);
    expect(text).toContain(`upstream said key ${REDACTED} is invalid`);
  });

  it('masks a multi-line PEM private key however it is serialized', () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const capture = captureLogs();
    capture.redactor.register(privateKey);
    capture.log.warn({ secret: { privateKey } }, 'as a field');
    capture.log.warn(`inline ${privateKey}`);
    const someLine = privateKey.split('\n')[3] as string;
    capture.log.warn(`one line of it: ${someLine}`);
    const text = capture.text();
    for (const line of privateKey.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'))) {
      expect(text).not.toContain(line);
    }
    expect(capture.records()).toHaveLength(3);
  });

  it('masks the longer of two overlapping secrets whole', () => {
    const redactor = new SecretRedactor();
    const short = canary('a');
    redactor.register(short);
    redactor.register(`${short}-extended`);
    expect(redactor.redact(`x ${short}-extended y ${short}`)).toBe(`x ${REDACTED} y ${REDACTED}`);
  });

  it('refuses values too short to mask safely and leaves ordinary text alone', () => {
    const redactor = new SecretRedactor();
    expect(redactor.register('abc')).toBe(false);
    expect(redactor.redact('abc abc')).toBe('abc abc');
    expect(redactor.size).toBe(0);
  });

  it('masks secrets containing characters JSON escapes', () => {
    const capture = captureLogs();
    const tricky = `p"a\\ss\t${canary('pw')}`;
    capture.redactor.register(tricky);
    capture.log.info({ tricky }, 'tricky');
    expect(capture.text()).not.toContain(JSON.stringify(tricky).slice(1, -1));
    assertNoCanary({ logs: capture.text() });
  });
});

describe('encoded forms of a registered value', () => {
  // An AWS-style secret: base64 and URL encoding both change it ('/', '+').
  const secret = () => `${bareCanary(12)}/Zx+${bareCanary(12)}`;
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const b64url = (text: string) => Buffer.from(text).toString('base64url');

  it('masks base64 and base64url of the value whole', () => {
    const redactor = new SecretRedactor();
    const value = secret();
    redactor.register(value);
    expect(redactor.redact(`x ${b64(value)} y`)).toBe(`x ${REDACTED} y`);
    expect(redactor.redact(`x ${b64url(value)} y`)).toBe(`x ${REDACTED} y`);
  });

  it('masks URL-encoded forms, with upper- or lower-case escapes', () => {
    const redactor = new SecretRedactor();
    const value = secret();
    redactor.register(value);
    const encoded = encodeURIComponent(value);
    expect(encoded).not.toBe(value);
    expect(redactor.redact(`?key=${encoded}&x=1`)).toBe(`?key=${REDACTED}&x=1`);
    const lowerEscapes = encoded.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase());
    expect(redactor.redact(`?key=${lowerEscapes}`)).toBe(`?key=${REDACTED}`);
  });

  it('masks Basic auth with the x-access-token user whole', () => {
    const redactor = new SecretRedactor();
    const token = `ghs_${bareCanary(18)}`;
    redactor.register(token);
    const header = `Basic ${b64(`x-access-token:${token}`)}`;
    expect(redactor.redact(`"authorization":"${header}"`)).toBe(`"authorization":"Basic ${REDACTED}"`);
  });

  it('masks the value inside Basic auth for any user: at most the user and one 4-character group each side stay', () => {
    fc.assert(
      fc.property(
        fc.string({
          minLength: 0,
          maxLength: 20,
          unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz.@-_'),
        }),
        fc.integer({ min: 12, max: 48 }),
        (user, length) => {
          const redactor = new SecretRedactor();
          const value = randomBytes(length).toString('base64').slice(0, length);
          redactor.register(value);
          const encoded = b64(`${user}:${value}`);
          const out = redactor.redact(encoded);
          const at = out.indexOf(REDACTED);
          expect(at).toBeGreaterThanOrEqual(0);
          const before = out.slice(0, at);
          const after = out.slice(at + REDACTED.length);
          expect(before.length).toBeLessThanOrEqual(4 * Math.ceil((user.length + 1) / 3));
          expect(after.length).toBeLessThanOrEqual(4);
          expect(encoded.startsWith(before) && encoded.endsWith(after)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('registration lifetimes', () => {
  it('stops masking a value once every registration of it is retired', () => {
    const redactor = new SecretRedactor();
    const value = canary('xoxb');
    redactor.register(value);
    redactor.register(value); // e.g. the bot token, unchanged across two versions of the slack secret
    redactor.retire(value);
    expect(redactor.redact(value)).toBe(REDACTED);
    redactor.retire(value);
    expect(redactor.redact(value)).toBe(value);
    expect(redactor.size).toBe(0);
  });

  it('masks a value registered until a time until then, on the clock it was given', () => {
    let now = 1_000_000;
    const redactor = new SecretRedactor({ now: () => now });
    const token = `ghs_${bareCanary(18)}`;
    redactor.register(token, { until: now + 3_600_000 });
    now += 3_599_999;
    expect(redactor.redact(`token ${token}`)).toBe(`token ${REDACTED}`);
    now += 1;
    expect(redactor.redact(`token ${token}`)).toBe(`token ${token}`);
    expect(redactor.size).toBe(0);
  });

  it('keeps a retired value masked for the grace it is retired with', () => {
    let now = 0;
    const redactor = new SecretRedactor({ now: () => now });
    const value = canary('sign');
    redactor.register(value);
    redactor.retire(value, { after: 600_000 });
    now = 599_999;
    expect(redactor.redact(value)).toBe(REDACTED);
    now = 600_000;
    expect(redactor.redact(value)).toBe(value);
  });

  it('a permanent registration outlives a timed one of the same value', () => {
    let now = 0;
    const redactor = new SecretRedactor({ now: () => now });
    const value = canary('pat');
    redactor.register(value, { until: 1_000 });
    redactor.register(value);
    now = 5_000;
    expect(redactor.redact(value)).toBe(REDACTED);
  });
});

describe('one pass over each line, whatever the number of values', () => {
  it('masks exactly the registered values among 10,000, overlapping ones as one', () => {
    const redactor = new SecretRedactor();
    const values = Array.from({ length: 10_000 }, () => `secret-${bareCanary(16)}`);
    for (const value of values) redactor.register(value);
    const line = '{"level":"info","msg":"command handled","channel":"C0DEV","action":"gh:pr list"}';
    expect(redactor.redact(line)).toBe(line);
    const some = values[4_321] as string;
    const other = values[17] as string;
    expect(redactor.redact(`a ${some} b ${other}c ${some}`)).toBe(`a ${REDACTED} b ${REDACTED}c ${REDACTED}`);
    const short = 'abcdef12';
    redactor.register(short);
    redactor.register(`ab${short.slice(2)}-tail`);
    expect(redactor.redact(`<abcdef12-tail>`)).toBe(`<${REDACTED}>`);
  });

  it('never lets a registered value through, wherever it sits in arbitrary text', () => {
    const token = fc.string({
      minLength: 6,
      maxLength: 60,
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'),
    });
    fc.assert(
      fc.property(
        fc.array(token, { minLength: 1, maxLength: 8 }),
        fc.array(fc.string(), { maxLength: 8 }),
        (secrets, filler) => {
          // "[REDACTED]" itself is what a masked value becomes: a secret inside it is not a leak.
          fc.pre(!secrets.some((s) => REDACTED.includes(s)));
          const redactor = new SecretRedactor();
          for (const s of secrets) redactor.register(s);
          const text =
            filler.flatMap((f, i) => [f, secrets[i % secrets.length] as string]).join('') + secrets.join(' ');
          const out = redactor.redact(text);
          for (const s of secrets) expect(out).not.toContain(s);
        },
      ),
      { numRuns: 300 },
    );
  });
});
