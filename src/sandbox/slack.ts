import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readBody, sendJson, sendText } from '../http/server.js';
import { signSlackRequest } from '../slack/verify-request.js';
import { SlackTokenRotation } from './slack-oauth.js';
import {
  type BlockAction,
  blockActionPayload,
  messageShortcutPayload,
  type SlashCommand,
  slashCommandForm,
  type ViewSubmission,
  viewSubmissionPayload,
} from './slack-payloads.js';
import { SlackSocketHub } from './slack-socket.js';
import {
  type SimChannel,
  type SimEphemeral,
  type SimMessage,
  type SimUser,
  type SimView,
  SlackWorkspace,
} from './slack-workspace.js';

export type SlackFault =
  | { method: string; channel?: string; count?: number; kind: 'ratelimited'; retryAfterSeconds: number }
  | { method: string; channel?: string; count?: number; kind: 'server_error'; status?: number }
  | { method: string; channel?: string; count?: number; kind: 'slow'; ms: number };

export interface Delivery {
  status: number;
  body: string;
  ackMs: number;
  responseUrl: string;
  triggerId: string;
}

export interface RecordedResponse {
  text?: string;
  blocks?: unknown[];
  responseType: 'ephemeral' | 'in_channel';
  replaceOriginal?: boolean;
  at: number;
}

const MAX_BODY = 1_048_576;
const MAX_CALLS = 5_000;
const RESPONSE_URL_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60_000;

/**
 * A simulated Slack on 127.0.0.1 for tests, benchmarks and the console: the Web API methods opsbot
 * uses (`/api/<method>`, Bearer token, Slack's error shapes, 429 + Retry-After on demand), and the
 * other direction: it signs and delivers slash commands, button presses and modal submissions to
 * the app exactly as Slack does, and records what the app posts to each response_url.
 *
 * @example
 * const slack = new SimulatedSlack();
 * await slack.start();
 * slack.addBotToken(botToken);
 * slack.configureApp({ requestUrl: `${bot}/slack/events`, signingSecret });
 * const delivery = await slack.sendSlashCommand({ command: '/opsbot', text: 'whoami', userId: 'U0DEV', channelId: 'C0DEV' });
 * const [reply] = await slack.waitForResponse(delivery.responseUrl);
 */
export class SimulatedSlack {
  readonly workspace: SlackWorkspace;
  /** Web API calls received (never the token). */
  readonly calls: Array<{ method: string; args: Record<string, unknown>; at: number; status: number }> = [];
  /** Web API calls received per method, 429s included; never capped (unlike `calls`). */
  readonly callCounts = new Map<string, number>();
  readonly #rateLimited = new Map<string, number>();
  #rateLimitedTotal = 0;
  #postLimit: { perSecond: number; burst: number } | undefined;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #tokens = new Set<string>();
  /** When a bot token expires (epoch ms on the simulator's clock); absent: it never does. */
  readonly #expiries = new Map<string, number>();
  readonly #rotation: SlackTokenRotation;
  readonly #faults: Array<SlackFault & { left: number }> = [];
  readonly #responses = new Map<
    string,
    { posts: RecordedResponse[]; channel: string; user: string; issuedAt: number; waiters: (() => void)[] }
  >();
  readonly #sockets = new Set<Socket>();
  readonly #now: () => number;
  #server: Server | undefined;
  #url = '';
  #app: { requestUrl: string; signingSecret: string } | undefined;
  #socketMode = false;
  readonly #appTokens = new Set<string>();
  readonly #hub: SlackSocketHub;

