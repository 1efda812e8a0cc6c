/**
 * The state of the simulated Slack workspace and its Web API methods, answering as Slack does:
 * HTTP 200 with `{ ok: false, error }` for API errors. Bounded everywhere.
 */
export interface SimUser {
  id: string;
  name: string;
  realName?: string;
  tz?: string;
  isAdmin?: boolean;
  /** Deactivated or left the workspace (users.info `deleted`). */
  deleted?: boolean;
}
export interface SimChannel {
  id: string;
  name: string;
  isPrivate?: boolean;
  botIsMember?: boolean;
}
/** Slack message metadata, as `chat.postMessage` accepts it and `conversations.history` returns it. */
export interface SimMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
}
export interface SimMessage {
  ts: string;
  user: string;
  text?: string;
  blocks?: unknown[];
  threadTs?: string;
  edited?: boolean;
  /** The ts Slack gives the last edit (`edited.ts`). */
  editedTs?: string;
  metadata?: SimMetadata;
}
export interface SimEphemeral {
  user: string;
  text?: string;
  blocks?: unknown[];
  /** Posted to a response_url (its id): later posts there with `replaceOriginal` replace this one. */
  responseId?: string;
  /** It replaces the last ephemeral posted to the same response_url (`replace_original`). */
  replaceOriginal?: boolean;
}
export interface SimView {
  id: string;
  userId: string;
  kind: 'modal' | 'home';
  view: unknown;
}

export type ApiAnswer = Record<string, unknown> & { ok: boolean };

const MAX_HISTORY = 20_000;
const MAX_METADATA_BYTES = 8_192;
const MAX_EVENT_TYPE = 100;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 999;
const TRIGGER_TTL_MS = 3_000;

export class SlackWorkspace {
  readonly users = new Map<string, SimUser>();
  readonly channels = new Map<string, SimChannel>();
  readonly usergroups = new Map<string, { id: string; handle: string; users: string[] }>();
  readonly history = new Map<string, SimMessage[]>();
  readonly ephemeral = new Map<string, SimEphemeral[]>();
  readonly viewsById = new Map<string, SimView>();
  readonly triggers = new Map<string, { userId: string; issuedAt: number }>();
  #seq = 0;

  constructor(
    readonly identity: {
      teamId: string;
      teamDomain: string;
      botUserId: string;
      botId: string;
      appId: string;
    },
    readonly now: () => number,
  ) {}

  nextTs(): string {
    this.#seq++;
    return `${Math.floor(this.now() / 1_000)}.${String(this.#seq).padStart(6, '0')}`;
  }

  issueTrigger(userId: string): string {
    const id = `${Math.floor(this.now() / 1_000)}.${++this.#seq}.trigger${this.#seq}`;
    this.triggers.set(id, { userId, issuedAt: this.now() });
    if (this.triggers.size > 1_000) this.triggers.delete(this.triggers.keys().next().value as string);
    return id;
  }

  /** How Slack links a message: `https://<team>.slack.com/archives/C…/p<ts without the dot>`. */
  permalink(channel: string, message: SimMessage): string {
    const base = `https://${this.identity.teamDomain}.slack.com/archives/${channel}/p${message.ts.replace('.', '')}`;
    return message.threadTs ? `${base}?thread_ts=${message.threadTs}&cid=${channel}` : base;
  }

  record<T>(map: Map<string, T[]>, key: string, item: T): void {
    const list = map.get(key) ?? [];
    list.push(item);
    if (list.length > MAX_HISTORY) list.splice(0, list.length - MAX_HISTORY);
    map.set(key, list);
  }

  /** Runs one Web API method with already-authenticated arguments. */
  call(method: string, args: Record<string, unknown>): ApiAnswer {
    const handler = this.#methods[method];
    return handler ? handler(args) : { ok: false, error: 'unknown_method' };
  }

