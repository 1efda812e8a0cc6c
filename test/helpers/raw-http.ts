import { request } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * HTTP by hand over a TCP socket on 127.0.0.1, for what fetch will not do: stop half-way through
 * the headers, declare a body and never send it, trickle bytes, and notice exactly when the server
 * answers and closes.
 */
export interface RawClient {
  socket: Socket;
  /** Everything received so far, as text. */
  received(): string;
  /** The status code of the first response once its status line arrived, else undefined. */
  status(): number | undefined;
  /** True once the socket closed (either side). */
  isClosed(): boolean;
  /** Resolves when the socket closes: what was received, and how long after connecting (ms). */
  closed: Promise<{ received: string; ms: number }>;
  /** Writes more bytes unless the socket is gone; false when it is. */
  write(data: string | Buffer): boolean;
  destroy(): void;
}

/** Connects to 127.0.0.1:`port` and writes `initial` (e.g. a request head) once connected. */
export function openRaw(port: number, initial = ''): RawClient {
  const socket = connect(port, '127.0.0.1');
  const started = performance.now();
  let received = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    if (received.length < 64 * 1024) received += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  const closedPromise = new Promise<{ received: string; ms: number }>((resolve) => {
    socket.once('close', () => {
      closed = true;
      resolve({ received, ms: performance.now() - started });
    });
  });
  if (initial) socket.write(initial);
  return {
    socket,
    received: () => received,
    status: () => {
      const match = /^HTTP\/1\.1 (\d{3}) /.exec(received);
      return match ? Number(match[1]) : undefined;
    },
    isClosed: () => closed,
    closed: closedPromise,
    write: (data) => {
      if (closed || socket.destroyed || !socket.writable) return false;
      socket.write(data);
      return true;
    },
    destroy: () => socket.destroy(),
  };
}

/** A request head: `POST /path HTTP/1.1`, the given headers, and the blank line. */
export function head(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${lines.join('\r\n')}${lines.length ? '\r\n' : ''}\r\n`;
}

/** A header value of a raw response, or undefined. */
export function responseHeader(received: string, name: string): string | undefined {
  const headEnd = received.indexOf('\r\n\r\n');
  const lines = (headEnd === -1 ? received : received.slice(0, headEnd)).split('\r\n');
  const line = lines.find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

/** One request on a connection of its own (no keep-alive pool), never rejecting on HTTP status. */
export function send(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(options.body);
  });
}
