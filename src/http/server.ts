import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../clock.js';
import type { Route, RouteHandler } from '../component.js';
import type { Logger } from '../log.js';
import { Counter, Gauge, type Registry } from '../metrics.js';
import { finishedWithin } from '../time/deadline.js';
import { Admission, type AdmissionEvent, refuseSocket } from './admission.js';
import { ClientGoneError, RequestRefusedError } from './errors.js';
import { type HttpLimits, resolveLimits } from './limits.js';
import { LogThrottle } from './log-throttle.js';

export type { Route, RouteHandler } from '../component.js';
export { ClientGoneError, RequestRefusedError } from './errors.js';
export { DEFAULT_HTTP_LIMITS, type HttpLimits } from './limits.js';
export { readBody } from './read-body.js';

export interface HttpServerDeps {
  log: Logger;
  routes: Route[];
  /** Connection, body-budget and timeout limits; {@link DEFAULT_HTTP_LIMITS} for what is not given. */
  limits?: Partial<HttpLimits>;
  /** Where to count refusals (`opsbot_http_refused_total`) and show connections and buffered bytes. */
  registry?: Registry;
  /** Times the drain deadline of {@link HttpServer.close}; the system clock by default. */
  clock?: Clock;
}

/**
 * One of opsbot's HTTP listeners: exact-path routing, in-flight tracking and a graceful close that
 * stops accepting, lets in-flight requests finish, then drops idle keep-alive connections.
 *
 * Every route is reachable by anyone, so the listener bounds what clients can make it hold
 * ({@link HttpLimits}): open connections, request body bytes in memory across all requests, and
 * how long headers and bodies may take (timed per request, to the second). Beyond a limit it drops
 * the slowest clients to make room (see {@link Admission}), else answers `503` with `Retry-After`
 * (`408` for a timeout), and closes the connection.
 */
export class HttpServer {
  readonly #server: Server;
  readonly #log: Logger;
  readonly #routes = new Map<string, RouteHandler>();
  readonly #admission: Admission;
  readonly #throttle: LogThrottle;
  readonly #retryAfterSeconds: number;
  readonly #clock: Clock;
  #inFlight = 0;
  #drained: (() => void) | undefined;

  constructor(deps: HttpServerDeps) {
    this.#log = deps.log;
    this.#clock = deps.clock ?? systemClock;
    this.#throttle = new LogThrottle(deps.log);
    for (const r of deps.routes) this.add(r);
    const limits = resolveLimits(deps.limits);
    this.#retryAfterSeconds = limits.retryAfterSeconds;
    const count = deps.registry ? this.#metrics(deps.registry) : undefined;
    this.#admission = new Admission(limits, {
      onEvent: (event) => {
        count?.(event);
        this.#throttle.warn(event, { reason: event }, REFUSAL_LOG[event]);
      },
    });
    this.#server = createServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        // The body has its own timer (readBody); this is the backstop for a body nobody reads.
        requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs,
        // Node checks both timeouts on this sweep (30 s by default): check often enough that they
        // hold to within a second, or a quarter of the headers timeout when that is shorter.
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
        keepAliveTimeout: 5_000,
      },
      (req, res) => this.#handle(req, res),
    );
    this.#server.on('connection', (socket) => {
      if (!this.#admission.admit(socket)) refuseSocket(socket, limits.retryAfterSeconds);
    });
  }

  add(route: Route): void {
    this.#routes.set(`${route.method} ${route.path}`, route.handler);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Open connections (admitted and not yet closed). */
  get connections(): number {
    return this.#admission.connections;
  }

  /** Request body bytes held in memory right now, across all requests. */
  get bufferedBodyBytes(): number {
    return this.#admission.bufferedBodyBytes;
  }

  listen(port: number, host?: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  /** Stops accepting connections and resolves once in-flight requests are done (or the deadline passes). */
  async close(deadlineMs: number): Promise<{ drained: boolean }> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const drained = this.#inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => (this.#drained = r));
    const finished = await finishedWithin(this.#clock, drained, deadlineMs);
    this.#server.closeAllConnections();
    await closed;
    return { drained: finished };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const finished = this.#admission.requestStarted(req);
    if (!finished) return refuse(res, 503, { error: 'too_many_connections' }, this.#retryAfterSeconds);
    this.#inFlight++;
    res.once('close', () => {
      finished();
      this.#inFlight--;
      if (this.#inFlight === 0) this.#drained?.();
    });
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const handler = this.#routes.get(`${req.method} ${path}`);
    if (!handler) {
      const allowed = [...this.#routes.keys()].some((k) => k.endsWith(` ${path}`));
      // A body nobody will read: close rather than drain it.
      if (hasBody(req)) res.setHeader('connection', 'close');
      sendText(res, allowed ? 405 : 404, allowed ? 'method not allowed\n' : 'not found\n');
      return;
    }
    try {
      await handler(req, res);
    } catch (error) {
      if (error instanceof RequestRefusedError) {
        if (res.headersSent) res.destroy();
        else refuse(res, error.status, { error: error.reason }, error.retryAfterSeconds);
        return;
      }
      if (error instanceof ClientGoneError) {
        res.destroy();
        return;
      }
      this.#log.error({ err: error, path }, 'HTTP handler failed');
      if (!res.headersSent) sendText(res, 500, 'internal error\n');
      else res.end();
    }
  }

  #metrics(registry: Registry): (event: AdmissionEvent) => void {
    const refused = new Counter({
      name: 'opsbot_http_refused_total',
      help: 'Connections and requests the listener refused or dropped: connection_refused, connection_evicted, body_budget, evicted, body_timeout',
      labelNames: ['reason'],
      registers: [registry],
    });
    const admission = () => this.#admission;
    new Gauge({
      name: 'opsbot_http_connections',
      help: 'Open connections on the listener',
      registers: [registry],
      collect() {
        this.set(admission().connections);
      },
    });
    new Gauge({
      name: 'opsbot_http_buffered_body_bytes',
      help: 'Request body bytes held in memory across all requests',
      registers: [registry],
      collect() {
        this.set(admission().bufferedBodyBytes);
      },
    });
    return (event) => refused.inc({ reason: event });
  }
}

const REFUSAL_LOG: Record<AdmissionEvent, string> = {
  connection_refused: 'refused a connection: too many open connections (503)',
  connection_evicted: 'closed a stalled connection to make room for a new one',
  body_budget: 'refused a request: too many request body bytes in memory (503)',
  evicted: 'dropped an unfinished request body to make room for newer ones (503)',
  body_timeout: 'a request body did not arrive in time (408)',
};

/** Does the request announce a body (length above zero, or chunked)? */
function hasBody(req: IncomingMessage): boolean {
  const length = Number(req.headers['content-length']);
  return (Number.isFinite(length) && length > 0) || req.headers['transfer-encoding'] !== undefined;
}

export function sendText(
  res: ServerResponse,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, `${JSON.stringify(body)}\n`, 'application/json; charset=utf-8');
}

/**
 * Answers a request the listener will not serve (`401`, `413`, `503`…) as JSON and closes the
 * connection once the answer is out, so whatever body the client still sends is never read.
 */
export function refuse(res: ServerResponse, status: number, body: unknown, retryAfterSeconds?: number): void {
  res.setHeader('connection', 'close');
  if (retryAfterSeconds !== undefined) res.setHeader('retry-after', String(retryAfterSeconds));
  sendJson(res, status, body);
}
