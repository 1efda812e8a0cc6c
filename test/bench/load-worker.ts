import { Agent, request } from 'node:http';
import { signSlackRequest } from '../../src/slack/verify-request.js';
import type { FromWorker, LoadJob, LoadResult, ToWorker } from './load.js';

/**
 * The Slack benchmark's load generator, in a process of its own (forked by `startLoadWorker` in
 * load.ts, driven over IPC): it builds and signs `/bench ping <n>` slash commands, sends them to
 * 127.0.0.1, and reports for every request when it was sent (epoch ms, sub-ms) and how long its ack
 * took. It exits as soon as the parent disconnects.
 */

/** A request not answered within this long counts as failed (keeps every run bounded). */
const REQUEST_TIMEOUT_MS = 10_000;
/** At most this many requests per run (a closed loop against a server refusing at once would spin). */
const MAX_REQUESTS = 2_000_000;
/** Distinct failure reasons kept per run. */
const MAX_ERROR_KINDS = 10;

const send = process.send?.bind(process);
if (!send) {
  console.error('load-worker.js is started by the Slack benchmark (child_process.fork), not by hand');
  process.exit(2);
}
const post = (message: FromWorker) => {
  if (process.connected) send(message);
};
process.on('disconnect', () => process.exit(0));
process.on('message', (message: ToWorker) => {
  if (message.type === 'clock') {
    post({ type: 'clock', id: message.id, epochMs: epochNow() });
    return;
  }
  run(message.job).then(
    (result) => post({ type: 'result', id: message.id, result }),
    (error: unknown) => post({ type: 'error', id: message.id, message: String(error) }),
  );
});
post({ type: 'ready' });

/** Epoch ms with sub-ms precision, on the same footing as the bot process's stamps. */
function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

async function run(job: LoadJob): Promise<LoadResult> {
  const url = new URL(job.url);
  if (url.hostname !== '127.0.0.1')
    throw new Error(`the load worker only sends to 127.0.0.1, not ${url.host}`);
  if (!(job.seconds > 0 && job.seconds <= 3_600)) throw new Error(`seconds out of range: ${job.seconds}`);
  const recorder = new Recorder(job.firstN);
  const sender = new Sender(job, recorder);
  const started = performance.now();
  if (job.mode === 'fixed') {
    if (!(job.rate > 0 && job.rate <= 10_000)) throw new Error(`rate out of range: ${job.rate}`);
    const agent = new Agent({ keepAlive: true, maxSockets: 256 });
    try {
      // Open loop: request i goes out at started + i/rate whatever the server does; a slow
      // server does not slow the sender. The count bounds the run.
      const total = Math.round(job.rate * job.seconds);
      if (total > MAX_REQUESTS) throw new Error(`${total} requests is more than a run may send`);
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < total; i++) {
        const wait = started + (i * 1_000) / job.rate - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        inflight.push(sender.one(agent));
      }
      await Promise.all(inflight);
    } finally {
      agent.destroy();
    }
  } else {
    if (!(job.concurrency >= 1 && job.concurrency <= 1_000)) {
      throw new Error(`concurrency out of range: ${job.concurrency}`);
    }
    // Closed loop: each sender sends its next request when the last one is answered, until the end.
    const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
    const end = started + job.seconds * 1_000;
    try {
      await Promise.all(
        Array.from({ length: job.concurrency }, async () => {
          while (performance.now() < end && recorder.count < MAX_REQUESTS) await sender.one(agent);
        }),
      );
    } finally {
      agent.destroy();
    }
  }
  return recorder.result((performance.now() - started) / 1_000);
}

/** Per request (indexed by n − firstN): send time and ack latency (NaN when it failed). */
class Recorder {
  readonly #sentAt: number[] = [];
  readonly #ackMs: number[] = [];
  readonly #errors: Record<string, number> = {};
  #ok = 0;
  #failed = 0;

  constructor(readonly firstN: number) {}

  get count(): number {
    return this.#sentAt.length;
  }

  /** Takes the next request number. */
  next(): { n: number; index: number } {
    const index = this.#sentAt.length;
    this.#sentAt.push(Number.NaN);
    this.#ackMs.push(Number.NaN);
    return { n: this.firstN + index, index };
  }

  /** Stamps a request's send time: epoch ms with sub-ms precision (the bot's process stamps the same way). */
  sending(index: number, at: number): void {
    this.#sentAt[index] = performance.timeOrigin + at;
  }

  acked(index: number, ms: number): void {
    this.#ackMs[index] = ms;
    this.#ok++;
  }

  failed(why: string): void {
    this.#failed++;
    if (why in this.#errors || Object.keys(this.#errors).length < MAX_ERROR_KINDS) {
      this.#errors[why] = (this.#errors[why] ?? 0) + 1;
    }
  }

  result(seconds: number): LoadResult {
    return {
      firstN: this.firstN,
      sent: this.#sentAt.length,
      ok: this.#ok,
      failed: this.#failed,
      seconds,
      sentAtMs: Float64Array.from(this.#sentAt),
      ackMs: Float64Array.from(this.#ackMs),
      errors: this.#errors,
    };
  }
}

class Sender {
  constructor(
    private readonly job: LoadJob,
    private readonly recorder: Recorder,
  ) {}

  /** One signed `/bench ping <n>`; never rejects (a failure is recorded). */
  one(agent: Agent): Promise<void> {
    const { n, index } = this.recorder.next();
    const { body, headers } = this.signed(n);
    const t0 = performance.now();
    this.recorder.sending(index, t0);
    return new Promise<void>((resolve) => {
      let settled = false;
      const settle = (error?: string) => {
        if (settled) return;
        settled = true;
        if (error === undefined) this.recorder.acked(index, performance.now() - t0);
        else this.recorder.failed(error);
        resolve();
      };
      const r = request(this.job.url, { method: 'POST', headers, agent }, (res) => {
        res.resume();
        res.on('end', () => settle(res.statusCode === 200 ? undefined : `status ${res.statusCode}`));
        res.on('error', (error) => settle(error.message));
      });
      r.setTimeout(REQUEST_TIMEOUT_MS, () => r.destroy(new Error('timeout')));
      r.on('error', (error) => settle(error.message));
      r.end(body);
    });
  }

  private signed(n: number): { body: string; headers: Record<string, string> } {
    const body = new URLSearchParams({
      token: 'x',
      team_id: 'T0SANDBOX',
      team_domain: 'sandbox',
      channel_id: 'C0DEV',
      channel_name: 'dev',
      user_id: 'U0DEV',
      user_name: 'dev',
      command: '/bench',
      text: `ping ${n}`,
      api_app_id: 'A0OPSBOT',
      is_enterprise_install: 'false',
      response_url: `${this.job.responseUrl}/${n}`,
      trigger_id: `${n}.trigger`,
    }).toString();
    const ts = String(Math.floor(Date.now() / 1_000));
    return {
      body,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': ts,
        'x-slack-signature': signSlackRequest(this.job.signingSecret, ts, body),
      },
    };
  }
}
