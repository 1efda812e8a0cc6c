import { type KnownBlock, type View, ErrorCode as WebApiErrorCode, type WebClient } from '@slack/web-api';
import type { CredentialedCalls } from './integration.js';
import { type RateLimitPolicy, type RateLimits, retryAfterMs } from './rate-limits.js';

export interface BotIdentity {
  teamId: string;
  botUserId: string;
  botId: string;
}

export interface MessageArgs {
  channel: string;
  text: string;
  blocks?: KnownBlock[];
  threadTs?: string;
  /** Slack message metadata: how opsbot finds a message it posted again (after a crash). */
  metadata?: MessageMetadata;
}

export interface MessageMetadata {
  event_type: string;
  event_payload: Record<string, string | number | boolean>;
}

/** Most pages of 200 messages {@link SlackApi.findByMetadata} reads. */
export const FIND_MAX_PAGES = 5;

/**
 * The Slack Web API as opsbot's commands, alerts and access checks use it. Every call runs with the
 * current bot token (refreshed once and retried on `invalid_auth` after a rotation) and honours
 * Retry-After for its own channel or method only.
 */
export interface SlackApi {
  /** auth.test, once per version of the bot token. */
  identity(): Promise<BotIdentity>;
  postMessage(args: MessageArgs): Promise<{ channel: string; ts: string }>;
  updateMessage(args: MessageArgs & { ts: string }): Promise<void>;
  postEphemeral(args: MessageArgs & { user: string }): Promise<void>;
  /**
   * The ts of a message opsbot posted in `channel` (in the thread `threadTs`, when given) since
   * `oldestTs` whose metadata has `eventType` and `event_payload.key === key`; at most
   * {@link FIND_MAX_PAGES} pages of 200 messages are read.
   */
  findByMetadata(args: {
    channel: string;
    threadTs?: string;
    oldestTs: string;
    eventType: string;
    key: string;
  }): Promise<string | undefined>;
  /** chat.getPermalink: a link to one message. */
  permalink(args: { channel: string; ts: string }): Promise<string>;
  openView(args: { triggerId: string; view: View }): Promise<{ viewId: string }>;
  /** views.publish: the user's App Home tab. */
  publishHome(args: { userId: string; view: View }): Promise<void>;
  /** usergroups.users.list: the user ids in a user group. */
  usergroupMembers(usergroupId: string): Promise<string[]>;
  /** users.info: whether the person is still in the workspace (`deleted`: deactivated or left). */
  userInfo(userId: string): Promise<{ id: string; deleted: boolean }>;
}

export interface SlackApiDeps {
  calls: CredentialedCalls<WebClient>;
  rateLimits: RateLimits;
}

/**
 * Slack's 429s: the WebClient rejects them (`rejectRateLimitedCalls`) with `retryAfter` in seconds.
 * Waits of up to 30 s are taken on the caller's behalf (a message that arrives late beats none).
 */
export const slackRateLimits: RateLimitPolicy = {
  service: 'Slack',
  maxWaitMs: 30_000,
  maxAttempts: 3,
  waitOf: (error) => {
    const e = error as { code?: string; retryAfter?: number } | undefined;
    return e?.code === WebApiErrorCode.RateLimitedError ? (retryAfterMs(e.retryAfter) ?? 1_000) : undefined;
  },
};

/** The key a call is rate-limited under: chat.* per channel (Slack limits posting per channel), else per method. */
export function rateLimitKey(method: string, channel?: string): string {
  return channel && method.startsWith('chat.') ? `${method}:${channel}` : method;
}

export function createSlackApi(deps: SlackApiDeps): SlackApi {
  const { calls, rateLimits } = deps;
  const identities = new Map<string, Promise<BotIdentity>>();
  const call = <T>(method: string, channel: string | undefined, fn: (client: WebClient) => Promise<T>) =>
    rateLimits.run(`slack:${rateLimitKey(method, channel)}`, slackRateLimits, () => calls.run(fn));

  return {
    identity() {
      return calls.run((client, credential) => {
        let identity = identities.get(credential.versionId);
        if (!identity) {
          identity = client.auth.test().then((r) => ({
            teamId: String(r.team_id ?? ''),
            botUserId: String(r.user_id ?? ''),
            botId: String(r.bot_id ?? ''),
          }));
          identity.catch(() => identities.delete(credential.versionId));
          identities.clear(); // one token in use at a time: forget older versions
          identities.set(credential.versionId, identity);
        }
        return identity;
      });
    },
    async postMessage({ channel, text, blocks, threadTs, metadata }) {
      const result = await call('chat.postMessage', channel, (c) =>
        c.chat.postMessage({
          channel,
          text,
          ...(blocks ? { blocks } : {}),
          ...(threadTs ? { thread_ts: threadTs } : {}),
          ...(metadata ? { metadata } : {}),
        }),
      );
      return { channel: String(result.channel ?? channel), ts: String(result.ts ?? '') };
    },
    async updateMessage({ channel, ts, text, blocks, metadata }) {
      await call('chat.update', channel, (c) =>
        c.chat.update({
          channel,
          ts,
          text,
          ...(blocks ? { blocks } : {}),
          ...(metadata ? { metadata } : {}),
        }),
      );
    },
    async findByMetadata({ channel, threadTs, oldestTs, eventType, key }) {
      let cursor: string | undefined;
      for (let page = 0; page < FIND_MAX_PAGES; page++) {
        const args = {
          channel,
          oldest: oldestTs,
          limit: 200,
          include_all_metadata: true,
          ...(cursor ? { cursor } : {}),
        };
        const result = threadTs
          ? await call('conversations.replies', undefined, (c) =>
              c.conversations.replies({ ...args, ts: threadTs }),
            )
          : await call('conversations.history', undefined, (c) => c.conversations.history(args));
        for (const m of (result.messages ?? []) as Array<{ ts?: string; metadata?: MessageMetadata }>) {
          if (m.metadata?.event_type === eventType && m.metadata.event_payload?.key === key && m.ts)
            return m.ts;
        }
        cursor = result.response_metadata?.next_cursor || undefined;
        if (!result.has_more || !cursor) return undefined;
      }
      return undefined;
    },
    async postEphemeral({ channel, user, text, blocks, threadTs }) {
      await call('chat.postEphemeral', channel, (c) =>
        c.chat.postEphemeral({
          channel,
          user,
          text,
          ...(blocks ? { blocks } : {}),
          ...(threadTs ? { thread_ts: threadTs } : {}),
        }),
      );
    },
    async permalink({ channel, ts }) {
      const result = await call('chat.getPermalink', undefined, (c) =>
        c.chat.getPermalink({ channel, message_ts: ts }),
      );
      return String(result.permalink ?? '');
    },
    async openView({ triggerId, view }) {
      const result = await call('views.open', undefined, (c) =>
        c.views.open({ trigger_id: triggerId, view }),
      );
      return { viewId: String(result.view?.id ?? '') };
    },
    async publishHome({ userId, view }) {
      await call('views.publish', undefined, (c) => c.views.publish({ user_id: userId, view }));
    },
    async usergroupMembers(usergroupId) {
      const result = await call('usergroups.users.list', undefined, (c) =>
        c.usergroups.users.list({ usergroup: usergroupId }),
      );
      return (result.users ?? []).slice(0, 10_000).map(String);
    },
    async userInfo(userId) {
      const result = await call('users.info', undefined, (c) => c.users.info({ user: userId }));
      return { id: String(result.user?.id ?? userId), deleted: result.user?.deleted === true };
    },
  };
}
