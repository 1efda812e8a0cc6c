import type { KnownBlock } from '@slack/web-api';
import { actions, button, context, fields, header, section } from '../../slack/blocks.js';
import { escapeText, inlineCode, truncate, userMention } from '../../text/escape.js';
import type { Detection } from '../detection.js';
import { PERSON } from './rule.js';

/** The buttons on every detection (policy actions; the handlers are in commands/opsbot-security.ts). */
export const ACK_ACTION = 'opsbot:security-ack';
export const OPEN_ACTION = 'opsbot:security-open';

/** Each rule's name in a header. */
const RULE_TITLES: Readonly<Record<string, string>> = {
  denials: 'Repeated denials',
  firstUse: 'First use of an action',
  offHours: 'Admin action at an unusual hour',
  massDestructive: 'Mass destructive actions',
  chain: 'Audit trail broken',
  unexpectedSecretVersion: 'Unexpected secret version',
  signatureFailures: 'Requests failing signature checks',
  secretAccess: "Access to opsbot's secrets",
  breakGlass: 'Break glass: run without approval',
};

export function ruleTitle(rule: string): string {
  return RULE_TITLES[rule] ?? rule;
}

/** A detection's actor as Slack shows it: a mention for a person, else inline code (`opsbot`, an ARN). */
export function who(actor: string | undefined): string {
  if (!actor) return '—';
  return PERSON.test(actor) ? userMention(actor) : inlineCode(actor, 120);
}

/** `#12, #13, #14` (at most 50). */
export function evidenceText(seqs: readonly number[]): string {
  return seqs.length === 0
    ? 'none in the audit trail'
    : seqs
        .slice(0, 50)
        .map((s) => `#${s}`)
        .join(', ');
}

/** What a detection's buttons carry to "Open in audit": its sequence numbers, `12,13,14`. */
export function evidenceValue(seqs: readonly number[]): string {
  return seqs.slice(0, 50).join(',');
}

function when(at: string): string {
  return `${escapeText(at.replace('T', ' ').slice(0, 19))} UTC`;
}

/**
 * The security channel's message for one detection: a header, who, what, when, the evidence (audit
 * sequence numbers), the rule's details (names and numbers, escaped), and the buttons Acknowledge
 * and Open in audit. `acknowledged` replaces the Acknowledge button with who pressed it.
 */
export function detectionMessage(
  detection: Detection,
  acknowledged?: { by: string; at: string },
): { text: string; blocks: KnownBlock[] } {
  const title = `Security: ${ruleTitle(detection.rule)}`;
  const what = escapeText(truncate(detection.title, 500));
  const details = Object.entries(detection.details)
    .slice(0, 12)
    .map(([name, value]) => `${escapeText(name.slice(0, 40))}: ${inlineCode(String(value), 120)}`);
  const buttons = [
    ...(acknowledged ? [] : [button('Acknowledge', ACK_ACTION, detection.key, 'primary')]),
    ...(detection.evidence.length > 0
      ? [button('Open in audit', OPEN_ACTION, evidenceValue(detection.evidence))]
      : []),
  ];
  const blocks: KnownBlock[] = [
    header(`:rotating_light: ${title}`),
    section(`*${what}*`),
    fields([
      ['Who', who(detection.actor)],
      ['What', inlineCode(detection.rule, 40)],
      ['When', when(detection.at)],
      ['Evidence (audit records)', escapeText(evidenceText(detection.evidence))],
    ]),
    ...(details.length > 0 ? [section(details.join('\n'))] : []),
    ...(buttons.length > 0 ? [actions(buttons)] : []),
    context(
      acknowledged
        ? `:white_check_mark: Acknowledged by ${who(acknowledged.by)} at ${when(acknowledged.at)}.`
        : `Detection ${inlineCode(detection.key, 120)}. Never a secret value here; \`/opsbot audit\` shows the trail.`,
    ),
  ];
  const text = `${title}: ${what} (${who(detection.actor)}, ${when(detection.at)}; evidence ${escapeText(evidenceText(detection.evidence))})`;
  return { text, blocks };
}

/** The one message that says how many more of a rule's detections an hour held back. */
export function suppressedMessage(rule: string, count: number, hourIso: string): { text: string } {
  const hour = hourIso.slice(0, 13).replace('T', ' ');
  return {
    text: `:mute: ${count} more ${inlineCode(rule, 40)} detection${count === 1 ? ' was' : 's were'} suppressed between ${escapeText(hour)}:00 and ${escapeText(hour)}:59 UTC (at most 10 messages per rule an hour). Each is in the audit trail as \`security:detected\`: \`/opsbot audit --command security\`.`,
  };
}
