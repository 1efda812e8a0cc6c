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
}
export interface SimChannel {
  id: string;
  name: string;
  isPrivate?: boolean;
  botIsMember?: boolean;
}
export interface SimMessage {
  ts: string;
  user: string;
  text?: string;
  blocks?: unknown[];
  threadTs?: string;
  edited?: boolean;
}
export interface SimEphemeral {
  user: string;
  text?: string;
  blocks?: unknown[];
}
export interface SimView {
  id: string;
  userId: string;
  kind: 'modal' | 'home';
  view: unknown;
}

export type ApiAnswer = Record<string, unknown> & { ok: boolean };

const MAX_HISTORY = 1_000;
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

  #channel(args: Record<string, unknown>): SimChannel | ApiAnswer {
    const id = typeof args.channel === 'string' ? args.channel : '';
    if (!id) return { ok: false, error: 'channel_not_found' };
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
      const ts = this.nextTs();
      const threadTs = typeof args.thread_ts === 'string' ? args.thread_ts : undefined;
      this.record(this.history, channel.id, {
        ts,
        user: this.identity.botUserId,
        ...content,
        ...(threadTs ? { threadTs } : {}),
      });
      return { ok: true, channel: channel.id, ts, message: { ts, ...content } };
    },
    'chat.update': (args) => {
      const channel = this.#channel(args);
      if ('ok' in channel) return channel;
      const content = this.#content(args);
      if ('ok' in content) return content;
      const message = this.history.get(channel.id)?.find((m) => m.ts === args.ts);
      if (!message) return { ok: false, error: 'message_not_found' };
      Object.assign(message, content, { edited: true });
      return { ok: true, channel: channel.id, ts: message.ts };
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

function parseMaybe(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}
