import { randomBytes } from 'node:crypto';
import { type AuditSecret, auditSecret, CHAIN_KEY_BYTES, chainKeyBytes } from '../audit/audit-secret.js';
import { type RotationKind, RotationTestError } from './kind.js';

/**
 * The audit trail's chain key rotates with no person: a new 32-byte key from the system's CSPRNG,
 * tested by reading it back as 32 bytes; nothing at a vendor to set or retire.
 */
export const auditRotation: RotationKind<AuditSecret> = {
  spec: auditSecret,
  automatic: () => true,
  create: async () => ({ chainKey: randomBytes(CHAIN_KEY_BYTES).toString('base64') }),
  test: async (pending) => {
    const bytes = chainKeyBytes(pending).length;
    if (bytes !== CHAIN_KEY_BYTES) {
      throw new RotationTestError(
        `the new chainKey is ${bytes} bytes, not ${CHAIN_KEY_BYTES}: put base64 of 32 random bytes (openssl rand -base64 32)`,
      );
    }
  },
};
