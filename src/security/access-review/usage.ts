import { ADMIN_ONLY, ALWAYS_ALLOWED, matchesAction, namesWho, type Rule } from '../../access/policy.js';
import type { AuditRecord } from '../../audit/records.js';

/** A Slack user id as the trail names a person (never `opsbot`). */
const PERSON = /^[UW][A-Z0-9]{2,20}$/;
/** Most distinct actions kept per grant (a grant's line names a few; the count is exact up to this). */
const MAX_ACTIONS_PER_GRANT = 100;

/** What one rule's grants were used for in the window. */
export interface RuleUsage {
  index: number;
  rule: Rule;
  /** A rule that names neither users nor usergroups grants anyone: the actions anyone used through it. */
  anyone?: ActionSet;
  /** Each user the rule names directly: the actions they used through it (empty: never). */
  users: Map<string, ActionSet>;
  /** Each user group the rule names: the members who used it, with their actions. */
  usergroups: Map<string, Map<string, ActionSet>>;
}

export type ActionSet = Set<string>;

/** A person's allowed use that no grant of today's policy explains (a group left, a rule removed). */
export interface Unexplained {
  user: string;
  action: string;
  /** User groups of rules that would allow it, had the person still been a member. */
  viaGroups: string[];
  seq: number;
}

export interface UsageTallyOptions {
  rules: readonly Rule[];
  admins: readonly string[];
  /** Each user group's members now; a group missing here could not be listed (its grants are kept). */
  members: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * Which grant of the policy each allowed action in the trail went through, counted the way the
 * policy decides (src/access/policy.ts): admins, help and whoami need no grant; otherwise the
 * first rule in order whose actions and channels match and that names the person (or nobody),
 * then, failing that, the first of the rules' user groups (in order) the person is a member of.
 * Only records that ran (`success`, `intent`, `error`) by a person count; denials do not.
 *
 * @example
 * const tally = new UsageTally({ rules, admins, members });
 * for (const record of window) tally.add(record);
 * tally.rules[0]?.users.get('U0DEV'); // Set { 'gh:pr list' }
 */
export class UsageTally {
  readonly rules: RuleUsage[];
  readonly unexplained: Unexplained[] = [];
  /** Records read, and those that counted (an allowed action by a person). */
  read = 0;
  counted = 0;
  readonly #admins: ReadonlySet<string>;
  readonly #members: ReadonlyMap<string, ReadonlySet<string>>;
  readonly #unexplainedKeys = new Set<string>();

  constructor(options: UsageTallyOptions) {
    this.#admins = new Set(options.admins);
    this.#members = options.members;
    this.rules = options.rules.map((rule, index) => ({
      index,
      rule,
      ...(namesWho(rule) ? {} : { anyone: new Set<string>() }),
      users: new Map((rule.users ?? []).map((u) => [u, new Set<string>()])),
      usergroups: new Map((rule.usergroups ?? []).map((g) => [g, new Map<string, ActionSet>()])),
    }));
  }

  /** Whether the group's members were listed (else its grants are kept). */
  isListed(group: string): boolean {
    return this.#members.has(group);
  }

  add(record: AuditRecord): void {
    this.read++;
    if (record.unreadable) return;
    if (record.outcome !== 'success' && record.outcome !== 'intent' && record.outcome !== 'error') return;
    const user = record.actor;
    const action = record.action;
    if (!PERSON.test(user) || !action.includes(':')) return;
    if (this.#admins.has(user) || needsNoGrant(action)) return;
    const channel = typeof record.details.channel === 'string' ? record.details.channel : '';
    this.counted++;
    const groupRules: RuleUsage[] = [];
    for (const usage of this.rules) {
      const { rule } = usage;
      if (!rule.actions.some((p) => matchesAction(p, action))) continue;
      if (rule.channels && !rule.channels.includes(channel)) continue;
      if (usage.anyone) {
        addAction(usage.anyone, action);
        return;
      }
      const direct = usage.users.get(user);
      if (direct) {
        addAction(direct, action);
        return;
      }
      if (usage.usergroups.size > 0) groupRules.push(usage);
    }
    for (const usage of groupRules) {
      for (const [group, byMember] of usage.usergroups) {
        if (!this.#members.get(group)?.has(user)) continue;
        const actions = byMember.get(user) ?? new Set<string>();
        byMember.set(user, actions);
        addAction(actions, action);
        return;
      }
    }
    const viaGroups = [...new Set(groupRules.flatMap((u) => [...u.usergroups.keys()]))];
    const key = `${user}\u0000${action}`;
    if (this.#unexplainedKeys.has(key) || this.#unexplainedKeys.size >= 1_000) return;
    this.#unexplainedKeys.add(key);
    this.unexplained.push({ user, action, viaGroups, seq: record.seq });
  }
}

function addAction(set: ActionSet, action: string): void {
  if (set.size < MAX_ACTIONS_PER_GRANT) set.add(action);
}

/** Help, whoami and the admin-only actions: no rule grants them. */
function needsNoGrant(action: string): boolean {
  if (ALWAYS_ALLOWED.includes(action) || ADMIN_ONLY.includes(action)) return true;
  return action.slice(action.indexOf(':') + 1) === 'help';
}

/** What a review proposes to remove: rules whole, or users and user groups from a rule. */
export interface Removals {
  /** Indexes of rules nothing in which was used. */
  rules: number[];
  /** Rule index → users to take out of its `users`. */
  users: Map<number, string[]>;
  /** Rule index → user groups to take out of its `usergroups`. */
  usergroups: Map<number, string[]>;
}

/**
 * The grants unused in the window: a user from a rule's `users`, a user group from its
 * `usergroups` when no member used it (a group whose members could not be listed is kept), and a
 * rule entirely when nothing in it was used. Admins are never touched.
 */
export function unusedGrants(tally: UsageTally): Removals {
  const removals: Removals = { rules: [], users: new Map(), usergroups: new Map() };
  for (const usage of tally.rules) {
    const users = [...usage.users].filter(([, used]) => used.size === 0).map(([u]) => u);
    const groups = [...usage.usergroups]
      .filter(([group, byMember]) => byMember.size === 0 && tally.isListed(group))
      .map(([g]) => g);
    const usedAny =
      (usage.anyone?.size ?? 0) > 0 ||
      [...usage.users.values()].some((s) => s.size > 0) ||
      [...usage.usergroups.values()].some((m) => m.size > 0);
    const unknownGroups = [...usage.usergroups.keys()].some((g) => !tally.isListed(g));
    if (!usedAny && !unknownGroups) {
      removals.rules.push(usage.index);
      continue;
    }
    if (users.length > 0) removals.users.set(usage.index, users);
    if (groups.length > 0) removals.usergroups.set(usage.index, groups);
  }
  return removals;
}

/** How many grants the removals take away (a rule counts once). */
export function removalCount(removals: Removals): number {
  let n = removals.rules.length;
  for (const list of removals.users.values()) n += list.length;
  for (const list of removals.usergroups.values()) n += list.length;
  return n;
}
