import type { App } from '@slack/bolt';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import type { RequestScope } from '../../request-scope.js';
import { newRequestId } from '../../request-scope.js';
import { type MessageWatcher, watchedMessageOf } from '../message-watcher.js';

export interface MessageListenerDeps {
  /** What the features watch messages for (`Feature.messageWatchers`); none: no listener at all. */
  messageWatchers: readonly MessageWatcher[];
  clock: Clock;
  log: Logger;
}

/**
 * One Bolt `message` listener for every watcher (messages in the channels opsbot is in): it reads
 * the event (a person's new message or edit; bots' messages and subtypes without a person's text
 * are skipped, and Bolt's `ignoreSelf` drops opsbot's own) and hands it to each watcher. It knows
 * nothing of what a watcher does; a watcher's failure is logged, never shown, never the text.
 */
export function registerMessages(app: App, deps: MessageListenerDeps): void {
  if (deps.messageWatchers.length === 0) return;
  app.event('message', async ({ event, context }) => {
    const message = watchedMessageOf(event, deps.clock.now());
    if (!message) return;
    const requestId = typeof context.requestId === 'string' ? context.requestId : newRequestId();
    const scope: RequestScope = { requestId, credentialVersions: new Set() };
    await Promise.all(
      deps.messageWatchers.map(async (watcher) => {
        try {
          await watcher.onMessage(message, scope);
        } catch (error) {
          deps.log.error(
            { err: error, requestId, watcher: watcher.name, channel: message.channel, ts: message.ts },
            'a message watcher failed',
          );
        }
      }),
    );
  });
}
