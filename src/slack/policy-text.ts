import {
  type AccessPolicy,
  ALWAYS_ALLOWED,
  type Decision,
  namesWho,
  type Requirement,
} from '../access/policy.js';
import { escapeText } from '../text/escape.js';

/**
 * The access policy in Slack's words: `/opsbot access` and the denial a user sees. The policy
 * decides (src/access/, no Slack text); this renders its decisions and rules as mrkdwn.
 */

/** Lines for /opsbot access: the admins, what everyone may do, then each rule. */
export function describePolicy(policy: Pick<AccessPolicy, 'admins' | 'rules'>): string[] {
  const admins = policy.admins;
  const lines = [
    `*Admins* (everything, including \`opsbot:access\` and \`opsbot:audit\`): ${
      admins.length > 0 ? admins.map((a) => `<@${a}>`).join(', ') : 'none'
    }`,
    `*Everyone, everywhere:* ${ALWAYS_ALLOWED.map((a) => `\`${a}\``).join(', ')} and each command's \`help\``,
  ];
  if (policy.rules.length === 0) lines.push('*Rules:* none, so nothing else is allowed.');
  for (const [i, rule] of policy.rules.entries()) {
    const what = rule.actions.map((a) => `\`${a}\``).join(', ');
    const note = rule.description ? ` — ${escapeText(rule.description)}` : '';
    const need: Requirement = {
      ...(rule.channels ? { channels: [...rule.channels] } : {}),
      ...(rule.users ? { users: [...rule.users] } : {}),
      ...(rule.usergroups ? { usergroups: [...rule.usergroups] } : {}),
    };
    lines.push(`${i + 1}. ${what} → ${describeRequirement(need)}${note}`);
  }
  return lines;
}

/** "in <#C1>, <#C2> for <@U1>, <!subteam^S1>"; ids are schema-validated, so mentions are safe. */
function describeRequirement(need: Requirement, people: 'named' | 'hidden' = 'named'): string {
  const users = need.users ?? [];
  const who = [
    ...(people === 'named' ? users.map((u) => `<@${u}>`) : []),
    ...(need.usergroups ?? []).map((g) => `<!subteam^${g}>`),
  ];
  const hidden = people === 'hidden' && users.length > 0 ? 'people the policy names' : undefined;
  const listed = [who.join(', '), hidden].filter(Boolean).join(' and ');
  const forWhom = !namesWho(need) ? 'for everyone' : listed ? `for ${listed}` : 'for nobody';
  const where = !need.channels
    ? 'in any channel'
    : need.channels.length > 0
      ? `in ${need.channels.map((c) => `<#${c}>`).join(', ')}`
      : 'in no channel';
  return `${where} ${forWhom}`;
}

const MAX_DENIAL_LINES = 5;

/**
 * The denial a user sees: where, and for which user groups, a rule would allow the action, one
 * line per distinct rule. It names channels and user groups but never a person: rules' users are
 * "people the policy names", and what no rule allows is for "opsbot admins" (`/opsbot access`
 * lists them, for admins).
 *
 * @example
 * explainDenial('devenv:up', decision);
 * // "`devenv:up` is allowed in <#C0DEVENVS> for <!subteam^S0PLATFORM>."
 */
export function explainDenial(action: string, decision: Extract<Decision, { allowed: false }>): string {
  const code = `\`${escapeText(action.replace(/`/g, ''))}\``;
  if (decision.reason === 'admin_only') return `${code} is for opsbot admins only.`;
  const lines = [...new Set(decision.needs.map((need) => describeRequirement(need, 'hidden')))];
  if (lines.length === 0)
    return `No rule allows ${code} yet, so only opsbot admins may run it; ask one of them to add a rule.`;
  if (lines.length === 1) return `${code} is allowed ${lines[0]}.`;
  const shown = lines.slice(0, MAX_DENIAL_LINES).map((l) => `• ${l}`);
  if (lines.length > MAX_DENIAL_LINES) shown.push(`• …and ${lines.length - MAX_DENIAL_LINES} more`);
  return `${code} is allowed:\n${shown.join('\n')}`;
}
