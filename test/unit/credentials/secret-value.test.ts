import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SecretValue } from '../../../src/log/secret-value.js';
import { REDACTED } from '../../../src/log.js';
import { assertNoCanary, canary } from '../../helpers/canary.js';

describe('SecretValue', () => {
  it('prints [REDACTED] however it is turned into text, and reveals the value on request', () => {
    const token = canary('xoxb');
    const secret = new SecretValue(token);
    const holder = { slack: { botToken: secret } };
    expect(String(secret)).toBe(REDACTED);
    expect(`${secret}`).toBe(REDACTED);
    expect(JSON.stringify(holder)).toBe(`{"slack":{"botToken":"${REDACTED}"}}`);
    expect(inspect(holder, { depth: 5 })).toContain(REDACTED);
    assertNoCanary({ string: String(secret), json: JSON.stringify(holder), inspect: inspect(holder) });
    expect(secret.reveal()).toBe(token);
  });
});
