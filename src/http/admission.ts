import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { type RefusalReason, RequestRefusedError } from './errors.js';
import type { HttpLimits } from './limits.js';

/** What admission refused or dropped: the server counts and logs these. */
export type AdmissionEvent = 'connection_refused' | 'connection_evicted' | RefusalReason;

/** A request body being read: its bytes count against the listener's budget until the request ends. */
export interface BodyAccount {
  /**
   * Counts `bytes` more; false when there is no room even after dropping the unfinished bodies
   * that began before this one (the account is then refused with a `body_budget` error, see
   * {@link onRefused}).
   */
  take(bytes: number): boolean;
  /** The body arrived in full: it is no longer timed, nor a candidate for eviction. */
  complete(): void;
  /** Called once if the listener gives up on this body (no room, evicted, timed out); its bytes are given back. */
  onRefused(listener: (error: RequestRefusedError) => void): void;
}

/** How long a refused or evicted socket may linger (to let its `503` out) before it is destroyed. */
const LINGER_MS = 1_000;

type Phase = 'waiting' | 'handling' | 'reading';

interface Connection {
  socket: Socket;
  /** Waiting for a request's headers (new or idle keep-alive), handling one, or reading its body. */
  phase: Phase;
  /** When the phase began (ms, monotonic). */
  since: number;
  /** Requests answered on it: a waiting connection that answered one is an idle keep-alive. */
  served: number;
  body: Account | undefined;
}

/**
 * Where a request keeps the way to open its body account: on the request itself (a property under a
 * symbol; a WeakMap entry per request costs the garbage collector more), so it lives as long as it.
 */
const BODY_ACCOUNT = Symbol('opsbot.bodyAccount');
type WithAccount = IncomingMessage & { [BODY_ACCOUNT]?: () => BodyAccount };

/** The body account of a request on an {@link Admission}-guarded listener; undefined elsewhere. */
export function openBodyAccount(req: IncomingMessage): BodyAccount | undefined {
  return (req as WithAccount)[BODY_ACCOUNT]?.();
}

/**
 * Admission control for one HTTP listener: a cap on open connections and a budget for request
 * bytes held in memory across all requests; requests being handled are never dropped.
 * - Connections full: the connection stalled longest (waiting for headers, or receiving a body,
 *   for `stalledAfterMs`) is dropped to let the newcomer in; with none stalled, the newcomer is
 *   refused (`503`).
 * - Body budget full: the unfinished body that began longest ago is dropped (`503`), provided it
 *   began before the one that needs the room; otherwise that one is refused (`503`). Slack and
 *   Datadog send a body in one go, so under attack their requests are always the newest readers
 *   and get in, while slow uploads are the oldest and go first.
 *
 * @example
 * const admission = new Admission(limits, { onEvent: (e) => refused.inc({ reason: e }) });
 * server.on('connection', (s) => admission.admit(s) || refuseSocket(s, limits.retryAfterSeconds));
 */
export class Admission {
  readonly #limits: HttpLimits;
  readonly #now: () => number;
  readonly #onEvent: (event: AdmissionEvent) => void;
  readonly #connections = new Map<Socket, Connection>();
  #buffered = 0;

  constructor(
    limits: HttpLimits,
    deps: { now?: () => number; onEvent?: (event: AdmissionEvent) => void } = {},
  ) {
    this.#limits = limits;
    this.#now = deps.now ?? (() => performance.now());
    this.#onEvent = deps.onEvent ?? (() => {});
  }

  /** Connections admitted and not yet closed (or dropped). */
  get connections(): number {
    return this.#connections.size;
  }

  /** Request body bytes held right now, across all requests. */
  get bufferedBodyBytes(): number {
    return this.#buffered;
  }

  /** A new connection: true when admitted (a stalled one may be dropped for it), false to refuse it. */
  admit(socket: Socket): boolean {
    if (this.#connections.size >= this.#limits.maxConnections && !this.#dropStalled()) {
      this.#onEvent('connection_refused');
      return false;
    }
    const connection: Connection = {
      socket,
      phase: 'waiting',
      since: this.#now(),
      served: 0,
      body: undefined,
    };
    this.#connections.set(socket, connection);
    socket.once('close', () => {
      if (this.#connections.get(socket) === connection) this.#connections.delete(socket);
      connection.body?.close();
    });
    return true;
  }

  /**
   * A request's headers arrived. Returns the function to call when its response is done or its
   * connection closed (the body's bytes are given back, the connection counts as idle again), or
   * undefined for a request on a connection already dropped: answer it 503 and close.
   */
  requestStarted(req: IncomingMessage): (() => void) | undefined {
    const connection = this.#connections.get(req.socket);
    if (!connection) return undefined;
    connection.phase = 'handling';
    connection.since = this.#now();
    let account: Account | undefined;
    (req as WithAccount)[BODY_ACCOUNT] = () => {
      account ??= this.#openBody(connection);
      return account;
    };
    let finished = false;
    return () => {
      if (finished) return;
      finished = true;
      account?.close();
      if (connection.body === account) connection.body = undefined;
      if (this.#connections.get(connection.socket) !== connection) return;
      connection.phase = 'waiting';
      connection.since = this.#now();
      connection.served++;
    };
  }

  #openBody(connection: Connection): Account {
    const account = new Account({
      startedAt: this.#now(),
      timeoutMs: this.#limits.bodyTimeoutMs,
      retryAfterSeconds: this.#limits.retryAfterSeconds,
      take: (bytes) => this.#take(account, bytes),
      release: (bytes) => {
        this.#buffered -= bytes;
      },
      timedOut: () => this.#onEvent('body_timeout'),
      completed: () => {
        if (connection.body !== account) return;
        connection.phase = 'handling';
        connection.since = this.#now();
      },
    });
    connection.body = account;
    connection.phase = 'reading';
    connection.since = this.#now();
    return account;
  }

  #take(account: Account, bytes: number): boolean {
    while (this.#buffered + bytes > this.#limits.maxBufferedBodyBytes) {
      const oldest = this.#oldestReaderBefore(account);
      if (!oldest) {
        this.#onEvent('body_budget');
        return false;
      }
      this.#drop(oldest);
    }
    this.#buffered += bytes;
    return true;
  }

