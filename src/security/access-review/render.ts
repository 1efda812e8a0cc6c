import type { KnownBlock } from '@slack/web-api';
import { matchesAction } from '../../access/policy.js';
import { context, header, section, sections } from '../../slack/blocks.js';
import { channelMention, escapeText, inlineCode } from '../../text/escape.js';
import type { CredentialUse } from './integrations.js';
import type { AccessReview, Flag } from './review.js';
import type { ActionSet, RuleUsage } from './usage.js';

/** Most characters of the diff shown in the message (one code block). */
export const MAX_DIFF_CHARS = 2_600;
const MAX_LIST = 8;

/** The review as a Slack message: summary, per-rule lines, flagged people, credentials, the diff. */
export function reviewMessage(review: AccessReview): { text: string; blocks: KnownBlock[] } {
  const title = `Access review: the last ${review.days} day${review.days === 1 ? '' : 's'}`;
  const summary = summaryLine(review);
  const ruleLines = review.tally.rules.flatMap((usage) => ruleLines_(usage, review));
  const flagLines = review.flags.map(flagLine);
  const credentialLines = review.integrations.map(credentialLine);
  const blocks: KnownBlock[] = [
    header(title),
    section(summary),
    ...sections(
      ruleLines.length > 0 ? ruleLines : ['_The policy has no rules: only admins may run anything._'],
      20,
    ),
    ...(flagLines.length > 0 ? sections(['*People flagged*', ...flagLines], 4) : []),
    ...sections(['*What opsbot’s own credentials could drop*', ...credentialLines], 3),
    ...diffBlocks(review),
  ];
  return { text: `${title}\n${summary}`, blocks: blocks.slice(0, 48) };
}

function summaryLine(r: AccessReview): string {
  const w = r.window;
  const range = w.from !== undefined ? `records #${w.from}–#${w.to}` : 'no records';
  const truncated = w.truncated
    ? ` :warning: the window holds more than ${w.records.toLocaleString('en-US')} records: only the oldest ${w.records.toLocaleString('en-US')} were read, so recent use may be missing; review a shorter window (\`--days\`).`
    : '';
  const unlisted =
    r.unlistedGroups.length > 0
      ? ` The members of ${r.unlistedGroups.map((g) => inlineCode(g)).join(', ')} could not be listed: their grants are kept.`
      : '';
  return `Since ${r.since.slice(0, 10)} (${range}, ${w.records} read, ${r.tally.counted} allowed actions by people). *${r.removalCount}* unused grant${r.removalCount === 1 ? '' : 's'} proposed for removal; *${r.flags.length}* ${r.flags.length === 1 ? 'person' : 'people'} flagged.${unlisted}${truncated}`;
}

function list(actions: ActionSet | Iterable<string>): string {
  const all = [...actions];
  const shown = all.slice(0, MAX_LIST).map((a) => inlineCode(a, 40));
  return all.length > MAX_LIST ? `${shown.join(', ')} and ${all.length - MAX_LIST} more` : shown.join(', ');
}

function ruleLines_(usage: RuleUsage, review: AccessReview): string[] {
  const { rule, index } = usage;
  const removed = review.removals.rules.includes(index);
  const where = rule.channels ? ` in ${rule.channels.map(channelMention).join(', ')}` : '';
  const head = `*Rule ${index + 1}* ${list(rule.actions)}${where}${removed ? ' — :scissors: nothing in it was used: remove the rule' : ''}`;
  const used = new Set<string>();
  const lines = [head];
  if (usage.anyone) {
    for (const a of usage.anyone) used.add(a);
    lines.push(`   • anyone: ${usage.anyone.size > 0 ? `used ${list(usage.anyone)}` : 'never used'}`);
  }
  const dropUsers = new Set(review.removals.users.get(index) ?? []);
  for (const [user, actions] of usage.users) {
    for (const a of actions) used.add(a);
    const verdict =
      actions.size > 0
        ? `used ${list(actions)}`
        : `never used${dropUsers.has(user) ? ': :scissors: remove' : ''}`;
    lines.push(`   • ${inlineCode(user)}: ${verdict}`);
  }
  const dropGroups = new Set(review.removals.usergroups.get(index) ?? []);
  for (const [group, byMember] of usage.usergroups) {
    const listed = review.tally.isListed(group);
    let verdict: string;
    if (!listed) verdict = 'members could not be listed: kept';
    else if (byMember.size === 0)
      verdict = `no member used it${dropGroups.has(group) || removed ? ': :scissors: remove' : ''}`;
    else {
      const who = [...byMember].slice(0, MAX_LIST).map(([u, actions]) => {
        for (const a of actions) used.add(a);
        return `${inlineCode(u)} (${list(actions)})`;
      });
      verdict = `used by ${who.join(', ')}${byMember.size > MAX_LIST ? ` and ${byMember.size - MAX_LIST} more` : ''}`;
    }
    lines.push(`   • group ${inlineCode(group)}: ${verdict}`);
  }
  const never = rule.actions.filter((p) => ![...used].some((a) => matches(p, a)));
  if (never.length > 0 && !removed) lines.push(`   • patterns never used: ${list(never)}`);
  return lines;
}

/** A pattern used: some used action falls under it (the policy's own matching). */
function matches(pattern: string, action: string): boolean {
  return matchesAction(pattern, action);
}

function flagLine(flag: Flag): string {
  switch (flag.kind) {
    case 'deleted':
      return `• ${inlineCode(flag.user)} left the workspace (deactivated) but is still named in the policy`;
    case 'left-group':
      return `• ${inlineCode(flag.user)} is no longer in ${flag.groups.map((g) => inlineCode(g)).join(' or ')} but used ${inlineCode(flag.action)} through it in the window (record #${flag.seq})`;
    case 'unchecked':
      return `• ${inlineCode(flag.user)}: could not be looked up in Slack`;
  }
}

function credentialLine(c: CredentialUse): string {
  const name = { github: 'GitHub App', datadog: 'Datadog application key', devenv: 'Dev-env role' }[
    c.integration
  ];
  const needed = c.needed.length > 0 ? list(c.needed) : 'nothing';
  if (!c.has) return `• *${name}*: used ${needed}; ${escapeText(c.note ?? 'its permissions are unknown')}`;
  const drop = c.unused.length > 0 ? `could drop ${list(c.unused)}` : 'nothing to drop';
  return `• *${name}*: has ${list(c.has)}; the window used ${needed}; ${drop}`;
}

function diffBlocks(review: AccessReview): KnownBlock[] {
  if (review.removalCount === 0) return [context('Every grant was used in the window: nothing to remove.')];
  if (review.diffProblem)
    return [context(`No change to the policy file is proposed: ${escapeText(review.diffProblem)}.`)];
  const lines = review.diff.split('\n');
  const shown: string[] = [];
  let size = 0;
  for (const line of lines) {
    if (size + line.length + 1 > MAX_DIFF_CHARS) break;
    shown.push(line);
    size += line.length + 1;
  }
  const left = lines.filter((l) => l !== '').length - shown.filter((l) => l !== '').length;
  return [
    section(
      `*The policy without the unused grants* (apply with \`git apply\` or \`patch -p1\`):\n\`\`\`${escapeText(shown.join('\n'))}\`\`\``,
    ),
    ...(left > 0
      ? [
          context(
            `…and ${left} more line${left === 1 ? '' : 's'} of the diff not shown: they remove the grants marked :scissors: above.`,
          ),
        ]
      : []),
  ];
}
