import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP pass-through to `target` (`http://127.0.0.1:PORT`) that can be shut: while shut, every
 * connection is cut at once (the client sees ECONNRESET, as from a server that went away), and the
 * connections already open are cut too. It never reads or keeps what passes through.
 *
 * @example
 * const gate = await startTcpGate(moto.url);
 * gate.shut(); // calls through gate.url now fail like an unreachable endpoint
 * gate.open();
 */
export interface TcpGate {
  url: string;
  shut(): void;
  open(): void;
  stop(): Promise<void>;
}

export async function startTcpGate(target: string): Promise<TcpGate> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  let shut = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server: Server = createServer((client) => {
    track(client);
    if (shut) {
      client.resetAndDestroy();
      return;
    }
    const forward = connect({ host: upstream.hostname, port: Number(upstream.port) });
    track(forward);
    client.pipe(forward);
    forward.pipe(client);
    client.on('error', () => forward.destroy());
    forward.on('error', () => client.destroy());
    client.on('close', () => forward.destroy());
    forward.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    shut() {
      shut = true;
      for (const socket of sockets) socket.destroy();
    },
    open() {
      shut = false;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