  /** The connection receiving a body that began longest ago, if it began before `account`'s. */
  #oldestReaderBefore(account: Account): Connection | undefined {
    let best: Connection | undefined;
    for (const c of this.#connections.values()) {
      const started = c.body?.startedAt;
      if (c.phase !== 'reading' || started === undefined || started >= account.startedAt) continue;
      if (!best || started < (best.body?.startedAt ?? Number.POSITIVE_INFINITY)) best = c;
    }
    return best;
  }

  /** Drops the oldest stalled connection to make room for a new one; false when none is stalled. */
  #dropStalled(): boolean {
    const stalled = this.#oldestStalled((c) => c.phase !== 'handling');
    if (stalled) this.#drop(stalled);
    return stalled !== undefined;
  }

  /**
   * The connection stalled longest among those `eligible`: first those waiting for their first
   * request or receiving a body, then idle keep-alive ones (a client pooling a connection is not
   * an attacker, so it goes last).
   */
  #oldestStalled(eligible: (c: Connection) => boolean): Connection | undefined {
    const cutoff = this.#now() - this.#limits.stalledAfterMs;
    const rank = (c: Connection) => (c.phase === 'waiting' && c.served > 0 ? 1 : 0);
    let best: Connection | undefined;
    for (const c of this.#connections.values()) {
      if (c.since > cutoff || !eligible(c)) continue;
      if (!best || rank(c) < rank(best) || (rank(c) === rank(best) && c.since < best.since)) best = c;
    }
    return best;
  }

  #drop(connection: Connection): void {
    this.#connections.delete(connection.socket);
    const { socket, body } = connection;
    if (connection.phase === 'reading' && body) {
      // The reader rejects; the server answers 503 and closes.
      this.#onEvent('evicted');
      body.refuse(new RequestRefusedError('evicted', this.#limits.retryAfterSeconds));
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
      return;
    }
    this.#onEvent('connection_evicted');
    if (connection.served === 0) refuseSocket(socket, this.#limits.retryAfterSeconds, 'stalled');
    else socket.destroy();
  }
}

interface AccountDeps {
  startedAt: number;
  timeoutMs: number;
  retryAfterSeconds: number;
  take(bytes: number): boolean;
  release(bytes: number): void;
  timedOut(): void;
  completed(): void;
}

/** One request body's share of the budget, its timer, and how it is told that the listener gave up. */
class Account implements BodyAccount {
  /** When reading began (monotonic ms). */
  readonly startedAt: number;
  readonly #deps: AccountDeps;
  #bytes = 0;
  #state: 'reading' | 'complete' | 'closed' = 'reading';
  #listener: ((error: RequestRefusedError) => void) | undefined;
  #refusal: RequestRefusedError | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(deps: AccountDeps) {
    this.startedAt = deps.startedAt;
    this.#deps = deps;
    this.#timer = setTimeout(() => {
      if (this.#state !== 'reading') return;
      deps.timedOut();
      this.refuse(new RequestRefusedError('body_timeout'));
    }, deps.timeoutMs);
    this.#timer.unref();
  }

  take(bytes: number): boolean {
    if (this.#state !== 'reading') return false;
    if (!this.#deps.take(bytes)) {
      this.refuse(new RequestRefusedError('body_budget', this.#deps.retryAfterSeconds));
      return false;
    }
    this.#bytes += bytes;
    return true;
  }

  complete(): void {
    if (this.#state !== 'reading') return;
    this.#state = 'complete';
    clearTimeout(this.#timer);
    this.#deps.completed();
  }

  onRefused(listener: (error: RequestRefusedError) => void): void {
    this.#listener = listener;
    if (this.#refusal) listener(this.#refusal);
  }

  /** The listener gives up on this body: its bytes are given back at once. */
  refuse(error: RequestRefusedError): void {
    if (this.#state !== 'reading') return;
    this.close();
    this.#refusal = error;
    this.#listener?.(error);
  }

  /** The request is over: bytes given back, timer stopped. */
  close(): void {
    clearTimeout(this.#timer);
    this.#state = 'closed';
    if (this.#bytes > 0) this.#deps.release(this.#bytes);
    this.#bytes = 0;
  }
}

/**
 * Answers a connection that gets no request in: `503` with `Retry-After`, written straight to the
 * socket (no request was parsed), then closed; destroyed after a moment if the client lingers.
 */
export function refuseSocket(
  socket: Socket,
  retryAfterSeconds: number,
  error = 'too_many_connections',
): void {
  const body = `${JSON.stringify({ error })}\n`;
  socket.pause();
  if (socket.writable) {
    socket.end(
      'HTTP/1.1 503 Service Unavailable\r\n' +
        `retry-after: ${retryAfterSeconds}\r\nconnection: close\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
