import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A proxy in front of the DynamoDB emulator that passes ONE request at a time, in arrival order,
 * and counts them by operation (`X-Amz-Target: DynamoDB_20120810.PutItem` → `PutItem`).
 *
 * Why one at a time: moto_server runs each connection on its own thread, and its conditional writes
 * and transactions are not atomic across threads (a cancelled transaction restores a snapshot of
 * the whole table). Real DynamoDB is atomic per item and per transaction; serializing the calls
 * gives the emulator those semantics, while the replicas still interleave their calls freely.
 */
export interface DynamoProxy {
  url: string;
  /** Calls forwarded so far, by operation. */
  counts(): Record<string, number>;
  total(): number;
  reset(): void;
  stop(): Promise<void>;
}

const FORWARD_TIMEOUT_MS = 10_000;

/**
 * @param options.latencyMs each call waits this long before its turn (as a network round trip
 *   would, so concurrent calls overlap their waits while the emulator still takes one at a time).
 * @param options.observe is shown each call's operation and body as it arrives (a test recording them).
 */
export async function startDynamoProxy(
  target: string,
  options: { latencyMs?: number; observe?: (operation: string, body: Buffer) => void } = {},
): Promise<DynamoProxy> {
  const latency = options.latencyMs ?? 0;
  const upstream = new URL(target);
  const counts = new Map<string, number>();
  let queue: Promise<void> = Promise.resolve();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const op = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'other';
      counts.set(op, (counts.get(op) ?? 0) + 1);
      options.observe?.(op, body);
      if (latency > 0) setTimeout(() => enqueue(body), latency);
      else enqueue(body);
    });
    const enqueue = (body: Buffer) => {
      queue = queue.then(
        () =>
          new Promise<void>((resolve) => {
            // Whatever happens to this call (answered, refused, abandoned, silent), the next one goes.
            let settled = false;
            const done = () => {
              if (settled) return;
              settled = true;
              clearTimeout(hard);
              resolve();
            };
            const hard = setTimeout(() => {
              forward.destroy();
              if (!res.headersSent) res.writeHead(504);
              res.end();
              done();
            }, FORWARD_TIMEOUT_MS);
            const forward = request(
              {
                host: upstream.hostname,
                port: upstream.port,
                method: req.method,
                path: req.url,
                headers: { ...req.headers, host: upstream.host },
              },
              (answer) => {
                res.writeHead(answer.statusCode ?? 502, answer.headers);
                answer.pipe(res);
                answer.on('close', done);
                answer.on('error', done);
              },
            );
            forward.on('error', () => {
              if (!res.headersSent) res.writeHead(504);
              res.end();
              done();
            });
            forward.end(body);
          }),
      );
    };
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    counts: () => Object.fromEntries(counts),
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    reset: () => counts.clear(),
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
