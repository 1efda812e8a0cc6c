import { generateKeyPairSync } from 'node:crypto';
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
