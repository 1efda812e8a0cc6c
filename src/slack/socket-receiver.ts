import { randomUUID } from 'node:crypto';
import type { App, Receiver } from '@slack/bolt';
import { SocketModeClient } from '@slack/socket-mode';
import type { CredentialProvider } from '../credentials/provider.js';
import { ConfigError } from '../errors.js';
import type { SlackSecret } from '../integrations/slack.js';
import type { Logger } from '../log.js';
import { boltLogger } from './bolt-logger.js';
import type { ReceiverProperties } from './receiver.js';

export interface SlackSocketReceiverDeps {
  credentials: Pick<CredentialProvider, 'get' | 'onChange'>;
  log: Logger;
  /** `OPSBOT_SLACK_API_URL`, for apps.connections.open. */
  apiUrl?: string;
}

interface Connection {
  client: SocketModeClient;
  appToken: string;
  versionId: string;
}

/**
 * Socket Mode (`OPSBOT_SLACK_MODE=socket`): events arrive over a WebSocket opened with the app-level
 * token (`appToken` in the `slack` secret), so no inbound URL is needed. The token comes from the
 * credential provider; when a rotation changes it, a new connection is opened before the old one
 * is closed, so no event is dropped and no restart is needed.
 */
export class SlackSocketReceiver implements Receiver {
  readonly #deps: SlackSocketReceiverDeps;
  #app: App | undefined;
  #connection: Connection | undefined;
  #unsubscribe: (() => void) | undefined;
  #switching: Promise<void> = Promise.resolve();
  readonly #inFlight = new Set<Promise<void>>();

  constructor(deps: SlackSocketReceiverDeps) {
    this.#deps = deps;
  }

  init(app: App): void {
    this.#app = app;
  }

  async start(): Promise<void> {
    const credential = await this.#deps.credentials.get<SlackSecret>('slack');
    await this.#connect(credential.value.reveal().appToken, credential.versionId);
    this.#unsubscribe = this.#deps.credentials.onChange<SlackSecret>('slack', ({ current }) => {
      const appToken = current.value.reveal().appToken;
      if (appToken === this.#connection?.appToken) return;
      this.#switching = this.#switching.then(() =>
        this.#connect(appToken, current.versionId).catch((error: unknown) =>
          this.#deps.log.error({ err: error }, 'could not reconnect Socket Mode with the rotated app token'),
        ),
      );
    });
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.#switching;
    const connection = this.#connection;
    this.#connection = undefined;
    await connection?.client.disconnect();
  }

  /** Waits for handlers still running after their ack (graceful stop). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  get connected(): boolean {
    return this.#connection !== undefined;
  }

  async #connect(appToken: string | undefined, versionId: string): Promise<void> {
    if (!appToken) {
      throw new ConfigError([
        'OPSBOT_SLACK_MODE=socket needs an app-level token: add "appToken": "xapp-…" (connections:write) to the slack secret',
      ]);
    }
    const client = new SocketModeClient({
      appToken,
      logger: boltLogger(this.#deps.log.child({ component: 'socket-mode' })),
      clientOptions: this.#deps.apiUrl ? { slackApiUrl: this.#deps.apiUrl.replace(/\/?$/, '/') } : {},
    });
    client.on('slack_event', (event: SlackEventArgs) => {
      const work = this.#dispatch(event);
      this.#inFlight.add(work);
      work.finally(() => this.#inFlight.delete(work));
    });
    await client.start();
    const previous = this.#connection;
    this.#connection = { client, appToken, versionId };
    this.#deps.log.info({ versionId }, 'Socket Mode connected');
    await previous?.client.disconnect();
  }

  async #dispatch(event: SlackEventArgs): Promise<void> {
    if (!this.#app) return;
    let acked = false;
    const ack = async (response?: unknown) => {
      if (acked) return;
      acked = true;
      await event.ack(response === undefined || response === '' ? undefined : response);
    };
    const properties: ReceiverProperties = {
      requestId: randomUUID().slice(0, 8),
      signedWith: this.#connection?.versionId ?? 'unknown',
    };
    try {
      await this.#app.processEvent({
        body: event.body,
        ack,
        customProperties: { ...properties },
        ...(event.retry_num !== undefined ? { retryNum: event.retry_num } : {}),
        ...(event.retry_reason ? { retryReason: event.retry_reason } : {}),
      });
      await ack();
    } catch (error) {
      this.#deps.log.error(
        { err: error, requestId: properties.requestId },
        'processing a Socket Mode event failed',
      );
      await ack().catch(() => {});
    }
  }
}

interface SlackEventArgs {
  ack: (response?: unknown) => Promise<void>;
  body: Record<string, unknown>;
  retry_num?: number;
  retry_reason?: string;
}
