import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** A simulated service's HTTP listener on 127.0.0.1: its URL, and a stop that drops open connections. */
export interface LoopbackServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * Listens on a free port of 127.0.0.1 with `handle`, tracking connections so that `stop()` ends at
 * once (keep-alive clients would otherwise hold `close()` open). With `tls` (PEM key and
 * certificate) it serves HTTPS.
 */
export async function startLoopbackServer(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  options: { tls?: { key: string; cert: string } } = {},
): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  const server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handle)
    : createServer(handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
