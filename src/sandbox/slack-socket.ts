import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';

interface Connection {
  socket: WebSocket;
  appToken: string;
  openedAt: number;
}

/**
 * Socket Mode on the simulated Slack: apps.connections.open hands out a one-time `wss` URL, the
 * app connects, Slack says `hello`, then sends envelopes (`slash_commands`, `interactive`) and
 * waits for each one's ack (`{ envelope_id, payload }`). Pings keep the connection alive.
 */
export class SlackSocketHub {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 1_048_576 });
  readonly #tickets = new Map<string, string>();
  readonly #connections: Connection[] = [];
  readonly #acks = new Map<string, (payload: unknown) => void>();
  #ping: NodeJS.Timeout | undefined;

  constructor(
    private readonly appId: string,
    private readonly now: () => number,
  ) {}

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
    this.#ping = setInterval(() => {
      for (const c of this.#connections) c.socket.ping();
    }, 10_000);
    this.#ping.unref();
  }

  /** apps.connections.open: a one-time URL for this app token. */
  open(baseUrl: string, appToken: string): string {
    const ticket = randomBytes(12).toString('hex');
    this.#tickets.set(ticket, appToken);
    if (this.#tickets.size > 1_000) this.#tickets.delete(this.#tickets.keys().next().value as string);
    return `${baseUrl.replace(/^http/, 'ws')}/socket?ticket=${ticket}`;
  }

  get connections(): number {
    return this.#connections.length;
  }

  /**
   * Drops what `appToken` (a revoked token) holds, as Slack does: its open connections are closed
   * and the one-time URLs it was handed but has not used yet stop working. Without a token, all.
   */
  disconnect(appToken?: string): void {
    for (const [ticket, owner] of [...this.#tickets])
      if (!appToken || owner === appToken) this.#tickets.delete(ticket);
    for (const c of [...this.#connections])
      if (!appToken || c.appToken === appToken) c.socket.close(1000, 'bye');
  }

  /**
   * Slack recycling its servers: each connection gets `{"type":"disconnect","reason":"refresh_requested"}`
   * and is expected to reconnect (apps.connections.open again). Slack closes the socket shortly
   * after; so does this, if the app has not closed it within `closeAfterMs`.
   */
  refresh(closeAfterMs = 1_000): void {
    for (const c of [...this.#connections]) {
      c.socket.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested' }));
      setTimeout(() => c.socket.close(1000, 'refresh_requested'), closeAfterMs).unref();
    }
  }

  /** Sends an envelope over the newest connection and resolves with the ack's payload. */
  async deliver(
    type: 'slash_commands' | 'interactive' | 'events_api',
    payload: unknown,
    timeoutMs = 5_000,
  ): Promise<unknown> {
    const connection = this.#connections.at(-1);
    if (!connection) throw new Error('no Socket Mode connection: the app has not connected');
    const envelopeId = randomBytes(8).toString('hex');
    const acked = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#acks.delete(envelopeId);
        reject(new Error(`no ack for envelope ${envelopeId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#acks.set(envelopeId, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
    });
    connection.socket.send(
      JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: true }),
    );
    return acked;
  }

  close(): void {
    clearInterval(this.#ping);
    for (const c of this.#connections) c.socket.terminate();
    this.#wss.close();
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const appToken = this.#tickets.get(url.searchParams.get('ticket') ?? '');
    if (url.pathname !== '/socket' || !appToken) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    this.#tickets.delete(url.searchParams.get('ticket') ?? '');
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = { socket: ws, appToken, openedAt: this.now() };
      this.#connections.push(connection);
      ws.on('message', (data) => this.#onMessage(String(data)));
      ws.on('close', () => {
        const i = this.#connections.indexOf(connection);
        if (i !== -1) this.#connections.splice(i, 1);
      });
      ws.send(
        JSON.stringify({
          type: 'hello',
          num_connections: this.#connections.length,
          connection_info: { app_id: this.appId },
          debug_info: { host: 'sandbox', approximate_connection_time: 18_060 },
        }),
      );
    });
  }

  #onMessage(text: string): void {
    try {
      const message = JSON.parse(text) as { envelope_id?: string; payload?: unknown };
      const resolve = message.envelope_id ? this.#acks.get(message.envelope_id) : undefined;
      if (resolve && message.envelope_id) {
        this.#acks.delete(message.envelope_id);
        resolve(message.payload ?? {});
      }
    } catch {
      // not an ack: ignore, as Slack does
    }
  }
}
