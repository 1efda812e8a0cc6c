import type { KnownBlock } from '@slack/web-api';
import { actions, button, context, fields, section } from '../slack/blocks.js';
import {
  channelMention,
  escapeText,
  inlineCode,
  truncate,
  usergroupMention,
  userMention,
} from '../text/escape.js';
import type { ApprovalRequest, Approvers } from './request.js';

/** The buttons of a request (policy actions open to everyone; who may decide is the request's). */
export const APPROVE_ACTION = 'opsbot:approve';
export const DENY_ACTION = 'opsbot:deny';
export const CANCEL_ACTION = 'opsbot:cancel';

/** `<@U0LEAD>, <!subteam^S0LEADS>`. */
export function approversText(approvers: Approvers): string {
  return (
    [...approvers.users.map(userMention), ...approvers.usergroups.map(usergroupMention)].join(', ') ||
    'nobody'
  );
}

/** A time as Slack shows it in the reader's own time zone, with a UTC fallback. */
export function slackTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `<!date^${Math.floor(ms / 1_000)}^{date_short_pretty} {time}|${iso.slice(0, 16).replace('T', ' ')} UTC>`;
}

/** What was asked, in one line: `devenv:up` (template=large ttl=4h). The arguments are the audit summary. */
export function whatText(request: ApprovalRequest): string {
  const args = request.held.args ? ` ${escapeText(truncate(request.held.args, 300))}` : '';
  return `${inlineCode(request.held.action, 60)}${args}`;
}

const STATUS_LINES: Record<Exclude<ApprovalRequest['status'], 'open'>, (r: ApprovalRequest) => string> = {
  approved: (r) => `:white_check_mark: Approved by ${who(r.decidedBy)} ${at(r.decidedAt)}; running…`,
  ran: (r) =>
    `${r.outcome === 'success' ? ':white_check_mark:' : ':x:'} Approved by ${who(r.decidedBy)} ${at(r.decidedAt)}; ${
      r.outcome === 'success'
        ? 'it ran'
        : r.outcome === 'denied'
          ? 'it was refused when it ran'
          : 'it failed when it ran'
    } (answer in the thread).`,
  denied: (r) => `:no_entry_sign: Denied by ${who(r.decidedBy)} ${at(r.decidedAt)}; nothing ran.`,
  cancelled: (r) =>
    `:leftwards_arrow_with_hook: Cancelled by ${who(r.decidedBy)} ${at(r.decidedAt)}; nothing ran.`,
  expired: (r) => `:hourglass: Expired ${at(r.expiresAt)} with no decision; nothing ran.`,
};

/** How a closed request ended, in one line. */
function statusLine(request: ApprovalRequest): string {
  return request.status === 'open' ? '' : STATUS_LINES[request.status](request);
}

function who(id: string | undefined): string {
  return id && /^[UW][A-Z0-9]{2,20}$/.test(id) ? userMention(id) : 'opsbot';
}

function at(ms: number | undefined): string {
  return ms === undefined ? '' : `at ${slackTime(ms)}`;
}

/**
 * The request as approvers see it: who asks to run what, where, who may decide, until when, and
 * Approve / Deny / Cancel while it is open; once closed, how it ended and no buttons.
 */
export function requestMessage(request: ApprovalRequest): { text: string; blocks: KnownBlock[] } {
  const { held } = request;
  const asker = userMention(held.actor.userId);
  const title = `Approval needed: ${asker} asks to run ${whatText(request)}`;
  const open = request.status === 'open';
  const blocks: KnownBlock[] = [
    section(`:raising_hand: *${title}*`),
    fields([
      ['Where', channelMention(held.actor.channelId)],
      ['Approvers', approversText(request.approvers)],
      ['Expires', slackTime(request.expiresAt)],
      ['Request', inlineCode(request.id, 20)],
    ]),
    ...(open
      ? [
          actions([
            button('Approve', APPROVE_ACTION, request.id, 'primary'),
            button('Deny', DENY_ACTION, request.id, 'danger'),
            button('Cancel', CANCEL_ACTION, request.id),
          ]),
          context(
            `Runs once, as ${asker}, when one approver approves; never by the requester. Cancel is the requester's.`,
          ),
        ]
      : [context(statusLine(request))]),
  ];
  const status = open ? '' : ` — ${statusLine(request)}`;
  return { text: `${title}${status}`, blocks };
}

/** What the requester is told when the action is held. */
export function heldReply(request: ApprovalRequest, channel: string): { text: string; blocks: KnownBlock[] } {
  const text = `:hourglass_flowing_sand: ${whatText(request)} needs a second person. Request ${inlineCode(request.id, 20)} is posted in ${channelMention(channel)} for ${approversText(request.approvers)}; it runs as you once approved, and expires ${slackTime(request.expiresAt)}.`;
  return {
    text,
    blocks: [section(text), actions([button('Cancel request', CANCEL_ACTION, request.id)])],
  };
}

/** The first line of the thread reply with an approved action's answer: it names (notifies) the requester. */
export function resultReply(request: ApprovalRequest): string {
  return `${userMention(request.held.actor.userId)} ${whatText(request)} (request ${inlineCode(request.id, 20)}, approved by ${who(request.decidedBy)}):`;
}
