import type { OpsbotFile } from '../config.js';
import { closest } from '../text/suggest.js';

export type AccessConfig = OpsbotFile['access'];
export type Rule = AccessConfig['rules'][number];

/** Everyone may ask for help and who they are, everywhere: help only lists what they may run. And the approvals' own actions. */
export const ALWAYS_ALLOWED: readonly string[] = Object.freeze([
  'opsbot:help',
  'opsbot:whoami',
  // Approvals: everyone may list and press; who may decide is the request's (its approvers, its requester).
  'opsbot:approvals',
  'opsbot:approve',
  'opsbot:deny',
  'opsbot:cancel',
]);
/** Only admins, whatever the rules say (even `*`): the policy itself and the audit trail. */
export const ADMIN_ONLY: readonly string[] = Object.freeze([
  'opsbot:access',
  'opsbot:access review',
  'opsbot:audit',
]);

/** Answers "is this user in that Slack user group?"; may be slow (a Slack API call) or throw. */
export type MembershipCheck = (usergroupId: string, userId: string) => Promise<boolean>;

export interface AccessRequest {
  user: string;
  channel: string;
  /** `command:subcommand`, e.g. `gh:pr list`. */
  action: string;
}

/** Who and where one rule allows an action; a dimension left out matches anything. */
export interface Requirement {
  channels?: string[];
  users?: string[];
  usergroups?: string[];
}

export type Decision =
  | { allowed: true; reason: 'admin' | 'always' | 'rule'; ruleIndex?: number }
  | { allowed: false; reason: 'admin_only' | 'no_rule'; needs: Requirement[] };

/**
 * Whether an action pattern covers an action. `*` matches everything; `gh` and `gh:*` all of gh;
 * in the subcommand `*` matches any run of characters (`gh:pr *`), everything else is literal;
 * a `*` command (`*:help`) matches any command (the configuration file refuses such patterns:
 * see `isActionPattern` in src/config/file-schema.ts).
 *
 * @example
 * matchesAction('gh:pr *', 'gh:pr list'); // true
 * matchesAction('gh:pr *', 'gh:pr'); // false: the space is literal
 */
export function matchesAction(pattern: string, action: string): boolean {
  if (pattern === '*') return true;
  const [command, sub] = splitAction(action);
  const colon = pattern.indexOf(':');
  const patternCommand = colon === -1 ? pattern : pattern.slice(0, colon);
  const patternSub = colon === -1 ? '*' : pattern.slice(colon + 1);
  if (patternCommand !== '*' && patternCommand !== command) return false;
  return globMatch(patternSub, sub);
}

function splitAction(action: string): [command: string, subcommand: string] {
  const colon = action.indexOf(':');
  return colon === -1 ? [action, ''] : [action.slice(0, colon), action.slice(colon + 1)];
}

/** `*` matches any run of characters, everything else itself. Linear backtracking, no RegExp from config. */
function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * The rules' patterns that match none of `actions` (every action the registered commands declare):
 * a typo such as `gh:prs`, which the syntax allows but which can never allow anything. One line
 * each, by the rule's path in the configuration file (`path`: where the list of rules is, access's
 * unless given), with the closest action when there is one.
 *
 * @example
 * unmatchedPatterns([{ actions: ['gh:prs'] }], ['gh:pr', 'gh:pr list']);
 * // ['access.rules[0].actions[0]: "gh:prs" matches none of opsbot\'s actions; did you mean "gh:pr"?']
 */
export function unmatchedPatterns(
  rules: readonly { readonly actions: readonly string[] }[],
  actions: readonly string[],
  path = 'access.rules',
): string[] {
  const problems: string[] = [];
  for (const [r, rule] of rules.entries()) {
    for (const [a, pattern] of rule.actions.entries()) {
      if (actions.some((action) => matchesAction(pattern, action))) continue;
      const guess = closest(pattern, actions);
      const hint = guess ? `; did you mean ${JSON.stringify(guess)}?` : '';
      problems.push(
        `${path}[${r}].actions[${a}]: ${JSON.stringify(pattern)} matches none of opsbot's actions${hint}`,
      );
    }
  }
  return problems;
}

/** `opsbot:help`, `opsbot:whoami` and every command's `help`. */
function isAlwaysAllowed(action: string): boolean {
  return ALWAYS_ALLOWED.includes(action) || splitAction(action)[1] === 'help';
}

/** A rule that names neither users nor usergroups lets anyone in; an empty list names nobody. */
export function namesWho(rule: Requirement): boolean {
  return rule.users !== undefined || rule.usergroups !== undefined;
}

