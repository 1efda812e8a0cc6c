import type { App, Receiver } from '@slack/bolt';
import { SocketModeClient } from '@slack/socket-mode';
import { type Clock, type Random, systemClock } from '../clock.js';
import type { Credential, CredentialProvider } from '../credentials/provider.js';
import { ErrorCode, OpsbotError, UserFacingError } from '../errors.js';
import { isSlackAuthFailure, type SlackSecret, slack } from '../integrations/slack.js';
import { slackLogger } from '../integrations/slack-logger.js';
import type { Logger } from '../log.js';
import { newRequestId } from '../request-scope.js';
import { type BackoffPolicy, equalJitterDelay } from '../time/backoff.js';
import { within } from '../time/deadline.js';
import type { ReceiverProperties } from './receiver.js';

/** The part of `@slack/socket-mode`'s client the receiver uses (unit tests pass a fake). */
export interface SocketClient {
  /** apps.connections.open, then the WebSocket; resolves on Slack's `hello`. */
  start(): Promise<unknown>;
  disconnect(): Promise<void>;
  on(event: 'slack_event', listener: (event: SlackEventArgs) => void): unknown;
  on(event: 'connected' | 'disconnected', listener: () => void): unknown;
}

export interface SlackSocketReceiverDeps {
  credentials: Pick<CredentialProvider, 'get' | 'onChange' | 'refreshAfterAuthFailure' | 'secretName'>;
  log: Logger;
  /** `OPSBOT_SLACK_API_URL`, for apps.connections.open. */
  apiUrl?: string;
  /** Time for backoff sleeps and the connect deadline; the system clock by default. */
  clock?: Clock;
  random?: Random;
  /** Reconnect delays: failure n in a row waits between half and all of min(cap, base × 2^(n-1)). */
  backoff?: BackoffPolicy;
  /** One attempt, from apps.connections.open to Slack's `hello`, may take this long (default 30 s). */
  connectTimeoutMs?: number;
  /** False when a new secret version needs a restart to arrive (the `env` source). Default true. */
  secretChangesLive?: boolean;
  /** Builds the Socket Mode client for an app token; `@slack/socket-mode` by default. */
  createClient?: (appToken: string) => SocketClient;
}

/** 1 s, doubling, never more than 60 s between attempts (apps.connections.open is rate limited). */
export const SOCKET_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 60_000 };

/**
 * What to do when the `slack` secret has no `appToken`, in one line (`where`: the secret's name, or
 * the variable holding it). With `live`, opsbot picks the new version up without a restart.
 */
export function appTokenProblem(where: string, live: boolean): string {
  return live
    ? `Socket Mode is waiting for an appToken in ${where}: add "appToken": "xapp-…" (connections:write) and opsbot connects without a restart`
    : `Socket Mode needs an appToken in ${where}: add "appToken": "xapp-…" (connections:write) and start opsbot again`;
}

/** A Socket Mode connection attempt that failed without an answer from Slack's API. */
export class SocketModeConnectError extends OpsbotError {
  readonly code = ErrorCode.UpstreamUnavailable;
}

interface Connection {
  client: SocketClient;
  appToken: string;
  versionId: string;
  /** A socket is open now (Slack said `hello` and it has not closed since). */
  open: boolean;
  /** Replaced, failed or stopped on purpose: its close is not a reason to reconnect. */
  retired: boolean;
}

interface Wanted {
  appToken: string | undefined;
  versionId: string;
}

/**
 * Socket Mode (`OPSBOT_SLACK_MODE=socket`): events arrive over a WebSocket opened with the app-level
 * token (`appToken` in the `slack` secret), so no inbound URL is needed.
 *
 * Reconnects are opsbot's, not the client library's (its own auto-reconnect is off: a refused
 * reconnect there is an unhandled rejection that ends the process). One loop keeps "a socket is
 * open with the app token of the current secret version" true:
 * - a rotation opens the new connection before closing the old one, so no event is dropped;
 * - a connection Slack closes (recycling, a network drop) is reopened at once;
 * - a failed attempt is retried with backoff (capped, jittered); when Slack rejects the token
 *   (`invalid_auth`, `token_revoked`) the credential provider is asked to check the secret store
 *   first, and a new version wakes the loop at once;
 * - no `appToken` in the secret: it says once what to add and waits for a version that has one.
 * {@link connected} (the `slack` readiness check) is true only while a socket is open.
 */
export class SlackSocketReceiver implements Receiver {
  readonly #deps: SlackSocketReceiverDeps;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #backoff: BackoffPolicy;
  readonly #createClient: (appToken: string) => SocketClient;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #closing = new Set<Promise<void>>();
  readonly #toldWaiting = new Set<string>();
  readonly #toldRejected = new Set<string>();
  #app: App | undefined;
  #active: Connection | undefined;
  #attempting: Connection | undefined;
  #wanted: Wanted | undefined;
  #unsubscribe: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #dirty = false;
  #stopped = true;
  #failures = 0;
  #wake: (() => void) | undefined;

