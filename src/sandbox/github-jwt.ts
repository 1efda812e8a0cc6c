import { createPublicKey, verify } from 'node:crypto';

export type JwtCheck = { ok: true } | { ok: false; message: string };

/**
 * Checks a GitHub App JWT as GitHub does: RS256, signed by one of the app's public keys, issued by
 * the app id, unexpired, and valid for at most 10 minutes (plus a minute of clock drift). The
 * messages are GitHub's own.
 *
 * @param nowSeconds the app's wall clock: JWTs are signed with real time, whatever the test clock says
 */
export function verifyAppJwt(
  jwt: string | undefined,
  publicKeys: readonly string[],
  appId: string,
  nowSeconds: number,
): JwtCheck {
  const bad = { ok: false as const, message: 'A JSON web token could not be decoded' };
  const parts = jwt?.split('.');
  if (parts?.length !== 3) return bad;
  const [header, payload, signature] = parts as [string, string, string];
  let claims: { iat?: number; exp?: number; iss?: string | number };
  try {
    const h = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: string };
    if (h.alg !== 'RS256') return bad;
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  } catch {
    return bad;
  }
  const signed = Buffer.from(`${header}.${payload}`);
  const valid = publicKeys.some((pem) =>
    verify('RSA-SHA256', signed, createPublicKey(pem), Buffer.from(signature, 'base64url')),
  );
  if (!valid) return { ok: false, message: 'Integration must generate a public key' };
  if (String(claims.iss) !== appId)
    return { ok: false, message: "'Issuer' claim ('iss') must be an Integer" };
  if (!claims.exp || claims.exp < nowSeconds) {
    return {
      ok: false,
      message:
        "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
    };
  }
  if (!claims.iat || claims.exp - claims.iat > 660) {
    return { ok: false, message: "'Expiration time' claim ('exp') is too far in the future" };
  }
  return { ok: true };
}
