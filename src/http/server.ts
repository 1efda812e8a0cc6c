import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handler: RouteHandler;
}

export interface HttpServerDeps {
  log: Logger;
  routes: Route[];
}

/**
 * opsbot's one HTTP listener: exact-path routing, in-flight tracking and a graceful close that
 * stops accepting, lets in-flight requests finish, then drops idle keep-alive connections.
 */
export class HttpServer {
  readonly #server: Server;
  readonly #log: Logger;
  readonly #routes = new Map<string, RouteHandler>();
  #inFlight = 0;
  #drained: (() => void) | undefined;

  constructor(deps: HttpServerDeps) {
    this.#log = deps.log;
    for (const r of deps.routes) this.add(r);
    this.#server = createServer(
      { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
      (req, res) => this.#handle(req, res),
    );
  }

  add(route: Route): void {
    this.#routes.set(`${route.method} ${route.path}`, route.handler);
  }

  get inFlight(): number {
    return this.#inFlight;
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
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), deadlineMs);
    });
    const outcome = await Promise.race([drained.then(() => 'drained' as const), deadline]);
    clearTimeout(timer);
    this.#server.closeAllConnections();
    await closed;
    return { drained: outcome === 'drained' };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#inFlight++;
    res.once('close', () => {
      this.#inFlight--;
      if (this.#inFlight === 0) this.#drained?.();
    });
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const handler = this.#routes.get(`${req.method} ${path}`);
    if (!handler) {
      const allowed = [...this.#routes.keys()].some((k) => k.endsWith(` ${path}`));
      sendText(res, allowed ? 405 : 404, allowed ? 'method not allowed\n' : 'not found\n');
      return;
    }
    try {
      await handler(req, res);
    } catch (error) {
      this.#log.error({ err: error, path }, 'HTTP handler failed');
      if (!res.headersSent) sendText(res, 500, 'internal error\n');
      else res.end();
    }
  }
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

/** Reads a request body, refusing more than `limit` bytes (the caller answers 413). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too_large');
  // Events rather than async iteration: this is on every request's path, and cheaper.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        resolve('too_large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(size > limit ? 'too_large' : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}
