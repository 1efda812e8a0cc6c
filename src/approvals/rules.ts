import { type MembershipCheck, matchesAction, unmatchedPatterns } from '../access/policy.js';
import type { ArgValue } from '../command-kit/command-spec.js';
import { formatDuration } from '../config/parsers.js';
import { ownValue } from '../own-value.js';
import { escapeText, inlineCode, usergroupMention, userMention } from '../text/escape.js';
import type { ApprovalsConfig } from './config.js';

/**
 * Which approval rule holds an action, who may decide under it, and how it reads in help and App
 * Home. Pure: the only outside call is the membership check given to {@link isApprover}.
 */

export type ApprovalRule = ApprovalsConfig[number];

/** What a request carries for matching: a command's parsed args and flags by name; undefined for a button (its value is opaque). */
export interface ActionInput {
  args: Readonly<Record<string, ArgValue | undefined>>;
  flags: Readonly<Record<string, ArgValue | undefined>>;
}

/**
 * Whether the request's arguments meet every `args` condition of the rule: the argument (or else
 * the flag) of that name, as text, equals one of the listed values, both sides trimmed. An absent
 * argument meets nothing. Without `input` (a button, whose value cannot be read by name) every
 * condition counts as met: a button never gets past an argument condition.
 */
function argsMatch(rule: ApprovalRule, input: ActionInput | undefined): boolean {
  if (!rule.args || input === undefined) return true;
  for (const [name, values] of Object.entries(rule.args)) {
    const value = ownValue(input.args, name) ?? ownValue(input.flags, name);
    if (value === undefined) return false;
    const text = String(value).trim();
    if (!values.some((listed) => listed.trim() === text)) return false;
  }
  return true;
}

/**
 * The first rule that holds this action: one of its patterns matches (`matchesAction`, the access
 * policy's syntax) and every `args` entry matches ({@link ActionInput}). Undefined: the action runs
 * without approval.
 *
 * @example
 * approvalRuleFor(file.approvals, 'devenv:up', { args: { template: 'large' }, flags: {} });
 * // { rule: { actions: ['devenv:up'], args: { template: ['large'] }, … }, index: 0 }
 */
export function approvalRuleFor(
  rules: readonly ApprovalRule[],
  action: string,
  input: ActionInput | undefined,
): { rule: ApprovalRule; index: number } | undefined {
  for (const [index, rule] of rules.entries()) {
    if (rule.actions.some((pattern) => matchesAction(pattern, action)) && argsMatch(rule, input))
      return { rule, index };
  }
  return undefined;
}

/**
 * Whether a person may decide a request under this rule: listed in `users`, or a member of one of
 * `usergroups` (asked in order, stopping at the first yes). Never the requester: the caller checks
 * that too. A membership check that throws counts as "no" and is reported through `onError`.
 */
export async function isApprover(
  rule: {
    readonly approvers: { readonly users?: readonly string[]; readonly usergroups?: readonly string[] };
  },
  userId: string,
  membership: MembershipCheck,
  onError?: (error: unknown) => void,
): Promise<boolean> {
  if (rule.approvers.users?.includes(userId)) return true;
  for (const group of rule.approvers.usergroups ?? []) {
    try {
      if ((await membership(group, userId)) === true) return true;
    } catch (error) {
      onError?.(error);
    }
  }
  return false;
}

/** `template is large`, `template is large or xlarge`. */
function condition(name: string, values: readonly string[]): string {
  return `${escapeText(name)} is ${values.map((v) => escapeText(v)).join(' or ')}`;
}

/**
 * One line for help and App Home:
 * "`devenv:up` when template is large — approvers: <@U0LEAD>, <!subteam^S0LEADS> — open 15m".
 * The values come from the operator's file, and are still escaped so that `<`, `>` and `&` never
 * form a mention or a link.
 */
export function describeApprovalRule(rule: ApprovalRule): string {
  const actions = rule.actions.map((pattern) => inlineCode(pattern)).join(', ');
  const when = rule.args
    ? ` when ${Object.entries(rule.args)
        .map(([name, values]) => condition(name, values))
        .join(' and ')}`
    : '';
  const who = [
    ...(rule.approvers.users ?? []).map(userMention),
    ...(rule.approvers.usergroups ?? []).map(usergroupMention),
  ].join(', ');
  return `${actions}${when} — approvers: ${who} — open ${formatDuration(rule.expires)}`;
}

/**
 * Which of `actions` (every registered action) the rules hold, for `/opsbot help` and App Home:
 * each held action with the description of the rules that may hold it, in order, `; ` between
 * them. A rule with `args` holds the action for those values only (its description says which), so
 * the later rules that hold its other uses are listed too, up to the first without `args` (nothing
 * after it is reached).
 */
export function heldActions(rules: readonly ApprovalRule[], actions: readonly string[]): Map<string, string> {
  const held = new Map<string, string>();
  const described = new Map<ApprovalRule, string>();
  const describe = (rule: ApprovalRule) => {
    let text = described.get(rule);
    if (text === undefined) {
      text = describeApprovalRule(rule);
      described.set(rule, text);
    }
    return text;
  };
  for (const action of actions) {
    const lines: string[] = [];
    for (const rule of rules) {
      if (!rule.actions.some((pattern) => matchesAction(pattern, action))) continue;
      lines.push(describe(rule));
      if (!rule.args) break;
    }
    if (lines.length > 0) held.set(action, lines.join('; '));
  }
  return held;
}

/**
 * The rules' patterns that match none of `actions` (a typo such as `devenv:upp` holds nothing),
 * one warning each by its path: `approvals[0].actions[0]: "devenv:upp" matches none of opsbot's
 * actions; did you mean "devenv:up"?`.
 */
export function approvalRulePatternsUnmatched(
  rules: readonly ApprovalRule[],
  actions: readonly string[],
): string[] {
  return unmatchedPatterns(rules, actions, 'approvals');
}