/**
 * The access policy: deny by default. A request is allowed when the actor is an admin, the action
 * is help/whoami, or some rule matches the action AND every dimension the rule names (the channel
 * is in `channels`; the actor is in `users` or a member of one of `usergroups`). `opsbot:access`
 * and `opsbot:audit` are for admins only, whatever the rules say.
 *
 * @example
 * const policy = new AccessPolicy(config.file.access);
 * const decision = await policy.evaluate({ user, channel, action: 'gh:pr list' }, membership.isMember);
 * if (!decision.allowed) return explainDenial('gh:pr list', decision);
 */
export class AccessPolicy {
  readonly #rules: readonly Rule[];
  readonly #admins: readonly string[];
  readonly #adminSet: ReadonlySet<string>;

  constructor(config: AccessConfig) {
    this.#rules = config.rules;
    this.#admins = config.admins;
    this.#adminSet = new Set(config.admins);
  }

  isAdmin(user: string): boolean {
    return this.#adminSet.has(user);
  }

  /**
   * Decides one request. Cheap checks first (admin, help, action, channel, users); `membership` is
   * asked only about the user groups of rules that match the action and channel but not the user,
   * once per group, in rule order, stopping at the first match. A group whose check throws counts
   * as not matching; if the answer is then a denial, the first such error is rethrown instead, so
   * the caller can say "couldn't check your groups" rather than give a misleading denial.
   */
  async evaluate(request: AccessRequest, membership: MembershipCheck): Promise<Decision> {
    const { user, channel, action } = request;
    if (this.isAdmin(user)) return { allowed: true, reason: 'admin' };
    if (isAlwaysAllowed(action)) return { allowed: true, reason: 'always' };
    if (ADMIN_ONLY.includes(action)) return { allowed: false, reason: 'admin_only', needs: [] };

    const byGroup: { ruleIndex: number; usergroups: readonly string[] }[] = [];
    for (let ruleIndex = 0; ruleIndex < this.#rules.length; ruleIndex++) {
      const rule = this.#rules[ruleIndex] as Rule;
      if (!rule.actions.some((pattern) => matchesAction(pattern, action))) continue;
      if (rule.channels && !rule.channels.includes(channel)) continue;
      if (!namesWho(rule) || rule.users?.includes(user)) return { allowed: true, reason: 'rule', ruleIndex };
      if (rule.usergroups && rule.usergroups.length > 0)
        byGroup.push({ ruleIndex, usergroups: rule.usergroups });
    }

    const answers = new Map<string, boolean>();
    let failure: { error: unknown } | undefined;
    for (const { ruleIndex, usergroups } of byGroup) {
      for (const group of usergroups) {
        let member = answers.get(group);
        if (member === undefined) {
          try {
            member = (await membership(group, user)) === true;
          } catch (error) {
            failure ??= { error };
            member = false;
          }
          answers.set(group, member);
        }
        if (member) return { allowed: true, reason: 'rule', ruleIndex };
      }
    }
    if (failure) throw failure.error;
    // What would have allowed it, worked out only for a denial (the allowed path is the hot one).
    const needs = this.#rules
      .filter((rule) => rule.actions.some((pattern) => matchesAction(pattern, action)))
      .map(requirementOf);
    return { allowed: false, reason: 'no_rule', needs };
  }

  /**
   * Which of `actions` this user may run in this channel (for generated help and /opsbot whoami).
   * Each group is asked about at most once per call; an action whose check failed is left out.
   */
  async allowedActions(
    user: string,
    channel: string,
    actions: readonly string[],
    membership: MembershipCheck,
  ): Promise<string[]> {
    const asked = new Map<string, Promise<boolean>>();
    const once: MembershipCheck = (group, member) => {
      const key = `${group}\u0000${member}`;
      let answer = asked.get(key);
      if (!answer) {
        answer = (async () => membership(group, member))();
        asked.set(key, answer);
      }
      return answer;
    };
    const allowed: string[] = [];
    for (const action of actions) {
      try {
        if ((await this.evaluate({ user, channel, action }, once)).allowed) allowed.push(action);
      } catch {
        // A group we could not check grants nothing here; running the command itself says why.
      }
    }
    return allowed;
  }

  /** Usergroups named anywhere in the policy, each once, in order of first mention. */
  usergroups(): string[] {
    return [...new Set(this.#rules.flatMap((rule) => rule.usergroups ?? []))];
  }

  /** The admins, as configured (for /opsbot access). */
  get admins(): readonly string[] {
    return this.#admins;
  }

  /** The rules, as configured (for /opsbot access). */
  get rules(): readonly Rule[] {
    return this.#rules;
  }
}

function requirementOf(rule: Rule): Requirement {
  return {
    ...(rule.channels ? { channels: [...rule.channels] } : {}),
    ...(rule.users ? { users: [...rule.users] } : {}),
    ...(rule.usergroups ? { usergroups: [...rule.usergroups] } : {}),
  };
}
