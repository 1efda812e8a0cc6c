import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyAppJwt } from '../../../src/sandbox/github-jwt.js';

const pair = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
const { publicKey, privateKey } = pair();
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = (claims: Record<string, unknown>, key = privateKey, alg = 'RS256') => {
  const head = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${sign('RSA-SHA256', Buffer.from(head), key).toString('base64url')}`;
};
const NOW = 1_800_000_000;

describe('verifyAppJwt (the simulated GitHub checks app JWTs as GitHub does)', () => {
  it('accepts a JWT signed by one of the app keys, issued by the app, unexpired', () => {
    const other = pair();
    expect(
      verifyAppJwt(jwt({ iss: 42, iat: NOW - 30, exp: NOW + 540 }), [other.publicKey, publicKey], '42', NOW),
    ).toEqual({ ok: true });
  });

  it('refuses a wrong key, a tampered payload, another issuer, expiry, a long life, another algorithm, garbage', () => {
    const good = jwt({ iss: 42, iat: NOW - 30, exp: NOW + 540 });
    const [h, , sig] = good.split('.');
    const cases: [string | undefined, string][] = [
      [
        jwt({ iss: 42, iat: NOW, exp: NOW + 60 }, pair().privateKey),
        'Integration must generate a public key',
      ],
      [
        `${h}.${b64({ iss: 43, iat: NOW - 30, exp: NOW + 540 })}.${sig}`,
        'Integration must generate a public key',
      ],
      [jwt({ iss: 43, iat: NOW, exp: NOW + 60 }), "'Issuer' claim ('iss') must be an Integer"],
      [
        jwt({ iss: 42, iat: NOW - 700, exp: NOW - 100 }),
        "'Expiration time' claim ('exp') must be a numeric value",
      ],
      [jwt({ iss: 42, iat: NOW, exp: NOW + 3_600 }), 'too far in the future'],
      [jwt({ iss: 42, iat: NOW, exp: NOW + 60 }, privateKey, 'HS256'), 'could not be decoded'],
      ['not.a.jwt', 'could not be decoded'],
      [undefined, 'could not be decoded'],
    ];
    for (const [token, message] of cases) {
      const result = verifyAppJwt(token, [publicKey], '42', NOW);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message).toContain(message);
    }
  });
});
