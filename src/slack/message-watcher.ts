import type { RequestScope } from '../request-scope.js';

/**
 * A person's message in a channel opsbot is a member of (Events API `message.channels` and
 * `message.groups`), as a watcher sees it: a new message, or an edit of one (`editedTs` set).
 */
export interface WatchedMessage {
  channel: string;
  /** The author (a person: messages from bots never reach a watcher). */
  user: string;
  /** The message's ts (for an edit: the edited message's own ts). */
  ts: string;
  /** At most {@link MAX_WATCHED_TEXT} characters of its text. */
  text: string;
  threadTs?: string;
  /** For an edit: the edit's ts (`edited.ts`, else the event's ts). */
  editedTs?: string;
  /** For an edit: the text before it (bounded like `text`), so a watcher can tell what is new. */
  previousText?: string;
  /** When opsbot received the event (the app's clock, ms). */
  receivedAt: number;
}

/**
 * Something a feature runs on every person's message in the channels opsbot is in (the leak
 * watch). Contributed by a feature (`Feature.messageWatchers`); the Slack layer runs every watcher
 * from one Bolt `message` listener and knows nothing of what they do. A watcher must be quick on
 * the common path (most messages are nothing to it) and must not throw: an error is logged.
 */
export interface MessageWatcher {
  name: string;
  onMessage(message: WatchedMessage, scope: RequestScope): Promise<void>;
}

/** Slack allows 40,000 characters in a message; more than this is never handed to a watcher. */
export const MAX_WATCHED_TEXT = 65_536;

/** Subtypes that carry a person's own text; every other subtype (joins, bot messages, topics…) is skipped. */
const USER_TEXT_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast', 'me_message']);

const ID = /^[A-Z0-9]{2,32}$/;
const TS = /^\d{1,12}\.\d{1,9}$/;

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const bounded = (text: string) => (text.length > MAX_WATCHED_TEXT ? text.slice(0, MAX_WATCHED_TEXT) : text);

/**
 * The watched message an Events API `message` event carries, or undefined when it is nothing a
 * watcher reads: a bot's message (`bot_id`, subtype `bot_message`), a subtype without a person's
 * text (joins, deletions, topic changes), an event without a user, a channel, a ts or text, or an
 * edit whose text did not change. An edit (`message_changed`) is read from its inner `message`.
 */
export function watchedMessageOf(event: unknown, receivedAt: number): WatchedMessage | undefined {
  if (!isRecord(event) || event.type !== 'message') return undefined;
  const channel = str(event.channel);
  if (!channel || !ID.test(channel)) return undefined;
  if (event.subtype === 'message_changed') {
    const inner = event.message;
    const before = event.previous_message;
    if (!isRecord(inner) || !USER_TEXT_SUBTYPES.has(str(inner.subtype))) return undefined;
    const message = personal(inner, channel, receivedAt);
    if (!message) return undefined;
    const previousText = isRecord(before) ? str(before.text) : undefined;
    if (previousText !== undefined && bounded(previousText) === message.text) return undefined;
    const edited = isRecord(inner.edited) ? str(inner.edited.ts) : undefined;
    const editedTs = edited && TS.test(edited) ? edited : str(event.ts);
    return {
      ...message,
      ...(editedTs && TS.test(editedTs) ? { editedTs } : {}),
      ...(previousText !== undefined ? { previousText: bounded(previousText) } : {}),
    };
  }
  if (!USER_TEXT_SUBTYPES.has(str(event.subtype))) return undefined;
  return personal(event, channel, receivedAt);
}

function personal(m: Json, channel: string, receivedAt: number): WatchedMessage | undefined {
  if (m.bot_id !== undefined || m.bot_profile !== undefined) return undefined;
  const user = str(m.user);
  const ts = str(m.ts);
  const text = str(m.text);
  if (!user || !ID.test(user) || !ts || !TS.test(ts) || !text) return undefined;
  const threadTs = str(m.thread_ts);
  return {
    channel,
    user,
    ts,
    text: bounded(text),
    ...(threadTs && TS.test(threadTs) && threadTs !== ts ? { threadTs } : {}),
    receivedAt,
  };
}
