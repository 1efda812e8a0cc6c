import { request } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * The attacker of `npm run bench -- attack`, in a process of its own (forked by attack.ts, driven
 * over IPC): `connections` sockets to 127.0.0.1 that each send a Slack-looking request with a
 * bogus (well-formed) signature and a fresh timestamp, then trickle a body of 1 MiB − 1 byte
 * slowly; when the server closes one, it reconnects after a pause, until the time is up. A third
 * of them announce the full length, a third announce 256 KiB, a third send it chunked with no
 * length. Meanwhile it asks `/healthz` and `/readyz` every 200 ms, each on a fresh connection, as
 * a load balancer would. Bounded in time (`seconds`) and in count (connections opened).
 */

export interface AttackJob {
  port: number;
  connections: number;
  seconds: number;
  /** Bytes per trickle step, and the pause between steps. */
  chunkBytes: number;
  intervalMs: number;
  /** Pause before a closed connection is opened again. */
  reconnectMs: number;
}

export type AttackMode = 'declared_1MiB' | 'declared_256KiB' | 'chunked';

export interface AttackResult {
  opened: number;
  bytesSent: number;
  /** How each connection ended, by mode: `401`, `413`, `503`, `408`… or `closed` (no answer). */
  outcomes: Record<AttackMode, Record<string, number>>;
  /** Most attacking connections open at once (as this process saw them). */
  peakOpen: number;
  healthz: Probes;
  readyz: Probes;
}

/** Answers of one health endpoint: 200s, anything else, and the 200s' latencies. */
export interface Probes {
  ok: number;
  failed: number;
  latenciesMs: number[];
}

const TOTAL_BYTES = 1024 * 1024 - 1;
const MAX_OPENED_PER_CONNECTION = 200;
const MODES: AttackMode[] = ['declared_1MiB', 'declared_256KiB', 'chunked'];

const send = process.send?.bind(process);
if (!send) {
  console.error('attack-worker.js is started by the attack benchmark (child_process.fork), not by hand');
  process.exit(2);
}
process.on('disconnect', () => process.exit(0));
process.on('message', (job: AttackJob) => {
  attack(job).then(
    (result) => send({ type: 'result', result }),
    (error: unknown) => send({ type: 'error', message: String(error) }),
  );
});
send({ type: 'ready' });

async function attack(job: AttackJob): Promise<AttackResult> {
  if (!(job.connections >= 1 && job.connections <= 5_000)) throw new Error('connections out of range');
  if (!(job.seconds > 0 && job.seconds <= 600)) throw new Error('seconds out of range');
  if (!(job.chunkBytes >= 1 && job.chunkBytes <= TOTAL_BYTES)) throw new Error('chunkBytes out of range');
  if (!(job.intervalMs >= 10 && job.reconnectMs >= 10))
    throw new Error('intervalMs and reconnectMs: 10 ms at least');
  const end = performance.now() + job.seconds * 1_000;
  const result: AttackResult = {
    opened: 0,
    bytesSent: 0,
    outcomes: { declared_1MiB: {}, declared_256KiB: {}, chunked: {} },
    peakOpen: 0,
    healthz: { ok: 0, failed: 0, latenciesMs: [] },
    readyz: { ok: 0, failed: 0, latenciesMs: [] },
  };
  let open = 0;
  const maxOpened = job.connections * MAX_OPENED_PER_CONNECTION;
  const sockets = new Set<Socket>();

  /** One attacking connection: trickle until the server closes it or the time is up; resolves then. */
  const one = (mode: AttackMode) =>
    new Promise<void>((resolve) => {
      result.opened++;
      open++;
      result.peakOpen = Math.max(result.peakOpen, open);
      const socket = connect(job.port, '127.0.0.1');
      sockets.add(socket);
      let head = '';
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      socket.on('data', (chunk: Buffer) => {
        if (head.length < 64) head += chunk.toString('latin1');
      });
      socket.on('error', () => {});
      socket.once('close', () => {
        clearInterval(timer);
        sockets.delete(socket);
        open--;
        if (performance.now() < end) {
          const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 'closed';
          const counts = result.outcomes[mode];
          counts[status] = (counts[status] ?? 0) + 1;
        }
        resolve();
      });
      const ts = Math.floor(Date.now() / 1_000);
      const length =
        mode === 'declared_1MiB'
          ? `content-length: ${TOTAL_BYTES}`
          : mode === 'declared_256KiB'
            ? `content-length: ${256 * 1024}`
            : 'transfer-encoding: chunked';
      socket.write(
        `POST /slack/events HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-www-form-urlencoded\r\n` +
          `x-slack-request-timestamp: ${ts}\r\nx-slack-signature: v0=${'0f'.repeat(32)}\r\n${length}\r\n\r\n`,
      );
      const limit = mode === 'declared_256KiB' ? 256 * 1024 : TOTAL_BYTES;
      timer = setInterval(() => {
        if (socket.destroyed || !socket.writable || sent >= limit || performance.now() >= end) {
          clearInterval(timer);
          return;
        }
        const n = Math.min(job.chunkBytes, limit - sent);
        const bytes = 'x'.repeat(n);
        socket.write(mode === 'chunked' ? `${n.toString(16)}\r\n${bytes}\r\n` : bytes);
        sent += n;
        result.bytesSent += n;
      }, job.intervalMs);
    });

  const slot = async (index: number) => {
    const mode = MODES[index % MODES.length] as AttackMode;
    // Spread the first connections over the first second, as a real flood ramps up.
    await sleep(Math.floor((index / job.connections) * 1_000));
    while (performance.now() < end && result.opened < maxOpened) {
      await one(mode);
      await sleep(job.reconnectMs);
    }
  };

  const probe = async (path: '/healthz' | '/readyz', probes: Probes) => {
    while (performance.now() < end) {
      const started = performance.now();
      const status = await get(job.port, path);
      if (status === 200) {
        probes.ok++;
        probes.latenciesMs.push(performance.now() - started);
      } else probes.failed++;
      await sleep(200);
    }
  };

  const stopper = sleep(job.seconds * 1_000).then(() => {
    for (const socket of sockets) socket.destroy();
  });
  await Promise.all([
    ...Array.from({ length: job.connections }, (_, i) => slot(i)),
    probe('/healthz', result.healthz),
    probe('/readyz', result.readyz),
    stopper,
  ]);
  return result;
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.setTimeout(5_000, () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
