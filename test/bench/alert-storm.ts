import { startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import type { SimMessage } from '../../src/sandbox/slack-workspace.js';
import { envNumber } from './bench-probe.js';
import { percentile } from './load.js';

/**
 * `npm run bench -- alerts`: a Datadog alert storm against the whole bot. 5,000 webhooks spread
 * over 60 s across 20 channels (a route per `team:tNN` tag), with the simulated Slack enforcing
 * about one message per second per channel (burst 3) the way Slack does, and the dispatcher at its
 * production pacing. Prints webhook ack p50/p99, alerts lost (never visible in Slack within 120 s
 * of the last webhook), duplicates (an alert shown in two messages, or two roots for one cycle),
 * Slack calls and 429s, seconds from the first webhook to its root, and seconds until every alert
 * was visible. `OPSBOT_BENCH_ALERTS_SCALE=0.1` runs a tenth of it (500 webhooks over 6 s).
 */
const CHANNELS = 20;
const WAIT_AFTER_MS = 120_000;

const pad = (n: number) => String(n).padStart(2, '0');
const channelOf = (n: number) => `C0A${pad(n)}`;

export async function benchAlerts(): Promise<void> {
  const scale = envNumber('OPSBOT_BENCH_ALERTS_SCALE', 1);
  const count = Math.max(20, Math.round(5_000 * scale));
  const durationMs = Math.max(1_000, Math.round(60_000 * scale));
  const routes = Array.from(
    { length: CHANNELS },
    (_, i) => `    - match: { tags: ["team:t${pad(i + 1)}"] }\n      channel: ${channelOf(i + 1)}`,
  ).join('\n');
  const bot = await startSandboxBot({
    configYaml: `access:\n  admins: [U0ADMIN]\nalerts:\n  defaultChannel: C0ALERTS\n  routes:\n${routes}\n`,
    logLevel: 'warn',
    pollSeconds: 600,
  });
  try {
    for (let i = 1; i <= CHANNELS; i++) bot.slack.addChannel({ id: channelOf(i), name: `alerts-t${pad(i)}` });
    bot.slack.limitPostsPerChannel({ perSecond: 1, burst: 3 });
    const channels = Array.from({ length: CHANNELS }, (_, i) => channelOf(i + 1));
    // Watches Slack: when each alert id first became visible, and in how many messages.
    const firstSeen = new Map<string, number>();
    const seenIn = new Map<string, Set<string>>();
    const rootKeys = new Map<string, number>();
    let watching = true;
    const scan = () => {
      rootKeys.clear();
      for (const channel of channels) {
        for (const m of bot.slack.messages(channel) as SimMessage[]) {
          const payload = m.metadata?.event_payload as { key?: string; alert_ids?: string } | undefined;
          if (!payload?.key) continue;
          if (payload.key.startsWith('alert:'))
            rootKeys.set(payload.key, (rootKeys.get(payload.key) ?? 0) + 1);
          for (const id of String(payload.alert_ids ?? '').split(',')) {
            if (!id) continue;
            if (!firstSeen.has(id)) firstSeen.set(id, performance.now());
            const where = seenIn.get(id) ?? new Set<string>();
            where.add(`${channel}/${m.ts}`);
            seenIn.set(id, where);
          }
        }
      }
    };
    const watcher = (async () => {
      while (watching) {
        scan();
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const started = performance.now();
    const { bodies, results } = await bot.webhooks.storm({
      count,
      durationMs,
      concurrency: 64,
      tagsFor: (i) => [`team:t${pad((i % CHANNELS) + 1)}`, 'env:prod'],
    });
    const sentAll = performance.now();
    const accepted = results.filter((r) => r.status === 202).length;
    const ids = bodies.map((b) => b.id);
    const deadline = sentAll + WAIT_AFTER_MS;
    while (ids.some((id) => !firstSeen.has(id)) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    watching = false;
    await watcher;
    scan();

    const acks = results.map((r) => r.ms).sort((a, b) => a - b);
    const lost = ids.filter((id) => !firstSeen.has(id)).length;
    const shownTwice = ids.filter((id) => (seenIn.get(id)?.size ?? 0) > 1).length;
    const doubleRoots = [...rootKeys.values()].filter((n) => n > 1).length;
    const calls = [...bot.slack.callCounts.entries()];
    const slackCalls = calls.reduce((n, [, c]) => n + c, 0);
    const firstRoot = firstSeen.get(ids[0] ?? '');
    const lastSeen = Math.max(...ids.map((id) => firstSeen.get(id) ?? Number.NaN));
    const digests = channels
      .flatMap((c) => bot.slack.messages(c))
      .filter((m) => String(m.metadata?.event_payload.key ?? '').startsWith('alert-digest:')).length;
    console.log(
      `alerts.webhooks: ${count} over ${(durationMs / 1_000).toFixed(0)} s to ${CHANNELS} channels (${accepted} answered 202)`,
    );
    console.log(`alerts.webhook_ack_p50: ${percentile(acks, 50).toFixed(1)} ms`);
    console.log(`alerts.webhook_ack_p99: ${percentile(acks, 99).toFixed(1)} ms`);
    console.log(`alerts.lost: ${lost}`);
    console.log(`alerts.duplicates: ${shownTwice} shown twice, ${doubleRoots} cycles with two roots`);
    console.log(`alerts.slack_calls: ${slackCalls} (${calls.map(([m, c]) => `${m} ${c}`).join(', ')})`);
    console.log(`alerts.slack_429s: ${bot.slack.rateLimitedCount()}`);
    console.log(`alerts.digest_messages: ${digests}`);
    console.log(
      `alerts.first_webhook_to_root: ${firstRoot === undefined ? 'never' : ((firstRoot - started) / 1_000).toFixed(2)} s`,
    );
    console.log(
      `alerts.until_all_visible: ${Number.isFinite(lastSeen) ? ((lastSeen - started) / 1_000).toFixed(1) : 'never'} s (the last webhook went at ${((sentAll - started) / 1_000).toFixed(1)} s)`,
    );
  } finally {
    await bot.stop();
  }
}