  constructor(deps: SlackSocketReceiverDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#random = deps.random ?? Math.random;
    this.#backoff = deps.backoff ?? SOCKET_BACKOFF;
    this.#createClient = deps.createClient ?? ((appToken) => this.#socketModeClient(appToken));
  }

  init(app: App): void {
    this.#app = app;
  }

  /**
   * Starts keeping a connection open, and resolves at once: readiness says when it is open. A slack
   * secret that is not loaded yet is waited for (read again with backoff).
   */
  async start(): Promise<void> {
    this.#stopped = false;
    this.#unsubscribe?.();
    this.#unsubscribe = this.#deps.credentials.onChange(slack.secret, ({ current }) => this.#want(current));
    this.#kick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#wake?.();
    for (const connection of [this.#active, this.#attempting]) if (connection) this.#retire(connection);
    this.#active = undefined;
    await Promise.allSettled([...this.#closing]);
  }

  /** Waits for handlers still running after their ack (graceful stop). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Whether a socket is open now (not merely "was started"). */
  get connected(): boolean {
    return this.#active?.open === true;
  }

  #want(credential: Credential<SlackSecret>): void {
    const { appToken } = credential.value.reveal();
    this.#wanted = { appToken, versionId: credential.versionId };
    if (!appToken && !this.#toldWaiting.has(credential.versionId)) {
      this.#toldWaiting.add(credential.versionId);
      const secret = this.#deps.credentials.secretName('slack');
      this.#deps.log.error(
        { secret, versionId: credential.versionId },
        appTokenProblem(secret, this.#deps.secretChangesLive ?? true),
      );
    }
    this.#kick();
  }

  /** Makes the loop look again now: starts it, or cuts its backoff sleep short. */
  #kick(): void {
    this.#dirty = true;
    this.#wake?.();
    if (this.#running || this.#stopped) return;
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (this.#dirty && !this.#stopped) this.#kick();
    });
  }

  async #run(): Promise<void> {
    while (this.#dirty && !this.#stopped) {
      this.#dirty = false;
      const wanted = this.#wanted;
      if (!wanted) {
        await this.#readSecret();
        continue;
      }
      const { appToken } = wanted;
      if (!appToken) continue; // waiting for a version with an appToken
      if (this.#active?.open && this.#active.appToken === appToken) {
        this.#active.versionId = wanted.versionId; // same token, newer version (another field rotated)
        continue;
      }
      try {
        await this.#connect(appToken, wanted.versionId);
        this.#failures = 0;
      } catch (error) {
        if (this.#stopped) return;
        this.#dirty = true;
        await this.#afterFailure(error, wanted).catch((unexpected: unknown) =>
          this.#deps.log.error({ err: unexpected }, 'Socket Mode reconnect loop failed; retrying'),
        );
      }
    }
  }

  /** The first read of the slack secret; until it succeeds, again with backoff. */
  async #readSecret(): Promise<void> {
    try {
      this.#want(await this.#deps.credentials.get(slack.secret));
      this.#failures = 0;
    } catch (error) {
      if (this.#stopped) return;
      this.#dirty = true;
      this.#failures += 1;
      const retryInMs = this.#delay(error);
      if (this.#failures === 1) {
        this.#deps.log.warn(
          {
            secret: this.#deps.credentials.secretName('slack'),
            reason: error instanceof UserFacingError ? error.message : summary(error),
            retryInMs,
          },
          'Socket Mode is waiting for the slack secret to load',
        );
      }
      await this.#sleep(retryInMs);
    }
  }

