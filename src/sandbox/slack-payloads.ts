import { randomBytes } from 'node:crypto';
import type { SlackWorkspace } from './slack-workspace.js';

/**
 * What Slack sends an app, field for field: the slash-command form, and the `block_actions` and
 * `view_submission` payloads (the fields Bolt and opsbot read, and the usual others).
 */
export interface SlashCommand {
  command: string;
  text: string;
  userId: string;
  channelId: string;
  teamId?: string;
}

export interface BlockAction {
  userId: string;
  channelId: string;
  actionId: string;
  blockId?: string;
  value?: string;
  messageTs?: string;
  /** Reuse the response_url of the message the button is on; a new one by default. */
  responseUrl?: string;
  /** A static select menu choice instead of a button press (`text` defaults to `value`). */
  selectedOption?: { value: string; text?: string };
  /** The message the element is on, as Slack includes it in the payload. */
  message?: { text?: string; blocks?: unknown[]; threadTs?: string };
  /** Pressed in the user's App Home (view id): no channel, no message, no response_url. */
  homeViewId?: string;
}

export interface ViewSubmission {
  userId: string;
  viewId?: string;
  callbackId: string;
  privateMetadata?: string;
  values: Record<string, Record<string, unknown>>;
}

/** A message shortcut ("Create Jira issue") used on a message in the channel's history. */
export interface MessageShortcutUse {
  userId: string;
  channelId: string;
  callbackId: string;
  message: { ts: string; user: string; text?: string; threadTs?: string };
}

const TOKEN = 'deprecated-verification-token';

function userOf(ws: SlackWorkspace, id: string) {
  const name = ws.users.get(id)?.name ?? 'someone';
  return { id, username: name, name, team_id: ws.identity.teamId };
}

export function slashCommandForm(
  ws: SlackWorkspace,
  cmd: SlashCommand,
  responseUrl: string,
  triggerId: string,
): URLSearchParams {
  return new URLSearchParams({
    token: TOKEN,
    team_id: cmd.teamId ?? ws.identity.teamId,
    team_domain: ws.identity.teamDomain,
    channel_id: cmd.channelId,
    channel_name: ws.channels.get(cmd.channelId)?.name ?? 'unknown',
    user_id: cmd.userId,
    user_name: ws.users.get(cmd.userId)?.name ?? 'someone',
    command: cmd.command,
    text: cmd.text,
    api_app_id: ws.identity.appId,
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: triggerId,
  });
}

export function blockActionPayload(
  ws: SlackWorkspace,
  a: BlockAction,
  responseUrl: string,
  triggerId: string,
): Record<string, unknown> {
  const messageTs = a.messageTs ?? ws.nextTs();
  const actionTs = `${ws.now() / 1_000}`;
  const blockId = a.blockId ?? 'block';
  const action = a.selectedOption
    ? {
        type: 'static_select',
        action_id: a.actionId,
        block_id: blockId,
        selected_option: {
          text: { type: 'plain_text', text: a.selectedOption.text ?? a.selectedOption.value },
          value: a.selectedOption.value,
        },
        action_ts: actionTs,
      }
    : { action_id: a.actionId, block_id: blockId, value: a.value ?? '', type: 'button', action_ts: actionTs };
  if (a.homeViewId !== undefined) {
    // What Slack sends for a button in App Home: the view, and neither channel nor response_url.
    return {
      type: 'block_actions',
      team: { id: ws.identity.teamId, domain: ws.identity.teamDomain },
      user: userOf(ws, a.userId),
      api_app_id: ws.identity.appId,
      token: TOKEN,
      container: { type: 'view', view_id: a.homeViewId },
      trigger_id: triggerId,
      view: { id: a.homeViewId, type: 'home', ...(ws.viewsById.get(a.homeViewId)?.view as object) },
      actions: [action],
    };
  }
  return {
    type: 'block_actions',
    team: { id: ws.identity.teamId, domain: ws.identity.teamDomain },
    user: userOf(ws, a.userId),
    api_app_id: ws.identity.appId,
    token: TOKEN,
    container: {
      type: 'message',
      message_ts: messageTs,
      channel_id: a.channelId,
      is_ephemeral: a.message === undefined,
    },
    trigger_id: triggerId,
    channel: { id: a.channelId, name: ws.channels.get(a.channelId)?.name ?? 'unknown' },
    message: {
      ts: messageTs,
      type: 'message',
      text: a.message?.text ?? '',
      ...(a.message?.blocks ? { blocks: a.message.blocks } : {}),
      ...(a.message?.threadTs ? { thread_ts: a.message.threadTs } : {}),
    },
    response_url: responseUrl,
    actions: [action],
  };
}

export function viewSubmissionPayload(
  ws: SlackWorkspace,
  s: ViewSubmission,
  triggerId: string,
): Record<string, unknown> {
  return {
    type: 'view_submission',
    team: { id: ws.identity.teamId, domain: ws.identity.teamDomain },
    user: userOf(ws, s.userId),
    api_app_id: ws.identity.appId,
    token: TOKEN,
    trigger_id: triggerId,
    view: {
      id: s.viewId ?? 'V0SUBMIT',
      type: 'modal',
      team_id: ws.identity.teamId,
      callback_id: s.callbackId,
      private_metadata: s.privateMetadata ?? '',
      state: { values: s.values },
      hash: randomBytes(6).toString('hex'),
      app_id: ws.identity.appId,
    },
    response_urls: [],
  };
}

export function messageShortcutPayload(
  ws: SlackWorkspace,
  s: MessageShortcutUse,
  responseUrl: string,
  triggerId: string,
): Record<string, unknown> {
  return {
    type: 'message_action',
    token: TOKEN,
    action_ts: `${Date.now() / 1_000}`,
    team: { id: ws.identity.teamId, domain: ws.identity.teamDomain },
    user: userOf(ws, s.userId),
    channel: { id: s.channelId, name: ws.channels.get(s.channelId)?.name ?? 'unknown' },
    is_enterprise_install: false,
    callback_id: s.callbackId,
    trigger_id: triggerId,
    response_url: responseUrl,
    message_ts: s.message.ts,
    message: {
      type: 'message',
      user: s.message.user,
      ts: s.message.ts,
      text: s.message.text ?? '',
      ...(s.message.threadTs ? { thread_ts: s.message.threadTs } : {}),
    },
  };
}
