import type { OpsbotFile } from '../config.js';

export type AccessConfig = OpsbotFile['access'];

/** Everyone may ask for help and who they are, everywhere: help only lists what they may run. */
export const ALWAYS_ALLOWED: readonly string[] = ['opsbot:help', 'opsbot:whoami'];
/** Only admins, whatever the rules say: the policy itself and the audit trail. */
export const ADMIN_ONLY: readonly string[] = ['opsbot:access', 'opsbot:audit'];

/** Answers "is this user in that Slack user group?"; may be slow (a Slack API call) or throw. */
export type MembershipCheck = (usergroupId: string, userId: string) => Promise<boolean>;

export interface AccessRequest {
  user: string;
  channel: string;
  /** `command:subcommand`, e.g. `gh:pr list`. */
  action: string;
}

/** Who and where one rule allows an action. */
export interface Requirement {
  channels?: string[];
  users?: string[];
  usergroups?: string[];
}

export type Decision =
  | { allowed: true; reason: 'admin' | 'always' | 'rule'; ruleIndex?: number }
  | { allowed: false; reason: 'admin_only' | 'no_rule'; needs: Requirement[] };

/**
 * `gh` and `gh:*` match all of gh; `gh:pr *` is a glob; `*` matches everything; otherwise exact.
 *
 * @example
 * matchesAction('gh:pr *', 'gh:pr list'); // true
 */
export function matchesAction(pattern: string, action: string): boolean {
  if (pattern === '*') return true;
  const [command, sub] = splitAction(action);
  const colon = pattern.indexOf(':');
  const pCommand = colon === -1 ? pattern : pattern.slice(0, colon);
  const pSub = colon === -1 ? '*' : pattern.slice(colon + 1);
  if (pCommand !== command) return false;
  return globMatch(pSub, sub);
}

function splitAction(action: string): [string, string] {
  const colon = action.indexOf(':');
  return colon === -1 ? [action, ''] : [action.slice(0, colon), action.slice(colon + 1)];
}

/** `*` matches any run of characters; everything else literally. Linear-time, no regex built from input. */
function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === text[t]) {
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

function isAlwaysAllowed(action: string): boolean {
  return ALWAYS_ALLOWED.includes(action) || splitAction(action)[1] === 'help';
}

/**
 * The access policy: deny by default. A request is allowed when the actor is an admin, the action
 * is help/whoami, or some rule matches the action AND every dimension the rule names (channel;
 * actor among `users` or in one of `usergroups`). `opsbot:access` and `opsbot:audit` are for
 * admins only, whatever the rules say.
 */
export class AccessPolicy {
  readonly #config: AccessConfig;
  readonly #admins: ReadonlySet<string>;

  constructor(config: AccessConfig) {
    this.#config = config;
    this.#admins = new Set(config.admins);
  }

  isAdmin(user: string): boolean {
    return this.#admins.has(user);
  }

  async evaluate(request: AccessRequest, membership: MembershipCheck): Promise<Decision> {
    const { user, channel, action } = request;
    if (this.isAdmin(user)) return { allowed: true, reason: 'admin' };
    if (isAlwaysAllowed(action)) return { allowed: true, reason: 'always' };
    if (ADMIN_ONLY.includes(action)) return { allowed: false, reason: 'admin_only', needs: [] };
    const needs: Requirement[] = [];
    let failure: unknown;
    const rules = this.#config.rules;
    for (let index = 0; index < rules.length; index++) {
      const rule = rules[index] as AccessConfig['rules'][number];
      if (!rule.actions.some((p) => matchesAction(p, action))) continue;
      needs.push(requirementOf(rule));
      if (rule.channels && !rule.channels.includes(channel)) continue;
      if (!rule.users && !rule.usergroups) return { allowed: true, reason: 'rule', ruleIndex: index };
      if (rule.users?.includes(user)) return { allowed: true, reason: 'rule', ruleIndex: index };
      for (const group of rule.usergroups ?? []) {
        try {
          if (await membership(group, user)) return { allowed: true, reason: 'rule', ruleIndex: index };
        } catch (error) {
          failure ??= error;
        }
      }
    }
    if (failure !== undefined) throw failure;
    return { allowed: false, reason: 'no_rule', needs };
  }

  async allowedActions(
    user: string,
    channel: string,
    actions: readonly string[],
    membership: MembershipCheck,
  ): Promise<string[]> {
    const allowed: string[] = [];
    for (const action of actions) {
      try {
        if ((await this.evaluate({ user, channel, action }, membership)).allowed) allowed.push(action);
      } catch {
        // A group we could not check grants nothing here; the command itself will say why.
      }
    }
    return allowed;
  }

  usergroups(): string[] {
    return [...new Set(this.#config.rules.flatMap((r) => r.usergroups ?? []))];
  }

  describe(): string[] {
    const { admins, rules } = this.#config;
    const lines = [
      `*Admins* (everything, including \`opsbot:access\` and \`opsbot:audit\`): ${
        admins.length > 0 ? admins.map((a) => `<@${a}>`).join(', ') : 'none'
      }`,
      `*Everyone, everywhere:* ${ALWAYS_ALLOWED.map((a) => `\`${a}\``).join(', ')} and each command's \`help\``,
    ];
    if (rules.length === 0) lines.push('*Rules:* none, so nothing else is allowed.');
    rules.forEach((rule, i) => {
      const what = rule.actions.map((a) => `\`${a}\``).join(', ');
      const note = rule.description ? ` — ${rule.description.replace(/[<>&]/g, '')}` : '';
      lines.push(`${i + 1}. ${what} → ${describeRequirement(requirementOf(rule))}${note}`);
    });
    return lines;
  }
}

function requirementOf(rule: AccessConfig['rules'][number]): Requirement {
  return {
    ...(rule.channels ? { channels: rule.channels } : {}),
    ...(rule.users ? { users: rule.users } : {}),
    ...(rule.usergroups ? { usergroups: rule.usergroups } : {}),
  };
}

function describeRequirement(need: Requirement): string {
  const who = [
    ...(need.users ?? []).map((u) => `<@${u}>`),
    ...(need.usergroups ?? []).map((g) => `<!subteam^${g}>`),
  ];
  const people = who.length > 0 ? `for ${who.join(', ')}` : 'for everyone';
  const where = need.channels ? `in ${need.channels.map((c) => `<#${c}>`).join(', ')}` : 'in any channel';
  return `${where} ${people}`;
}

/**
 * The denial a user sees: what would allow the action, rule by rule.
 *
 * @example
 * explainDenial('devenv:up', decision, admins);
 * // "`devenv:up` is allowed in <#C0DEVENVS> for <!subteam^S0PLATFORM>."
 */
export function explainDenial(
  action: string,
  decision: Extract<Decision, { allowed: false }>,
  admins: readonly string[],
): string {
  const ask =
    admins.length > 0
      ? ` (${admins
          .slice(0, 3)
          .map((a) => `<@${a}>`)
          .join(', ')})`
      : '';
  if (decision.reason === 'admin_only') return `\`${action}\` is for opsbot admins only.`;
  if (decision.needs.length === 0) {
    return `No rule allows \`${action}\` yet; ask an opsbot admin${ask} to add one.`;
  }
  const lines = decision.needs.slice(0, 5).map((n) => describeRequirement(n));
  if (lines.length === 1) return `\`${action}\` is allowed ${lines[0]}.`;
  return `\`${action}\` is allowed:\n${lines.map((l) => `• ${l}`).join('\n')}`;
}
