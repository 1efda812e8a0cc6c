import type { AnyIntegration } from '../integrations/integration.js';
import type { RotationKind } from './kind.js';

/**
 * The rotation kinds, by secret short name: every secret integration's `rotation` (GitHub, Jira,
 * Datadog, Slack…) plus the ones opsbot's own parts contribute (the audit trail's chain key). A
 * secret with no kind here is not rotated by the function.
 *
 * @example
 * const kinds = rotationKinds(INTEGRATIONS, [auditRotation]);
 * kinds.get('github'); // the github secret's RotationKind
 */
export function rotationKinds(
  integrations: readonly AnyIntegration[],
  own: readonly RotationKind[] = [],
): ReadonlyMap<string, RotationKind> {
  const kinds = new Map<string, RotationKind>();
  const add = (owner: string, kind: RotationKind) => {
    if (kind.spec.name !== owner)
      throw new Error(`the rotation of ${owner} names the secret ${kind.spec.name}: it must rotate its own`);
    if (kinds.has(owner)) throw new Error(`two rotations are declared for the secret ${owner}`);
    kinds.set(owner, kind);
  };
  for (const m of integrations) if (m.kind === 'secret' && m.rotation) add(m.secret.name, m.rotation);
  for (const kind of own) add(kind.spec.name, kind);
  return kinds;
}
