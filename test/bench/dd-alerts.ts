import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueuedAlert } from '../../src/alerts/deliver.js';
import type { AlertEvent } from '../../src/alerts/payload.js';
import { alertReport, alertSummary, monitorHistory } from '../../src/alerts/report.js';
import { type AlertRoutes, topicFor } from '../../src/alerts/routes.js';
import { openSqliteState } from '../../src/store/sqlite.js';
import type { OutboxStore } from '../../src/store/state.js';

const ALERTS = Number(process.env.BENCH_DD_ALERTS ?? 10_000);
const PAYLOAD_BYTES = 39_000;
const CHANNEL = 'C0ALERTS';
const ROUTES: AlertRoutes = { defaultChannel: CHANNEL, routes: [] };

/**
 * `npm run bench -- dd-alerts`: 10,000 stored alerts of 39 KB in one channel (the issue's case),
 * then `/dd alerts` as it was (every payload read and parsed: `before`) and as it is (counted by
 * the store: `after`), and `/dd monitor`'s history; prints for each the longest the event loop went
 * without a turn and how much the heap grew.
 */
export async function benchDdAlerts(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-bench-dd-'));
  const state = openSqliteState({ path: join(dir, 'opsbot.db') });
  try {
    const started = Date.now();
    for (let i = 0; i < ALERTS; i += 500) {
      const batch = [];
      for (let j = i; j < Math.min(ALERTS, i + 500); j++) {
        const alert = sampleAlert(j, started);
        const queued: QueuedAlert = { alert, channel: CHANNEL };
        batch.push(
          state.outbox.enqueue({
            id: `dd:${j}`,
            topic: topicFor(CHANNEL),
            payload: JSON.stringify(queued),
            summary: alertSummary(alert),
          }),
        );
      }
      await Promise.all(batch);
    }
    const since = started - 3_600_000;
    const label = ALERTS === 10_000 ? '10k_39KB' : `${ALERTS}_39KB`;
    const before = await measure(() => reportByReading(state.outbox, since));
    const after = await measure(() => alertReport(state.outbox, ROUTES, since));
    if (before.value !== after.value.total)
      throw new Error(`the two reports disagree: ${before.value} and ${after.value.total} alerts`);
    const history = await measure(() => monitorHistory(state.outbox, ROUTES, '1', since));
    console.log(`dd_alerts.${label}.before.longest_event_loop_stall: ${before.stallMs.toFixed(1)} ms`);
    console.log(`dd_alerts.${label}.before.heap_growth: ${before.heapMb.toFixed(1)} MB`);
    console.log(`dd_alerts.${label}.after.longest_event_loop_stall: ${after.stallMs.toFixed(1)} ms`);
    console.log(`dd_alerts.${label}.after.heap_growth: ${after.heapMb.toFixed(1)} MB`);
    console.log(`dd_alerts.${label}.after.duration: ${after.ms.toFixed(1)} ms`);
    console.log(`dd_monitor.${label}.longest_event_loop_stall: ${history.stallMs.toFixed(1)} ms`);
    console.log(`dd_monitor.${label}.heap_growth: ${history.heapMb.toFixed(1)} MB`);
  } finally {
    state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `/dd alerts` before the store counted: the newest 10,000 items read whole, each payload parsed. */
async function reportByReading(outbox: OutboxStore, since: number): Promise<number> {
  let total = 0;
  for (const item of await outbox.recent(topicFor(CHANNEL), since, 10_000)) {
    if ((JSON.parse(item.payload) as QueuedAlert).alert) total++;
  }
  return total;
}

/** Runs `work`, sampling the event loop (a 1 ms timer) and the heap meanwhile and right after. */
async function measure<T>(work: () => Promise<T>) {
  await new Promise((resolve) => setTimeout(resolve, 50));
  const heapBefore = process.memoryUsage().heapUsed;
  let heapPeak = heapBefore;
  let last = performance.now();
  let stallMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }, 1);
  const started = performance.now();
  const value = await work();
  const ms = performance.now() - started;
  stallMs = Math.max(stallMs, performance.now() - last);
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  clearInterval(ticker);
  return { value, ms, stallMs, heapMb: (heapPeak - heapBefore) / 1024 / 1024 };
}

function sampleAlert(i: number, at: number): AlertEvent {
  return {
    id: String(7_000_000_000 + i),
    monitorId: String(1 + (i % 40)),
    cycleKey: String(i),
    transition: i % 3 === 0 ? 'Recovered' : 'Triggered',
    title: `[Triggered on {host:web-${i % 40}}] High CPU on web-${i % 40}`,
    message: 'x'.repeat(PAYLOAD_BYTES - 600),
    scope: `host:web-${i % 40},env:prod`,
    tags: ['env:prod', 'team:payments'],
    at: at + i,
    receivedAt: at + i,
    hostname: `web-${i % 40}`,
  };
}
