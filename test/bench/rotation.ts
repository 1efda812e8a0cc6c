import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditRecord } from '../../src/audit/records.js';
import { datadogWebhookBody, type WebhookResult } from '../../src/sandbox/datadog-webhook-sender.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import type { RotationOutcome } from '../../src/secret-rotation/service.js';
import { BENCH_POLICY, benchProbe, currentSigningSecret, envNumber } from './bench-probe.js';
import { type LoadResult, type LoadWorker, percentile, startLoadWorker } from './load.js';

/**
 * `npm run bench -- rotation`: each secret kind opsbot rotates with no person (`audit`, `datadog`,
 * and `slack` with Slack token rotation on) rotated while traffic flows: BENCH_ROTATION_RATE (200)
 * signed `/bench ping <n>` slash commands a second from the load worker (a child process) and 20
 * Datadog webhooks a second from this process through Datadog's own sender (`bot.webhooks`, which
 * sends the header the webhook holds in the simulated Datadog, so the rotation's setSecret changes
 * it mid-stream). Per kind, after a warm-up, `SecretRotation.begin` (RotateSecret: the real
 * rotation function against the simulated vendors), then:
 * - rotate_to_current: until the rotation function's four steps are done (AWSCURRENT moved; the
 *   simulated Secrets Manager runs it in this process after RotateSecret answers);
 * - rotate_to_served: until the bot's provider serves the new version (polled every 10 ms, 60 s at
 *   most);
 * - rotate_to_confirmed: until `follow` reports it done (what `/opsbot rotate` waits for);
 * - the traffic goes on BENCH_ROTATION_SECONDS (10) in all, and at least 2 s after the switch;
 * - commands sent/ok/failed (ok: acked with 200 AND its audit record stored as a success, so a
 *   command the audit key rotation broke after its ack counts as failed), webhooks
 *   sent/accepted/refused (accepted: 202), ack p50/p99 of the commands sent during the rotation.
 * Fails if a command failed, a webhook was refused, or a rotation did not end with the bot serving
 * its new version; at the end the audit chain (across the audit key rotation) must verify. Prints
 * no secret value (checked against every value the sandbox issued).
 */

const KINDS = ['audit', 'datadog', 'slack'] as const;
const WEBHOOKS_PER_SECOND = 20;
/** Traffic before the rotation starts. */
const WARM_UP_MS = 2_000;
/** Traffic after the switch, at least. */
const AFTER_SWITCH_MS = 2_000;
/** The load worker's runs are this long, back to back, until the traffic is to stop. */
const CHUNK_SECONDS = 1;
const SERVE_POLL_MS = 10;
const SERVE_AT_MOST_MS = 60_000;
const AUDIT_WAIT_MS = 10_000;

/** The probe in #dev, and alerts to #alerts (the dispatcher posts them with the bot token). */
const POLICY = `${BENCH_POLICY}alerts:
  defaultChannel: C0ALERTS
`;

type Kind = (typeof KINDS)[number];

export async function benchRotation(): Promise<void> {
  const rate = envNumber('BENCH_ROTATION_RATE', 200);
  const seconds = envNumber('BENCH_ROTATION_SECONDS', 10);
  const audits = new ProbeAudits();
  const out = new Output();
  const sink = await responseSink();
  const load = await startLoadWorker();
  try {
    const bot = await startSandboxBot({
      configYaml: POLICY,
      extraCommands: [benchProbe],
      slackTokenRotation: true,
      onAuditStored: (record) => audits.stored(record),
    });
    try {
      const clock = await load.clockOffset();
      const traffic: TrafficDeps = {
        bot,
        load,
        audits,
        out,
        rate,
        seconds,
        offsetMs: clock.offsetMs,
        signingSecret: currentSigningSecret(bot),
        responseUrl: sink.url,
        nextN: 1,
      };
      out.say(
        `rotation.setup: ${rate} commands/s and ${WEBHOOKS_PER_SECOND} webhooks/s, ${seconds} s per kind (at least ${AFTER_SWITCH_MS / 1_000} s after the switch), rotation ${WARM_UP_MS / 1_000} s in`,
      );
      const problems: string[] = [];
      for (const kind of KINDS) problems.push(...(await rotateUnderTraffic(kind, traffic)));

      const chain = await bot.state.audit.verify();
      if (chain.ok) out.say(`rotation.audit_chain: ${chain.checked} records, verified`);
      else {
        out.say(`rotation.audit_chain: BROKEN at record ${chain.brokenAt}: ${chain.why}`);
        problems.push(`the audit chain does not verify at record ${chain.brokenAt}`);
      }
      out.expectNoSecret(bot.secrets());
      if (problems.length > 0) throw new Error(`rotation under traffic: ${problems.join('; ')}`);
    } finally {
      await bot.stop();
    }
  } finally {
    await load.stop();
    sink.close();
  }
}

