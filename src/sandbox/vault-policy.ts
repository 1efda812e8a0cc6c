/**
 * Vault's ACL policies, as the simulated Vault enforces them: a rule's path is exact, or ends in
 * `*` (a prefix match), and `+` stands for exactly one path segment. When several rules match a
 * request's path the most specific one decides (Vault's priority: the later the first wildcard, the
 * fewer `+`, not ending in `*`, the longer); rules with the same path in several policies add up,
 * and `deny` in them wins. No matching rule: denied.
 */

export type VaultCapability = 'read' | 'list' | 'create' | 'update' | 'delete' | 'sudo' | 'deny';

export interface VaultPolicyRule {
  path: string;
  capabilities: VaultCapability[];
}

const CAPABILITIES = new Set<string>(['read', 'list', 'create', 'update', 'delete', 'sudo', 'deny']);
const MAX_RULES = 1_000;

/** Throws when a policy cannot be stored as given (what `vault policy write` would refuse). */
export function checkPolicy(name: string, rules: VaultPolicyRule[]): void {
  if (!/^[\w.-]{1,128}$/.test(name)) throw new Error(`putPolicy: bad policy name ${JSON.stringify(name)}`);
  if (name === 'root') throw new Error('putPolicy: cannot update the root policy');
  if (rules.length > MAX_RULES) throw new Error(`putPolicy: at most ${MAX_RULES} rules`);
  for (const rule of rules) {
    if (rule.path.length === 0 || rule.path.length > 512) throw new Error('putPolicy: rule path of 1..512');
    if (rule.path.slice(0, -1).includes('*')) {
      throw new Error(`putPolicy: '*' only at the end of a path: ${rule.path}`);
    }
    for (const c of rule.capabilities) {
      if (!CAPABILITIES.has(c)) throw new Error(`putPolicy: unknown capability ${JSON.stringify(c)}`);
    }
  }
}

/** Does `pattern` (a policy path, no leading slash) match `path` (no leading slash)? */
export function policyPathMatches(pattern: string, path: string): boolean {
  const glob = pattern.endsWith('*');
  const patternSegments = (glob ? pattern.slice(0, -1) : pattern).split('/');
  const pathSegments = path.split('/');
  for (let i = 0; i < patternSegments.length; i++) {
    const p = patternSegments[i] as string;
    const s = pathSegments[i];
    const last = i === patternSegments.length - 1;
    if (s === undefined) return false;
    if (p === '+') {
      if (s === '') return false;
      continue;
    }
    if (last && glob) return s.startsWith(p);
    if (p !== s) return false;
  }
  return glob
    ? pathSegments.length >= patternSegments.length
    : pathSegments.length === patternSegments.length;
}

/** Sorts so that the rule Vault prefers comes first (negative when `a` is more specific). */
function compareSpecificity(a: string, b: string): number {
  const firstWildcard = (p: string) => {
    const positions = [p.indexOf('+'), p.endsWith('*') ? p.length - 1 : -1].filter((i) => i >= 0);
    return positions.length ? Math.min(...positions) : Number.MAX_SAFE_INTEGER;
  };
  const plus = (p: string) => p.split('+').length - 1;
  return (
    firstWildcard(b) - firstWildcard(a) ||
    Number(a.endsWith('*')) - Number(b.endsWith('*')) ||
    plus(a) - plus(b) ||
    b.length - a.length ||
    (a < b ? -1 : a > b ? 1 : 0)
  );
}

/** Is `capability` on `path` granted by the union of `policies` (each a list of rules)? */
export function policyAllows(
  policies: readonly (readonly VaultPolicyRule[])[],
  path: string,
  capability: VaultCapability,
): boolean {
  const byPath = new Map<string, Set<VaultCapability>>();
  for (const rules of policies) {
    for (const rule of rules) {
      if (!policyPathMatches(rule.path, path)) continue;
      const caps = byPath.get(rule.path) ?? new Set<VaultCapability>();
      for (const c of rule.capabilities) caps.add(c);
      byPath.set(rule.path, caps);
    }
  }
  const winner = [...byPath.keys()].sort(compareSpecificity)[0];
  if (winner === undefined) return false;
  const caps = byPath.get(winner) as Set<VaultCapability>;
  return !caps.has('deny') && caps.has(capability);
}
