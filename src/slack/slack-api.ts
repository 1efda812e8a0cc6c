import type { KnownBlock, View, WebClient } from '@slack/web-api';
import type { FreshCredentials } from '../credentials/fresh-credentials.js';
import { type RetryAfter, rateLimitKey } from './retry-after.js';

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
}

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
  openView(args: { triggerId: string; view: View }): Promise<{ viewId: string }>;
  /** usergroups.users.list: the user ids in a user group. */
  usergroupMembers(usergroupId: string): Promise<string[]>;
}

export interface SlackApiDeps {
  clients: Pick<FreshCredentials<{ slack: WebClient }>, 'withFreshCredentials'>;
  retryAfter: RetryAfter;
}

export function createSlackApi(deps: SlackApiDeps): SlackApi {
  const { clients, retryAfter } = deps;
  const identities = new Map<string, Promise<BotIdentity>>();
  const call = <T>(method: string, channel: string | undefined, fn: (client: WebClient) => Promise<T>) =>
    retryAfter.run(rateLimitKey(method, channel), () => clients.withFreshCredentials('slack', fn));

  return {
    identity() {
      return clients.withFreshCredentials('slack', (client, credential) => {
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
    async postMessage({ channel, text, blocks, threadTs }) {
      const result = await call('chat.postMessage', channel, (c) =>
        c.chat.postMessage({
          channel,
          text,
          ...(blocks ? { blocks } : {}),
          ...(threadTs ? { thread_ts: threadTs } : {}),
        }),
      );
      return { channel: String(result.channel ?? channel), ts: String(result.ts ?? '') };
    },
    async updateMessage({ channel, ts, text, blocks }) {
      await call('chat.update', channel, (c) =>
        c.chat.update({ channel, ts, text, ...(blocks ? { blocks } : {}) }),
      );
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
    async openView({ triggerId, view }) {
      const result = await call('views.open', undefined, (c) =>
        c.views.open({ trigger_id: triggerId, view }),
      );
      return { viewId: String(result.view?.id ?? '') };
    },
    async usergroupMembers(usergroupId) {
      const result = await call('usergroups.users.list', undefined, (c) =>
        c.usergroups.users.list({ usergroup: usergroupId }),
      );
      return (result.users ?? []).slice(0, 10_000).map(String);
    },
  };
}