  /** The bot's DM channel with a user (`D` + the user id), opened on first use as Slack does. */
  dmChannel(userId: string): SimChannel | undefined {
    const user = this.users.get(userId);
    if (!user) return undefined;
    const id = `D${userId}`;
    let channel = this.channels.get(id);
    if (!channel) {
      channel = { id, name: `dm-${user.name}`, isPrivate: true, botIsMember: true };
      this.channels.set(id, channel);
    }
    return channel;
  }

  #channel(args: Record<string, unknown>): SimChannel | ApiAnswer {
    const id = typeof args.channel === 'string' ? args.channel : '';
    if (!id) return { ok: false, error: 'channel_not_found' };
    // Posting to a user id posts in the bot's DM with them.
    if (/^[UW][A-Z0-9]+$/.test(id)) return this.dmChannel(id) ?? { ok: false, error: 'channel_not_found' };
    const channel = this.channels.get(id);
    if (!channel) return { ok: false, error: 'channel_not_found' };
    if (channel.botIsMember === false) return { ok: false, error: 'not_in_channel' };
    return channel;
  }

  #content(args: Record<string, unknown>): { text?: string; blocks?: unknown[] } | ApiAnswer {
    const text = typeof args.text === 'string' ? args.text : undefined;
    let blocks: unknown = args.blocks;
    if (typeof blocks === 'string') {
      try {
        blocks = JSON.parse(blocks);
      } catch {
        return { ok: false, error: 'invalid_blocks' };
      }
    }
    if (blocks !== undefined && (!Array.isArray(blocks) || blocks.length > 50))
      return { ok: false, error: 'invalid_blocks' };
    if (text === undefined && blocks === undefined) return { ok: false, error: 'no_text' };
    if (text && text.length > 40_000) return { ok: false, error: 'msg_too_long' };
    return { ...(text !== undefined ? { text } : {}), ...(blocks ? { blocks: blocks as unknown[] } : {}) };
  }

  /** `metadata` as Slack validates it: an object or its JSON, `{ event_type, event_payload }`, at most 8 KiB. */
  #metadata(args: Record<string, unknown>): { value: SimMetadata | undefined } | ApiAnswer {
    if (args.metadata === undefined) return { value: undefined };
    const parsed = parseMaybe(args.metadata);
    if (!isObject(parsed)) return { ok: false, error: 'invalid_metadata_format' };
    const { event_type: type, event_payload: payload } = parsed;
    if (typeof type !== 'string' || type.length === 0 || type.length > MAX_EVENT_TYPE || !isObject(payload))
      return { ok: false, error: 'invalid_metadata_format' };
    const json = JSON.stringify({ event_type: type, event_payload: payload });
    if (Buffer.byteLength(json, 'utf8') > MAX_METADATA_BYTES)
      return { ok: false, error: 'metadata_too_large' };
    return { value: JSON.parse(json) as SimMetadata };
  }

  /** Top-level messages (no thread_ts, or thread_ts === ts) and thread replies by parent ts. */
  #threads(channel: string): { top: SimMessage[]; replies: Map<string, SimMessage[]> } {
    const top: SimMessage[] = [];
    const replies = new Map<string, SimMessage[]>();
    for (const m of [...(this.history.get(channel) ?? [])].sort((a, b) => compareTs(a.ts, b.ts))) {
      if (!m.threadTs || m.threadTs === m.ts) top.push(m);
      else {
        const list = replies.get(m.threadTs) ?? [];
        list.push(m);
        replies.set(m.threadTs, list);
      }
    }
    return { top, replies };
  }

  /** A message as conversations.history and conversations.replies return it. */
  #render(
    m: SimMessage,
    replies: Map<string, SimMessage[]>,
    parentUser: string | undefined,
    withMetadata: boolean,
  ): Record<string, unknown> {
    const thread = replies.get(m.ts) ?? [];
    const replyUsers = [...new Set(thread.map((r) => r.user))];
    const isBot = m.user === this.identity.botUserId;
    const isReply = m.threadTs !== undefined && m.threadTs !== m.ts;
    return {
      type: 'message',
      ...(isBot ? { bot_id: this.identity.botId, app_id: this.identity.appId } : {}),
      user: m.user,
      text: m.text ?? '',
      ...(m.blocks ? { blocks: m.blocks } : {}),
      ts: m.ts,
      ...(thread.length > 0
        ? {
            thread_ts: m.ts,
            reply_count: thread.length,
            reply_users: replyUsers,
            reply_users_count: replyUsers.length,
            latest_reply: thread.at(-1)?.ts,
          }
        : {}),
      ...(isReply ? { thread_ts: m.threadTs, ...(parentUser ? { parent_user_id: parentUser } : {}) } : {}),
      ...(m.edited ? { edited: { user: this.identity.botUserId, ts: m.editedTs ?? m.ts } } : {}),
      ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}),
    };
  }

  /** Parses oldest/latest/inclusive/limit/cursor/include_all_metadata as Slack does. */
  #window(args: Record<string, unknown>):
    | {
        inRange: (ts: string) => boolean;
        limit: number;
        cursor: string | undefined;
        withMetadata: boolean;
      }
    | ApiAnswer {
    const oldest = tsArg(args.oldest);
    if (oldest === null) return { ok: false, error: 'invalid_ts_oldest' };
    const latest = tsArg(args.latest);
    if (latest === null) return { ok: false, error: 'invalid_ts_latest' };
    let cursor: string | undefined;
    if (typeof args.cursor === 'string' && args.cursor !== '') {
      const match = /^next_ts:(\d+\.\d+)$/.exec(Buffer.from(args.cursor, 'base64').toString('utf8'));
      if (!match?.[1]) return { ok: false, error: 'invalid_cursor' };
      cursor = match[1];
    }
    const inclusive = flag(args.inclusive);
    const requested = Number(args.limit ?? DEFAULT_PAGE);
    const limit =
      Number.isFinite(requested) && requested >= 1 ? Math.min(Math.floor(requested), MAX_PAGE) : DEFAULT_PAGE;
    const inRange = (ts: string): boolean => {
      if (oldest !== undefined) {
        const c = compareTs(ts, oldest);
        if (c < 0 || (c === 0 && !inclusive)) return false;
      }
      if (latest !== undefined) {
        const c = compareTs(ts, latest);
        if (c > 0 || (c === 0 && !inclusive)) return false;
      }
      return true;
    };
    return { inRange, limit, cursor, withMetadata: flag(args.include_all_metadata) };
  }

  readonly #methods: Record<string, (args: Record<string, unknown>) => ApiAnswer> = {
    'auth.test': () => ({
      ok: true,
      url: `https://${this.identity.teamDomain}.slack.com/`,
      team: this.identity.teamDomain,
      user: 'opsbot',
      team_id: this.identity.teamId,
      user_id: this.identity.botUserId,
      bot_id: this.identity.botId,
      is_enterprise_install: false,
    }),
    'chat.postMessage': (args) => {
      const channel = this.#channel(args);
      if ('ok' in channel) return channel;
      const content = this.#content(args);
      if ('ok' in content) return content;
      const metadata = this.#metadata(args);
      if ('ok' in metadata) return metadata;
      const ts = this.nextTs();
      const threadTs =
        typeof args.thread_ts === 'string' && args.thread_ts !== '' ? args.thread_ts : undefined;
      const parent = threadTs ? this.history.get(channel.id)?.find((m) => m.ts === threadTs) : undefined;
      const message: SimMessage = {
        ts,
        user: this.identity.botUserId,
        ...content,
        ...(threadTs ? { threadTs } : {}),
        ...(metadata.value ? { metadata: metadata.value } : {}),
      };
      this.record(this.history, channel.id, message);
      return {
        ok: true,
        channel: channel.id,
        ts,
        message: {
          type: 'message',
          bot_id: this.identity.botId,
          app_id: this.identity.appId,
          user: message.user,
          text: message.text ?? '',
          ...(message.blocks ? { blocks: message.blocks } : {}),
          ts,
          ...(threadTs ? { thread_ts: threadTs, ...(parent ? { parent_user_id: parent.user } : {}) } : {}),
          ...(message.metadata ? { metadata: message.metadata } : {}),
        },
      };
    },
    'chat.getPermalink': (args) => {
      const channel = this.#channel(args);
      if ('ok' in channel) return channel;
      const message = this.history.get(channel.id)?.find((m) => m.ts === args.message_ts);
      if (!message) return { ok: false, error: 'message_not_found' };
      return { ok: true, channel: channel.id, permalink: this.permalink(channel.id, message) };
    },
    'chat.update': (args) => {
      const channel = this.#channel(args);
      if ('ok' in channel) return channel;
      const content = this.#content(args);
      if ('ok' in content) return content;
      const metadata = this.#metadata(args);
      if ('ok' in metadata) return metadata;
      const message = this.history.get(channel.id)?.find((m) => m.ts === args.ts);
      if (!message) return { ok: false, error: 'message_not_found' };
      Object.assign(message, content, { edited: true, editedTs: this.nextTs() });
      if (metadata.value) message.metadata = metadata.value;
      return {
        ok: true,
        channel: channel.id,
        ts: message.ts,
        text: message.text ?? '',
        message: {
          type: 'message',
          bot_id: this.identity.botId,
          app_id: this.identity.appId,
          user: message.user,
          text: message.text ?? '',
          ...(message.blocks ? { blocks: message.blocks } : {}),
          edited: { user: this.identity.botUserId, ts: message.editedTs },
          ...(message.metadata ? { metadata: message.metadata } : {}),
        },
      };
    },
    'conversations.history': (args) => {
      const channel = this.#channel(args);
      if ('ok' in channel) return channel;
      const window = this.#window(args);
      if ('ok' in window) return window;
      const { top, replies } = this.#threads(channel.id);
      const newestFirst = top.filter((m) => window.inRange(m.ts)).reverse();
      const start = window.cursor
        ? atOrAfter(newestFirst, (m) => compareTs(m.ts, window.cursor as string) <= 0)
        : 0;
      return this.#page(newestFirst.slice(start), window.limit, (m) =>
        this.#render(m, replies, undefined, window.withMetadata),
      );
    },
    'conversations.replies': (args) => {
      const channel = this.#channel(args);
      if ('ok' in channel) return channel;
      const window = this.#window(args);
      if ('ok' in window) return window;
      const ts = typeof args.ts === 'string' ? args.ts : '';
      const { top, replies } = this.#threads(channel.id);
      const asked = this.history.get(channel.id)?.find((m) => m.ts === ts);
      const parentTs = asked?.threadTs && asked.threadTs !== asked.ts ? asked.threadTs : asked?.ts;
      const parent = top.find((m) => m.ts === parentTs);
      if (!parent) return { ok: false, error: 'thread_not_found' };
      const inRange = (replies.get(parent.ts) ?? []).filter((m) => window.inRange(m.ts));
      // Slack returns the parent first on the first page only; continuation pages hold replies.
      const items = window.cursor
        ? inRange.slice(atOrAfter(inRange, (m) => compareTs(m.ts, window.cursor as string) >= 0))
        : [parent, ...inRange];
      return this.#page(items, window.limit, (m) =>
        this.#render(m, replies, m === parent ? undefined : parent.user, window.withMetadata),
      );
    },
    'chat.postEphemeral': (args) => {
      const channel = this.#channel(args);
      if ('ok' in channel) return channel;
      const user = typeof args.user === 'string' ? this.users.get(args.user) : undefined;
      if (!user) return { ok: false, error: 'user_not_in_channel' };
      const content = this.#content(args);
      if ('ok' in content) return content;
      this.record(this.ephemeral, channel.id, { user: user.id, ...content });
      return { ok: true, message_ts: this.nextTs() };
    },
    'views.open': (args) => {
      const trigger = typeof args.trigger_id === 'string' ? this.triggers.get(args.trigger_id) : undefined;
      if (!args.trigger_id || !args.view) return { ok: false, error: 'invalid_arguments' };
      if (!trigger) return { ok: false, error: 'invalid_trigger' };
      this.triggers.delete(args.trigger_id as string);
      if (this.now() - trigger.issuedAt > TRIGGER_TTL_MS) return { ok: false, error: 'expired_trigger_id' };
      return this.#storeView(trigger.userId, 'modal', args.view);
    },
    'views.publish': (args) => {
      if (typeof args.user_id !== 'string' || !this.users.has(args.user_id))
        return { ok: false, error: 'user_not_found' };
      return this.#storeView(args.user_id, 'home', args.view);
    },
    'views.update': (args) => {
      const view = typeof args.view_id === 'string' ? this.viewsById.get(args.view_id) : undefined;
      if (!view) return { ok: false, error: 'not_found' };
      view.view = parseMaybe(args.view);
      return { ok: true, view: { id: view.id, ...(view.view as object) } };
    },
    'usergroups.users.list': (args) => {
      const group = typeof args.usergroup === 'string' ? this.usergroups.get(args.usergroup) : undefined;
      if (!group) return { ok: false, error: 'no_such_subteam' };
      return { ok: true, users: [...group.users] };
    },
    'users.info': (args) => {
      const user = typeof args.user === 'string' ? this.users.get(args.user) : undefined;
      if (!user) return { ok: false, error: 'user_not_found' };
      return {
        ok: true,
        user: {
          id: user.id,
          name: user.name,
          real_name: user.realName ?? user.name,
          tz: user.tz ?? 'UTC',
          is_admin: user.isAdmin ?? false,
          deleted: user.deleted ?? false,
        },
      };
    },
    'conversations.info': (args) => {
      const channel = typeof args.channel === 'string' ? this.channels.get(args.channel) : undefined;
      if (!channel) return { ok: false, error: 'channel_not_found' };
      return {
        ok: true,
        channel: {
          id: channel.id,
          name: channel.name,
          is_private: channel.isPrivate ?? false,
          is_member: channel.botIsMember !== false,
        },
      };
    },
  };

  #page(items: SimMessage[], limit: number, render: (m: SimMessage) => Record<string, unknown>): ApiAnswer {
    const next = items[limit];
    return {
      ok: true,
      messages: items.slice(0, limit).map(render),
      has_more: next !== undefined,
      response_metadata: { next_cursor: next ? Buffer.from(`next_ts:${next.ts}`).toString('base64') : '' },
    };
  }

  #storeView(userId: string, kind: SimView['kind'], raw: unknown): ApiAnswer {
    const view = parseMaybe(raw);
    if (!view || typeof view !== 'object') return { ok: false, error: 'invalid_arguments' };
    const id = `V${String(++this.#seq).padStart(8, '0')}`;
    this.viewsById.set(id, { id, userId, kind, view });
    if (this.viewsById.size > MAX_HISTORY)
      this.viewsById.delete(this.viewsById.keys().next().value as string);
    return { ok: true, view: { id, ...(view as object) } };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Slack's boolean arguments: `true`, or `'true'`/`'1'` form-encoded. */
function flag(value: unknown): boolean {
  return value === true || value === 1 || value === 'true' || value === '1';
}

/** A Slack ts argument: undefined when absent, null when malformed. */
function tsArg(value: unknown): string | undefined | null {
  if (value === undefined || value === '') return undefined;
  const text = typeof value === 'number' ? String(value) : value;
  return typeof text === 'string' && /^\d+(\.\d+)?$/.test(text) ? text : null;
}

/** Compares two Slack ts strings (`seconds.fraction`) exactly, without float rounding. */
export function compareTs(a: string, b: string): number {
  const [aSec = '0', aFrac = ''] = a.split('.');
  const [bSec = '0', bFrac = ''] = b.split('.');
  const x = BigInt(aSec);
  const y = BigInt(bSec);
  if (x !== y) return x < y ? -1 : 1;
  const width = Math.max(aFrac.length, bFrac.length);
  const p = aFrac.padEnd(width, '0');
  const q = bFrac.padEnd(width, '0');
  return p < q ? -1 : p > q ? 1 : 0;
}

function atOrAfter<T>(list: T[], test: (item: T) => boolean): number {
  const index = list.findIndex(test);
  return index === -1 ? list.length : index;
}

function parseMaybe(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}