interface TrafficDeps {
  bot: SandboxBot;
  load: LoadWorker;
  audits: ProbeAudits;
  out: Output;
  rate: number;
  seconds: number;
  /** The load worker's epoch clock minus this process's (ms). */
  offsetMs: number;
  signingSecret: string;
  responseUrl: string;
  /** The next request number (unique across the benchmark). */
  nextN: number;
}

/** One kind: traffic, the rotation in its middle, the numbers; returns what went wrong. */
async function rotateUnderTraffic(kind: Kind, d: TrafficDeps): Promise<string[]> {
  const { bot, out } = d;
  const rotation = bot.app.secretRotation;
  const before = bot.provider.current(kind).versionId;
  const started = performance.now();
  let stopAt = started + d.seconds * 1_000;
  const webhooks = new WebhookFlow(bot);
  const commands = (async () => {
    const runs: LoadResult[] = [];
    while (performance.now() < stopAt) {
      const run = await d.load.run({
        mode: 'fixed',
        rate: d.rate,
        seconds: CHUNK_SECONDS,
        url: `${bot.base}/slack/events`,
        firstN: d.nextN,
        signingSecret: d.signingSecret,
        responseUrl: d.responseUrl,
      });
      d.nextN += run.sent;
      runs.push(run);
    }
    return runs;
  })();

  const problems: string[] = [];
  let outcome: RotationOutcome | undefined;
  let begunAt = Number.NaN;
  let currentAt = Number.NaN;
  let servedAt = Number.NaN;
  let confirmedAt = Number.NaN;
  try {
    await sleep(WARM_UP_MS);
    begunAt = performance.now();
    const begun = await rotation.begin(kind, { emergency: false });
    // The simulated Secrets Manager runs the rotation function after RotateSecret answers.
    const settled = bot.secretsManager.rotationSettled(begun.name).then(() => {
      currentAt = performance.now();
    });
    const followed = rotation.follow(begun).then((o) => {
      confirmedAt = performance.now();
      return o;
    });
    const serving = () => bot.provider.current(kind).versionId === begun.token;
    while (!serving() && performance.now() - begunAt < SERVE_AT_MOST_MS) await sleep(SERVE_POLL_MS);
    if (serving()) servedAt = performance.now();
    else problems.push(`${kind}: the bot did not serve the new version within ${SERVE_AT_MOST_MS / 1_000} s`);
    outcome = await followed;
    await settled;
    if (outcome.status !== 'current') problems.push(`${kind}: the rotation stopped: ${outcome.reason}`);
    else if (!outcome.botServes) problems.push(`${kind}: follow says the bot does not serve the new version`);
    if (bot.provider.current(kind).versionId === before)
      problems.push(`${kind}: the bot still serves the version from before the rotation`);
  } catch (error) {
    problems.push(`${kind}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    // The traffic goes on at least a little after the switch (or the failure).
    stopAt = Math.max(stopAt, performance.now() + AFTER_SWITCH_MS);
  }
  const runs = await commands;
  const hooks = await webhooks.stop();

  const ms = (at: number) => (Number.isNaN(at) ? 'never' : `${(at - begunAt).toFixed(0)} ms`);
  out.say(`rotation.${kind}.rotate_to_current: ${ms(currentAt)} (the rotation function's four steps done)`);
  out.say(`rotation.${kind}.rotate_to_served: ${ms(servedAt)}`);
  out.say(`rotation.${kind}.rotate_to_confirmed: ${ms(confirmedAt)}`);

  const tally = await d.audits.tally(runs);
  const reasons = Object.entries(tally.reasons).map(([why, count]) => `${count}× ${why}`);
  out.say(
    `rotation.${kind}.commands: ${tally.sent}/${tally.ok}/${tally.failed} (sent/ok/failed${reasons.length ? `: ${reasons.join(', ')}` : ''})`,
  );
  const refusals = Object.entries(hooks.refusals).map(([why, count]) => `${count}× ${why}`);
  out.say(
    `rotation.${kind}.webhooks: ${hooks.sent}/${hooks.accepted}/${hooks.refused} (sent/accepted/refused${refusals.length ? `: ${refusals.join(', ')}` : ''})`,
  );
  // The rotation window: from begin until follow confirmed (or the traffic ended), in the
  // worker's clock (its send stamps).
  const epoch = (at: number) => performance.timeOrigin + at + d.offsetMs;
  const windowEnd = Number.isNaN(confirmedAt) ? Number.POSITIVE_INFINITY : epoch(confirmedAt);
  const acks = acksSentBetween(runs, epoch(begunAt), windowEnd);
  out.say(
    `rotation.${kind}.ack_p50_during_rotation: ${percentile(acks, 50).toFixed(2)} ms (${acks.length} acks)`,
  );
  out.say(`rotation.${kind}.ack_p99_during_rotation: ${percentile(acks, 99).toFixed(2)} ms`);
  out.say(`rotation.${kind}.traffic: ${((performance.now() - started) / 1_000).toFixed(1)} s`);

  if (tally.failed > 0) problems.push(`${kind}: ${tally.failed} of ${tally.sent} commands failed`);
  if (hooks.refused > 0) problems.push(`${kind}: ${hooks.refused} of ${hooks.sent} webhooks were refused`);
  return problems;
}

/** Ack latencies of the requests sent within [from, to) (epoch ms, the worker's clock) and acked. */
function acksSentBetween(runs: readonly LoadResult[], from: number, to: number): number[] {
  const out: number[] = [];
  for (const run of runs) {
    run.ackMs.forEach((ms, i) => {
      const sentAt = run.sentAtMs[i] as number;
      if (!Number.isNaN(ms) && sentAt >= from && sentAt < to) out.push(ms);
    });
  }
  return out;
}

/**
 * Datadog's webhooks at {@link WEBHOOKS_PER_SECOND}, open loop (one every 50 ms whatever the bot
 * does), through `bot.webhooks` until `stop`; accepted means 202.
 */
class WebhookFlow {
  readonly #results: Promise<WebhookResult>[] = [];
  readonly #done: Promise<void>;
  #stopped = false;

  constructor(bot: SandboxBot) {
    const started = performance.now();
    this.#done = (async () => {
      for (let i = 0; !this.#stopped; i++) {
        const wait = started + (i * 1_000) / WEBHOOKS_PER_SECOND - performance.now();
        if (wait > 1) await sleep(wait);
        if (this.#stopped) break;
        this.#results.push(bot.webhooks.send(datadogWebhookBody({ tags: ['env:prod', 'service:web'] })));
      }
    })();
  }

  async stop(): Promise<{
    sent: number;
    accepted: number;
    refused: number;
    refusals: Record<string, number>;
  }> {
    this.#stopped = true;
    await this.#done;
    const results = await Promise.all(this.#results);
    const refusals: Record<string, number> = {};
    let accepted = 0;
    for (const r of results) {
      if (r.status === 202) accepted++;
      else {
        // The status alone (a body could echo what was sent).
        const why = r.status === 0 ? 'no answer' : `status ${r.status}`;
        refusals[why] = (refusals[why] ?? 0) + 1;
      }
    }
    return { sent: results.length, accepted, refused: results.length - accepted, refusals };
  }
}

/** The probe's audit records as the bot stores them: request number → outcome. */
class ProbeAudits {
  readonly #outcomes = new Map<number, string>();

  stored(record: AuditRecord): void {
    if (record.action !== 'bench:ping' || record.outcome === 'intent') return;
    const n = /^n=(\d{1,9})$/.exec(String(record.details.args ?? ''))?.[1];
    if (n !== undefined) this.#outcomes.set(Number(n), record.outcome);
  }

  /**
   * Waits (at most 10 s) for the audit record of every request acked with 200, then counts: ok is
   * acked and audited as a success; every other request failed, with its reason.
   */
  async tally(runs: readonly LoadResult[]): Promise<{
    sent: number;
    ok: number;
    failed: number;
    reasons: Record<string, number>;
  }> {
    const acked: number[] = [];
    for (const run of runs)
      run.ackMs.forEach((ms, i) => {
        if (!Number.isNaN(ms)) acked.push(run.firstN + i);
      });
    const deadline = performance.now() + AUDIT_WAIT_MS;
    while (acked.some((n) => !this.#outcomes.has(n)) && performance.now() < deadline) await sleep(20);
    const reasons: Record<string, number> = {};
    const add = (why: string, count = 1) => {
      reasons[why] = (reasons[why] ?? 0) + count;
    };
    for (const run of runs) for (const [why, count] of Object.entries(run.errors)) add(`ack ${why}`, count);
    let ok = 0;
    for (const n of acked) {
      const outcome = this.#outcomes.get(n);
      if (outcome === 'success') ok++;
      else
        add(
          outcome === undefined ? `no audit record after ${AUDIT_WAIT_MS / 1_000} s` : `audited ${outcome}`,
        );
    }
    const sent = runs.reduce((sum, r) => sum + r.sent, 0);
    return { sent, ok, failed: sent - ok, reasons };
  }
}

/** Prints the benchmark's lines and keeps them, to check that none holds a secret value. */
class Output {
  readonly #lines: string[] = [];

  say(line: string): void {
    this.#lines.push(line);
    console.log(line);
  }

  expectNoSecret(secrets: readonly string[]): void {
    const text = this.#lines.join('\n');
    if (secrets.some((s) => s.length >= 8 && text.includes(s)))
      throw new Error('a secret value appeared in the benchmark output');
  }
}

/** Where the commands' response_url points (the probe posts nothing; anything that does lands here). */
async function responseSink(): Promise<{ url: string; close: () => void }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end('ok'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`,
    close: () => server.close(),
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