  constructor(
    options: {
      teamId?: string;
      teamDomain?: string;
      botUserId?: string;
      botId?: string;
      appId?: string;
      now?: () => number;
    } = {},
  ) {
    this.#now = options.now ?? Date.now;
    this.workspace = new SlackWorkspace(
      {
        teamId: options.teamId ?? 'T0SANDBOX',
        teamDomain: options.teamDomain ?? 'sandbox',
        botUserId: options.botUserId ?? 'U0OPSBOT',
        botId: options.botId ?? 'B0OPSBOT',
        appId: options.appId ?? 'A0OPSBOT',
      },
      this.#now,
    );
    this.#hub = new SlackSocketHub(this.workspace.identity.appId, this.#now);
    this.#rotation = new SlackTokenRotation(
      (token, expiresAt) => this.addBotToken(token, { expiresAt }),
      this.#now,
      this.workspace.identity,
    );
  }

  async start(): Promise<{ url: string }> {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) sendJson(res, 500, { ok: false, error: 'internal_error' });
      });
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.#hub.attach(this.#server);
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return { url: this.#url };
  }

  async stop(): Promise<void> {
    if (!this.#server) return;
    this.#hub.close();
    const closed = new Promise<void>((resolve) => this.#server?.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  get url(): string {
    return this.#url;
  }

  /** The Web API base URL for WebClient's `slackApiUrl` (and `OPSBOT_SLACK_API_URL`). */
  get apiUrl(): string {
    return `${this.#url}/api/`;
  }

  /** Accepts the bot token; with `expiresAt` (epoch ms), Slack answers `token_expired` from then on. */
  addBotToken(token: string, options: { expiresAt?: number } = {}): void {
    this.#tokens.add(token);
    if (options.expiresAt !== undefined) this.#expiries.set(token, options.expiresAt);
  }

  revokeBotToken(token: string): void {
    this.#tokens.delete(token);
    this.#expiries.delete(token);
  }

  /**
   * Turns Slack token rotation on for the app: `oauth.v2.access` (`grant_type=refresh_token`)
   * answers with this client id and secret; returns the first refresh token.
   */
  enableTokenRotation(client: { clientId: string; clientSecret: string }): { refreshToken: string } {
    return this.#rotation.enable(client);
  }

  /** Refuses the refresh token from now on (`invalid_refresh_token`). */
  revokeRefreshToken(token: string): void {
    this.#rotation.revokeRefreshToken(token);
  }

  addUser(user: SimUser): void {
    this.workspace.users.set(user.id, user);
  }

  addChannel(channel: SimChannel): void {
    this.workspace.channels.set(channel.id, { botIsMember: true, ...channel });
  }

  addUsergroup(group: { id: string; handle: string; users: string[] }): void {
    this.workspace.usergroups.set(group.id, { ...group, users: [...group.users] });
  }

  setUsergroupMembers(id: string, users: string[]): void {
    const group = this.workspace.usergroups.get(id);
    if (group) group.users = [...users];
  }

  messages(channel: string): SimMessage[] {
    return this.workspace.history.get(channel) ?? [];
  }

  ephemerals(channel: string, user?: string): SimEphemeral[] {
    return (this.workspace.ephemeral.get(channel) ?? []).filter((e) => !user || e.user === user);
  }

  views(): SimView[] {
    return [...this.workspace.viewsById.values()];
  }

  /** The first message in the channel's history (thread replies included, oldest first) that matches. */
  findMessage(channel: string, predicate: (m: SimMessage) => boolean): SimMessage | undefined {
    return this.messages(channel).find(predicate);
  }

  /**
   * Slack's per-channel posting limit (about 1 message a second, short bursts allowed): with
   * options, each chat.postMessage to a channel takes a token from that channel's bucket
   * (`burst` tokens, refilled at `perSecond` on the simulator's clock); without one it is
   * answered 429 with `retry-after` and not stored. `undefined` turns the limit off.
   */
  limitPostsPerChannel(options: { perSecond: number; burst: number } | undefined): void {
    if (options && !(options.perSecond > 0 && options.burst >= 1))
      throw new Error('limitPostsPerChannel needs perSecond > 0 and burst >= 1');
    this.#postLimit = options ? { ...options } : undefined;
    this.#buckets.clear();
  }

  /** 429s answered (injected faults and the per-channel limit), for one channel or in total. */
  rateLimitedCount(channel?: string): number {
    return channel === undefined ? this.#rateLimitedTotal : (this.#rateLimited.get(channel) ?? 0);
  }

  failNext(fault: SlackFault): void {
    this.#faults.push({ ...fault, left: fault.count ?? 1 });
  }

  configureApp(app: { requestUrl: string; signingSecret: string }): void {
    this.#app = { ...app };
    this.#socketMode = false;
  }

  /** Deliver over Socket Mode (to the app connected with an app token) instead of HTTP. */
  useSocketMode(): void {
    this.#socketMode = true;
  }

  addAppToken(token: string): void {
    this.#appTokens.add(token);
  }

  /**
   * Revokes an app-level token as Slack does: its open connections are closed, its unused
   * connection URLs stop working, and apps.connections.open answers `invalid_auth` from now on.
   */
  revokeAppToken(token: string): void {
    this.#appTokens.delete(token);
    this.#hub.disconnect(token);
  }

  /** Asks every Socket Mode connection to reconnect (`disconnect`, `refresh_requested`), as Slack does routinely. */
  recycleSocketConnections(): void {
    this.#hub.refresh();
  }

  /** Open Socket Mode connections. */
  get socketConnections(): number {
    return this.#hub.connections;
  }

  // ---- delivery to the app ----

  async sendSlashCommand(cmd: SlashCommand): Promise<Delivery> {
    const responseUrl = this.#newResponseUrl(cmd.channelId, cmd.userId);
    const triggerId = this.workspace.issueTrigger(cmd.userId);
    const form = slashCommandForm(this.workspace, cmd, responseUrl, triggerId);
    return this.#deliver(form.toString(), responseUrl, triggerId, {
      type: 'slash_commands',
      payload: Object.fromEntries(form),
    });
  }

  async sendBlockAction(action: BlockAction): Promise<Delivery> {
    const responseUrl = action.responseUrl ?? this.#newResponseUrl(action.channelId, action.userId);
    const triggerId = this.workspace.issueTrigger(action.userId);
    const payload = blockActionPayload(this.workspace, action, responseUrl, triggerId);
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    return this.#deliver(body, responseUrl, triggerId, { type: 'interactive', payload });
  }

  /** A person's own message in a channel (what a message shortcut is used on). */
  postAsUser(m: { userId: string; channelId: string; text: string; threadTs?: string }): SimMessage {
    const message: SimMessage = {
      ts: this.workspace.nextTs(),
      user: m.userId,
      text: m.text,
      ...(m.threadTs ? { threadTs: m.threadTs } : {}),
    };
    this.workspace.record(this.workspace.history, m.channelId, message);
    return message;
  }

  /** Uses a message shortcut (`callback_id`) on a message of the channel, as Slack sends it. */
  async sendMessageShortcut(s: {
    userId: string;
    channelId: string;
    callbackId: string;
    messageTs: string;
  }): Promise<Delivery> {
    const message = this.workspace.history.get(s.channelId)?.find((m) => m.ts === s.messageTs);
    if (!message) throw new Error(`no message ${s.messageTs} in ${s.channelId}`);
    const responseUrl = this.#newResponseUrl(s.channelId, s.userId);
    const triggerId = this.workspace.issueTrigger(s.userId);
    const payload = messageShortcutPayload(
      this.workspace,
      {
        userId: s.userId,
        channelId: s.channelId,
        callbackId: s.callbackId,
        message: {
          ts: message.ts,
          user: message.user,
          ...(message.text !== undefined ? { text: message.text } : {}),
          ...(message.threadTs ? { threadTs: message.threadTs } : {}),
        },
      },
      responseUrl,
      triggerId,
    );
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    return this.#deliver(body, responseUrl, triggerId, { type: 'interactive', payload });
  }

  async sendViewSubmission(submission: ViewSubmission): Promise<Delivery> {
    const triggerId = this.workspace.issueTrigger(submission.userId);
    const payload = viewSubmissionPayload(this.workspace, submission, triggerId);
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    return this.#deliver(body, '', triggerId, { type: 'interactive', payload });
  }

  /**
   * Delivers an Events API event (`app_home_opened`…) as Slack does: an `event_callback` JSON body,
   * signed, over HTTP or Socket Mode. Resolves with the app's answer.
   */
  async sendEvent(event: Record<string, unknown>): Promise<{ status: number; body: string }> {
    const payload = {
      token: 'deprecated-verification-token',
      team_id: this.workspace.identity.teamId,
      api_app_id: this.workspace.identity.appId,
      event: { event_ts: `${this.#now() / 1_000}`, ...event },
      type: 'event_callback',
      event_id: `Ev${randomBytes(6).toString('hex').toUpperCase()}`,
      event_time: Math.floor(this.#now() / 1_000),
    };
    if (this.#socketMode) {
      await this.#hub.deliver('events_api', payload);
      return { status: 200, body: '' };
    }
    const body = JSON.stringify(payload);
    const res = await fetch(this.#requireApp().requestUrl, {
      method: 'POST',
      headers: this.signedHeaders(body, { contentType: 'application/json' }),
      body,
    });
    return { status: res.status, body: await res.text() };
  }

  /**
   * A person posts a message in a channel (kept in its history) and Slack delivers it to the app
   * as `message.channels` / `message.groups` does: a `message` event with the channel's type.
   * Returns the message (its ts) and the app's answer to the delivery.
   */
  async sendUserMessage(m: {
    userId: string;
    channelId: string;
    text: string;
    threadTs?: string;
  }): Promise<{ message: SimMessage; delivery: { status: number; body: string } }> {
    const message = this.postAsUser(m);
    const delivery = await this.sendEvent(this.#messageEvent(m.channelId, message));
    return { message, delivery };
  }

  /** Delivers a message event again, as Slack does when it retries or a replica sees it twice. */
  async redeliverMessage(channelId: string, message: SimMessage): Promise<{ status: number; body: string }> {
    return this.sendEvent(this.#messageEvent(channelId, message));
  }

  /** A person edits their message: the history changes and a `message_changed` event is delivered. */
  async editUserMessage(m: {
    channelId: string;
    ts: string;
    text: string;
  }): Promise<{ status: number; body: string }> {
    const message = this.workspace.history.get(m.channelId)?.find((x) => x.ts === m.ts);
    if (!message) throw new Error(`no message ${m.ts} in ${m.channelId}`);
    const previous = { ...message };
    const editedTs = this.workspace.nextTs();
    Object.assign(message, { text: m.text, edited: true, editedTs });
    const inner = this.#messageEvent(m.channelId, message);
    return this.sendEvent({
      type: 'message',
      subtype: 'message_changed',
      hidden: true,
      channel: m.channelId,
      channel_type: inner.channel_type,
      ts: editedTs,
      message: { ...inner, edited: { user: message.user, ts: editedTs } },
      previous_message: this.#messageEvent(m.channelId, previous),
    });
  }

  /** A bot's message in a channel, delivered as Slack does (`subtype: bot_message`, a `bot_id`). */
  async sendBotMessage(m: {
    channelId: string;
    botId: string;
    text: string;
  }): Promise<{ status: number; body: string }> {
    return this.sendEvent({
      type: 'message',
      subtype: 'bot_message',
      bot_id: m.botId,
      channel: m.channelId,
      channel_type: this.#channelType(m.channelId),
      text: m.text,
      ts: this.workspace.nextTs(),
    });
  }

  #messageEvent(channelId: string, message: SimMessage): Record<string, unknown> & { channel_type: string } {
    return {
      type: 'message',
      channel: channelId,
      channel_type: this.#channelType(channelId),
      user: message.user,
      text: message.text ?? '',
      ts: message.ts,
      ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
      ...(message.user === this.workspace.identity.botUserId
        ? { bot_id: this.workspace.identity.botId }
        : {}),
    };
  }

  #channelType(channelId: string): string {
    if (channelId.startsWith('D')) return 'im';
    return this.workspace.channels.get(channelId)?.isPrivate ? 'group' : 'channel';
  }

  /** The Home tab last published for `userId` (views.publish). */
  homeOf(userId: string): SimView | undefined {
    return [...this.workspace.viewsById.values()]
      .reverse()
      .find((v) => v.kind === 'home' && v.userId === userId);
  }

  /** Sends any body with any headers to the app (bad signatures, oversized, malformed). */
  async sendRaw(r: {
    body: string | Buffer;
    headers: Record<string, string>;
  }): Promise<{ status: number; body: string }> {
    const res = await fetch(this.#requireApp().requestUrl, {
      method: 'POST',
      headers: r.headers,
      body: r.body,
    });
    return { status: res.status, body: await res.text() };
  }

  /** Signs `body` as Slack would, now (or at `timestamp`). */
  signedHeaders(
    body: string,
    options: { timestamp?: number; secret?: string; contentType?: string } = {},
  ): Record<string, string> {
    const app = this.#requireApp();
    const ts = String(options.timestamp ?? Math.floor(this.#now() / 1_000));
    return {
      'content-type': options.contentType ?? 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': ts,
      'x-slack-signature': signSlackRequest(options.secret ?? app.signingSecret, ts, body),
    };
  }

  responses(responseUrl: string): RecordedResponse[] {
    return this.#responses.get(this.#responseId(responseUrl))?.posts ?? [];
  }

  /** Resolves once `count` responses (default 1) have arrived at the response_url. */
  async waitForResponse(
    responseUrl: string,
    options: { count?: number; timeoutMs?: number } = {},
  ): Promise<RecordedResponse[]> {
    const count = options.count ?? 1;
    const entry = this.#responses.get(this.#responseId(responseUrl));
    if (!entry) throw new Error(`no such response_url: ${responseUrl}`);
    if (entry.posts.length >= count) return entry.posts;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `waited ${options.timeoutMs ?? 5_000} ms for ${count} response(s) at ${responseUrl}; got ${entry.posts.length}`,
            ),
          ),
        options.timeoutMs ?? 5_000,
      );
      const check = () => {
        if (entry.posts.length >= count) {
          clearTimeout(timer);
          resolve(entry.posts);
        } else entry.waiters.push(check);
      };
      entry.waiters.push(check);
    });
  }

  async #deliver(
    body: string,
    responseUrl: string,
    triggerId: string,
    envelope: { type: 'slash_commands' | 'interactive'; payload: unknown },
  ): Promise<Delivery> {
    const started = performance.now();
    if (this.#socketMode) {
      const ack = await this.#hub.deliver(envelope.type, envelope.payload);
      const text = ack && typeof ack === 'object' && Object.keys(ack).length > 0 ? JSON.stringify(ack) : '';
      return { status: 200, body: text, ackMs: performance.now() - started, responseUrl, triggerId };
    }
    const res = await fetch(this.#requireApp().requestUrl, {
      method: 'POST',
      headers: this.signedHeaders(body),
      body,
    });
    const text = await res.text();
    return { status: res.status, body: text, ackMs: performance.now() - started, responseUrl, triggerId };
  }

  #requireApp(): { requestUrl: string; signingSecret: string } {
    if (!this.#app) throw new Error('configureApp({ requestUrl, signingSecret }) first');
    return this.#app;
  }

  #newResponseUrl(channel: string, user: string): string {
    const id = randomBytes(12).toString('hex');
    this.#responses.set(id, { posts: [], channel, user, issuedAt: this.#now(), waiters: [] });
    if (this.#responses.size > MAX_CALLS)
      this.#responses.delete(this.#responses.keys().next().value as string);
    return `${this.#url}/response/${id}`;
  }

  #responseId(url: string): string {
    return url.slice(url.lastIndexOf('/') + 1);
  }

  // ---- HTTP ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const raw = await readBody(req, MAX_BODY);
    if (raw === 'too_large') return sendText(res, 413, 'request_too_large');
    if (path.startsWith('/response/')) return this.#respond(path.slice('/response/'.length), raw, res);
    if (path.startsWith('/api/')) return this.#api(path.slice('/api/'.length), req, raw, res);
    return sendText(res, 404, 'not found');
  }

  #respond(id: string, raw: Buffer, res: ServerResponse): void {
    const entry = this.#responses.get(id);
    const refusal = !entry
      ? 'invalid_url'
      : this.#now() - entry.issuedAt > RESPONSE_URL_TTL_MS
        ? 'expired_url'
        : entry.posts.length >= RESPONSE_URL_USES
          ? 'used_url'
          : undefined;
    const body = refusal ? undefined : parseJson(raw);
    if (!entry || refusal || !body) {
      sendText(res, refusal ? 404 : 400, refusal ?? 'invalid_payload');
      return;
    }
    const post: RecordedResponse = {
      ...(typeof body.text === 'string' ? { text: body.text } : {}),
      ...(Array.isArray(body.blocks) ? { blocks: body.blocks } : {}),
      responseType: body.response_type === 'in_channel' ? 'in_channel' : 'ephemeral',
      ...(body.replace_original === true ? { replaceOriginal: true } : {}),
      at: this.#now(),
    };
    entry.posts.push(post);
    const content = {
      ...(post.text !== undefined ? { text: post.text } : {}),
      ...(post.blocks ? { blocks: post.blocks } : {}),
    };
    if (post.responseType === 'in_channel') {
      this.workspace.record(this.workspace.history, entry.channel, {
        ts: this.workspace.nextTs(),
        user: this.workspace.identity.botUserId,
        ...content,
      });
    } else
      this.workspace.record(this.workspace.ephemeral, entry.channel, {
        user: entry.user,
        ...content,
        responseId: id,
        ...(post.replaceOriginal ? { replaceOriginal: true } : {}),
      });
    for (const wake of entry.waiters.splice(0)) wake();
    sendText(res, 200, 'ok');
  }

  async #api(method: string, req: IncomingMessage, raw: Buffer, res: ServerResponse): Promise<void> {
    const args = parseArgs(raw, req.headers['content-type']);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? (typeof args.token === 'string' ? args.token : undefined);
    delete args.token;
    // oauth.v2.access is authenticated by the app's client secret and a refresh token, not a
    // bearer token: neither goes in `calls`.
    const credentials = { ...args };
    delete args.client_secret;
    delete args.refresh_token;
    this.callCounts.set(method, (this.callCounts.get(method) ?? 0) + 1);
    if (method === 'apps.connections.open') {
      const ok = token !== undefined && this.#appTokens.has(token);
      const answer = ok
        ? { ok: true, url: this.#hub.open(this.#url, token) }
        : { ok: false, error: token?.startsWith('xoxb-') ? 'not_allowed_token_type' : 'invalid_auth' };
      this.calls.push({ method, args, at: this.#now(), status: 200 });
      sendJson(res, 200, answer);
      return;
    }
    const fault = this.#takeFault(method, args);
    let status = 200;
    let answer: Record<string, unknown>;
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.ms));
    if (fault?.kind === 'ratelimited') {
      status = 429;
      res.setHeader('retry-after', String(fault.retryAfterSeconds));
      answer = { ok: false, error: 'ratelimited' };
    } else if (fault?.kind === 'server_error') {
      status = fault.status ?? 500;
      answer = { ok: false, error: 'internal_error' };
    } else if (method === 'oauth.v2.access') {
      answer = this.#rotation.access(credentials);
    } else if (!token) answer = { ok: false, error: 'not_authed' };
    else if (!this.#tokens.has(token)) answer = { ok: false, error: 'invalid_auth' };
    else if ((this.#expiries.get(token) ?? Number.POSITIVE_INFINITY) <= this.#now())
      answer = { ok: false, error: 'token_expired' };
    else {
      const wait = method === 'chat.postMessage' ? this.#postWait(args.channel) : 0;
      if (wait > 0) {
        status = 429;
        res.setHeader('retry-after', String(wait));
        answer = { ok: false, error: 'ratelimited' };
      } else if (method === 'auth.revoke') {
        // Revokes the token that called it (with `test`, only says it would).
        const test = args.test === true || args.test === 'true' || args.test === '1';
        if (!test) this.revokeBotToken(token);
        answer = { ok: true, revoked: !test };
      } else {
        answer = this.workspace.call(method, args);
        if (method === 'chat.postMessage' && answer.ok) this.#takePostToken(args.channel);
      }
    }
    if (status === 429) {
      const channel = typeof args.channel === 'string' ? args.channel : '';
      this.#rateLimited.set(channel, (this.#rateLimited.get(channel) ?? 0) + 1);
      this.#rateLimitedTotal++;
    }
    this.calls.push({ method, args, at: this.#now(), status });
    if (this.calls.length > MAX_CALLS) this.calls.splice(0, this.calls.length - MAX_CALLS);
    sendJson(res, status, answer);
  }

  /** The channel's bucket, refilled to now. */
  #bucket(channel: string, limit: { perSecond: number; burst: number }): { tokens: number; at: number } {
    const now = this.#now();
    const bucket = this.#buckets.get(channel) ?? { tokens: limit.burst, at: now };
    bucket.tokens = Math.min(
      limit.burst,
      bucket.tokens + (Math.max(0, now - bucket.at) / 1_000) * limit.perSecond,
    );
    bucket.at = now;
    this.#buckets.set(channel, bucket);
    return bucket;
  }

  /** 0 when a post to the channel may go now, else whole seconds (at least 1) until a token is there. */
  #postWait(channel: unknown): number {
    const limit = this.#postLimit;
    if (!limit || typeof channel !== 'string') return 0;
    const bucket = this.#bucket(channel, limit);
    if (bucket.tokens >= 1 - 1e-9) return 0;
    return Math.max(1, Math.ceil((1 - bucket.tokens) / limit.perSecond));
  }

  #takePostToken(channel: unknown): void {
    const limit = this.#postLimit;
    if (!limit || typeof channel !== 'string') return;
    this.#bucket(channel, limit).tokens -= 1;
  }

  #takeFault(method: string, args: Record<string, unknown>): SlackFault | undefined {
    const index = this.#faults.findIndex(
      (f) => f.method === method && (!f.channel || f.channel === args.channel),
    );
    if (index === -1) return undefined;
    const fault = this.#faults[index] as SlackFault & { left: number };
    fault.left--;
    if (fault.left <= 0) this.#faults.splice(index, 1);
    return fault;
  }
}

function parseJson(raw: Buffer): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(raw.toString('utf8')) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function parseArgs(raw: Buffer, contentType: string | undefined): Record<string, unknown> {
  const text = raw.toString('utf8');
  if ((contentType ?? '').includes('application/json')) {
    try {
      const value = JSON.parse(text) as unknown;
      return value && typeof value === 'object' ? { ...(value as Record<string, unknown>) } : {};
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(text));
}
