import { z } from 'zod';
import { type SecretSpec, secretText } from '../credentials/secret-spec.js';

/** The `audit` secret's shape: `{ "chainKey": "<base64 of 32 random bytes>" }` (`openssl rand -base64 32`). */
export interface AuditSecret {
  chainKey: string;
}

/** Bytes of a chain key (HMAC-SHA256 takes any length; 32 is its block-strength size). */
export const CHAIN_KEY_BYTES = 32;

/** The chain key's bytes, from the secret's base64 text (already checked by {@link auditSecret}). */
export function chainKeyBytes(secret: AuditSecret): Uint8Array {
  return new Uint8Array(Buffer.from(secret.chainKey.trim(), 'base64'));
}

const chainKey = secretText('chainKey').refine(
  (text) => {
    const trimmed = text.trim();
    return (
      /^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) && Buffer.from(trimmed, 'base64').length === CHAIN_KEY_BYTES
    );
  },
  { error: `chainKey: expected base64 of ${CHAIN_KEY_BYTES} random bytes (openssl rand -base64 32)` },
);

/**
 * opsbot's own secret (not an integration's): the key of the audit trail's HMAC chain, kept out of
 * the database so that whoever can write the database cannot rewrite the trail and re-chain it.
 * Optional: without it the chain is plain SHA-256 and start-up warns. Loaded, masked and rotated
 * by the credential provider like every other secret (`<prefix>audit`, `OPSBOT_SECRET_AUDIT`).
 */
export const auditSecret: SecretSpec<AuditSecret> = {
  name: 'audit',
  title: 'Audit trail',
  schema: z.object({ chainKey }),
  sensitive: ['chainKey'],
};
