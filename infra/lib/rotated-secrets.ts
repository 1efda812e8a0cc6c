import { INTEGRATIONS } from '../../src/integrations/index.js';
import { auditRotation } from '../../src/rotation/audit.js';
import { rotationKinds } from '../../src/rotation/registry.js';
import { SECRET_NAMES } from './secrets.js';

/**
 * The secrets opsbot's rotation function rotates: those with a rotation kind in the bot's own
 * registry (each integration's `rotation`, plus the audit chain key's), among the secrets the stack
 * creates. Derived, never a copy: a new integration's rotation gets its function with the next deploy.
 */
export const ROTATED_SECRETS: readonly string[] = [
  ...rotationKinds(INTEGRATIONS, [auditRotation]).keys(),
].filter((name) => SECRET_NAMES.includes(name));