  async #connect(appToken: string, versionId: string): Promise<void> {
    const client = this.#createClient(appToken);
    const connection: Connection = { client, appToken, versionId, open: false, retired: false };
    client.on('connected', () => {
      connection.open = true;
    });
    client.on('disconnected', () => this.#closed(connection));
    client.on('slack_event', (event: SlackEventArgs) => {
      const work = this.#dispatch(event, connection);
      this.#inFlight.add(work);
      work.finally(() => this.#inFlight.delete(work));
    });
    this.#attempting = connection;
    try {
      await this.#withDeadline(client.start());
    } catch (error) {
      this.#retire(connection);
      throw error ?? new SocketModeConnectError('the Socket Mode WebSocket closed before Slack said hello');
    } finally {
      this.#attempting = undefined;
    }
    if (this.#stopped) {
      this.#retire(connection);
      return;
    }
    if (!connection.open) {
      this.#retire(connection);
      throw new SocketModeConnectError('the Socket Mode connection closed right after Slack said hello');
    }
    const previous = this.#active;
    this.#active = connection;
    this.#deps.log.info({ versionId }, 'Socket Mode connected');
    if (previous) this.#retire(previous);
  }

  /** A socket closed: reconnect if it was the one in use and nobody closed it on purpose. */
  #closed(connection: Connection): void {
    const wasOpen = connection.open;
    connection.open = false;
    if (connection.retired || this.#stopped || this.#active !== connection || !wasOpen) return;
    this.#deps.log.warn({ versionId: connection.versionId }, 'Socket Mode connection closed; reconnecting');
    this.#kick();
  }

  async #afterFailure(error: unknown, wanted: Wanted): Promise<void> {
    this.#failures += 1;
    const secret = this.#deps.credentials.secretName('slack');
    const rejected = isSlackAuthFailure(error);
    if (rejected) {
      // Maybe the secret has moved on (a rotation not yet polled): ask the source now.
      await this.#deps.credentials.refreshAfterAuthFailure('slack', wanted.versionId).catch(() => undefined);
      if (this.#wanted !== wanted) return; // a new version arrived: try it at once
    }
    const delayMs = this.#delay(error);
    const fields = { secret, versionId: wanted.versionId, attempt: this.#failures, retryInMs: delayMs };
    const slackError = (error as { data?: { error?: string } }).data?.error;
    if (rejected && !this.#toldRejected.has(wanted.versionId)) {
      this.#toldRejected.add(wanted.versionId);
      this.#deps.log.error(
        {
          ...fields,
          error: slackError,
          hint: `put a new "appToken": "xapp-…" (connections:write) in ${secret}: opsbot reconnects without a restart; /readyz answers 503 until then`,
        },
        'Slack rejected the Socket Mode app token',
      );
    } else if (this.#failures === 1) {
      this.#deps.log.warn({ ...fields, err: error }, 'Socket Mode could not connect; retrying');
    } else {
      this.#deps.log.warn(
        { ...fields, error: slackError ?? summary(error) },
        'Socket Mode still cannot connect',
      );
    }
    await this.#sleep(delayMs);
  }

  /** Half to all of min(cap, base × 2^(failures-1)); at least what a rate limit asks for. */
  #delay(error: unknown): number {
    const delay = equalJitterDelay(this.#failures - 1, this.#backoff, this.#random);
    const retryAfter = (error as { retryAfter?: unknown }).retryAfter;
    return typeof retryAfter === 'number' ? Math.max(delay, retryAfter * 1_000) : delay;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        cancel();
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const cancel = this.#clock.schedule(done, ms);
      this.#wake = done;
    });
  }

  #withDeadline<T>(work: Promise<T>): Promise<T> {
    const ms = this.#deps.connectTimeoutMs ?? 30_000;
    return within(
      this.#clock,
      work,
      ms,
      () =>
        new SocketModeConnectError(
          `Slack did not complete the Socket Mode handshake within ${ms / 1_000} s; retrying`,
        ),
    );
  }

  /** Closes a connection on purpose (in the background; {@link stop} waits for all of them). */
  #retire(connection: Connection): void {
    if (connection.retired) return;
    connection.retired = true;
    connection.open = false;
    const closing = connection.client
      .disconnect()
      .catch((error: unknown) =>
        this.#deps.log.debug({ err: error }, 'closing a Socket Mode connection failed'),
      )
      .finally(() => this.#closing.delete(closing));
    this.#closing.add(closing);
  }

  #socketModeClient(appToken: string): SocketClient {
    const { apiUrl } = this.#deps;
    return new SocketModeClient({
      appToken,
      // Reconnecting is ours (see the class comment).
      autoReconnectEnabled: false,
      logger: slackLogger(this.#deps.log.child({ component: 'socket-mode' })),
      clientOptions: {
        ...(apiUrl ? { slackApiUrl: apiUrl.replace(/\/?$/, '/') } : {}),
        // No hidden retries (the library's default is 100): the backoff above decides.
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        timeout: 10_000,
      },
    });
  }

  async #dispatch(event: SlackEventArgs, connection: Connection): Promise<void> {
    if (!this.#app) return;
    let acked = false;
    const ack = async (response?: unknown) => {
      if (acked) return;
      acked = true;
      await event.ack(response === undefined || response === '' ? undefined : response);
    };
    const properties: ReceiverProperties = {
      requestId: newRequestId(),
      signedWith: connection.versionId,
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

export interface SlackEventArgs {
  ack: (response?: unknown) => Promise<void>;
  body: Record<string, unknown>;
  retry_num?: number;
  retry_reason?: string;
}

function summary(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
}
