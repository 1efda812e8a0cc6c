import { App, type Authorize, type Receiver } from '@slack/bolt';
import type { CredentialProvider } from '../credentials/provider.js';
import { slack, slackClientOptions } from '../integrations/slack.js';
import type { SlackApi } from '../integrations/slack-api.js';
import { slackLogger } from '../integrations/slack-logger.js';
import type { Logger } from '../log.js';
import type { PipelineDeps } from './interaction.js';
import { registerCommands } from './listeners/commands.js';
import { registerHome } from './listeners/home.js';
import { registerInteractions } from './listeners/interactions.js';
import { registerMessages } from './listeners/messages.js';
import type { MessageWatcher } from './message-watcher.js';

export interface SlackAppDeps extends PipelineDeps {
  credentials: CredentialProvider;
  slack: SlackApi;
  /** {@link SlackHttpReceiver} (Events API over HTTP) or {@link SlackSocketReceiver} (Socket Mode). */
  receiver: Receiver;
  apiUrl?: string;
  log: Logger;
  /** What the features watch channel messages for (one `message` listener runs them all). */
  messageWatchers?: readonly MessageWatcher[];
}

/**
 * The Bolt app. Nothing static: the bot token comes from the credential provider on every event
 * (`authorize`, with the bot's ids from one auth.test per token version, so Bolt never calls
 * auth.test itself), and the receiver verifies signatures against the provider's signing secrets.
 * A rotation of the `slack` secret therefore needs no restart.
 */
export function createSlackApp(deps: SlackAppDeps): App {
  const authorize: Authorize<boolean> = async () => {
    const credential = await deps.credentials.get(slack.secret);
    const identity = await deps.slack.identity();
    return {
      botToken: credential.value.reveal().botToken,
      botId: identity.botId,
      botUserId: identity.botUserId,
      teamId: identity.teamId,
      botTokenVersion: credential.versionId,
    };
  };
  const app = new App({
    receiver: deps.receiver,
    authorize,
    logger: slackLogger(deps.log.child({ component: 'bolt' })),
    clientOptions: slackClientOptions({ log: deps.log, ...(deps.apiUrl ? { apiUrl: deps.apiUrl } : {}) }),
    ignoreSelf: true,
    // opsbot keeps no conversation state in Bolt; its default in-memory store is pure overhead.
    convoStore: false,
  });
  app.error(async (error) => {
    deps.log.error({ err: error }, 'Bolt reported an error');
  });
  registerCommands(app, deps);
  registerInteractions(app, deps);
  registerHome(app, deps);
  registerMessages(app, { messageWatchers: deps.messageWatchers ?? [], clock: deps.clock, log: deps.log });
  return app;
}
