import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alertCycle,
  type DatadogWebhookBody,
  DatadogWebhookSender,
  datadogWebhookBody,
} from '../../src/sandbox/datadog-webhook-sender.js';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import type { SimMessage } from '../../src/sandbox/slack-workspace.js';
import { canary } from '../helpers/canary.js';
import {
  buildProduction,
  cleanEnv,
  exitOf,
  freePort,
  startMain,
  waitFor,
  waitForStatus,
} from '../helpers/process.js';

/**
 * The built server (what `npm start` runs) killed with SIGKILL while it delivers alerts, then
 * started again on the same SQLite file: nothing lost, nothing shown twice, threads kept.
 */
const CONFIG = `access:
  admins: [U0ADMIN]
alerts:
  defaultChannel: C0ALERTS
  routes:
    - match: { tags: ["team:payments"] }
      channel: C0PAYMENTS
`;
const CHANNELS = ['C0ALERTS', 'C0PAYMENTS'];

let out: string;
let dir: string;
let slack: SimulatedSlack;
let port: number;
let sender: DatadogWebhookSender;
let running: ChildProcess | undefined;
const secrets = {
  slack: { botToken: canary('xoxb'), signingSecret: canary('sign') },
  datadog: { apiKey: canary('dd'), appKey: canary('dd'), webhookSecret: canary('hook') },
};

async function startBot(): Promise<void> {
  const { child } = startMain(
    cleanEnv({
      OPSBOT_SECRET_SOURCE: 'env',
      OPSBOT_SECRET_SLACK: JSON.stringify(secrets.slack),
      OPSBOT_SECRET_DATADOG: JSON.stringify(secrets.datadog),
      OPSBOT_CONFIG: join(dir, 'opsbot.yaml'),
      OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
      OPSBOT_SLACK_API_URL: slack.apiUrl,
      OPSBOT_DATADOG_API_URL: 'http://127.0.0.1:9',
      LOG_LEVEL: 'warn',
      PORT: String(port),
    }),
    { entry: join(out, 'src/main.js'), cwd: dir },
  );
  running = child;
  await waitFor(`http://127.0.0.1:${port}/healthz`, 20_000);
  const ready = await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 20_000);
  expect(ready.status).toBe(200);
}

async function killBot(): Promise<void> {
  const child = running;
  if (!child || child.exitCode !== null) return;
  const exited = exitOf(child);
  child.kill('SIGKILL');
  await exited;
  running = undefined;
}

/** Every alert message in the channels: its metadata key, the alert ids it shows, where. */
function shown(): Array<{ key: string; ids: string[]; message: SimMessage; channel: string }> {
  return CHANNELS.flatMap((channel) =>
    slack.messages(channel).flatMap((message) => {
      const payload = message.metadata?.event_payload as { key?: string; alert_ids?: string } | undefined;
      if (!payload?.key) return [];
      return [
        {
          key: payload.key,
          ids: String(payload.alert_ids ?? '')
            .split(',')
            .filter(Boolean),
          message,
          channel,
        },
      ];
    }),
  );
}

async function until<T>(check: () => T | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends as Datadog does: a 5xx or a time-out (a dead bot) is retried until it is answered. */
async function deliverAll(bodies: readonly DatadogWebhookBody[]): Promise<number[]> {
  return Promise.all(
    bodies.map(async (body) => {
      for (let attempt = 0; ; attempt++) {
        const result = await sender.send(body).catch(() => ({ status: 0 }));
        if (result.status !== 0 && result.status < 500) return result.status;
        if (attempt > 200) return result.status;
        await new Promise((r) => setTimeout(r, 100));
      }
    }),
  );
}

beforeAll(async () => {
  out = buildProduction();
  dir = mkdtempSync(join(tmpdir(), 'opsbot-alert-crash-'));
  writeFileSync(join(dir, 'opsbot.yaml'), CONFIG);
  slack = new SimulatedSlack();
  await slack.start();
  slack.addBotToken(secrets.slack.botToken);
  for (const id of CHANNELS) slack.addChannel({ id, name: id.toLowerCase() });
  // Slack's own pace: about one message per second per channel, short bursts allowed.
  slack.limitPostsPerChannel({ perSecond: 1, burst: 3 });
  port = await freePort();
  sender = new DatadogWebhookSender({
    url: `http://127.0.0.1:${port}/webhooks/datadog`,
    secret: secrets.datadog.webhookSecret,
    timeoutMs: 2_000,
  });
}, 60_000);

afterAll(async () => {
  await killBot();
  await slack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('alert delivery across kill -9 (built server)', () => {
  it('keeps threading across a restart: a later transition replies under the root posted before', async () => {
    await startBot();
    const [triggered, recovered] = alertCycle({ monitorId: 31337, scope: 'host:db-1', after: ['Recovered'] });
    if (!triggered || !recovered) throw new Error('alertCycle gave fewer notifications');
    expect(await deliverAll([triggered])).toEqual([202]);
    const root = await until(
      () => shown().find((m) => m.ids.includes(triggered.id))?.message,
      'the root of the first alert',
    );
    await killBot();
    await startBot();
    expect(await deliverAll([recovered])).toEqual([202]);
    const reply = await until(
      () => shown().find((m) => m.ids.includes(recovered.id))?.message,
      'the Recovered reply',
    );
    expect(reply.threadTs).toBe(root.ts);
    expect(shown().filter((m) => m.key.startsWith('alert:'))).toHaveLength(1);
    await until(() => root.text?.includes('Recovered'), 'the root to show Recovered');
  }, 60_000);

  it('loses and doubles nothing when killed mid-storm and restarted, with Datadog retrying', async () => {
    const bodies = Array.from({ length: 240 }, (_, i) =>
      datadogWebhookBody({
        monitorId: 40_000 + i,
        scope: `host:web-${i}`,
        tags: i % 2 ? ['team:payments', 'env:prod'] : ['env:prod'],
        snapshot: false,
      }),
    );
    const ids = new Set(bodies.map((b) => b.id));
    const statuses = await deliverAll(bodies);
    expect(statuses.every((s) => s === 202)).toBe(true);
    // Killed while it is still posting: some alerts are in Slack, the rest wait in the outbox.
    await until(() => shown().length >= 4, 'the first alerts in Slack');
    await killBot();
    const before = new Set(shown().flatMap((m) => m.ids));
    expect(before.size).toBeLessThan(ids.size);
    await startBot();
    // Datadog retries what it thinks may not have arrived: duplicates, never new alerts.
    expect((await deliverAll(bodies.slice(0, 40))).every((s) => s === 202)).toBe(true);
    await until(
      () => [...ids].every((id) => shown().some((m) => m.ids.includes(id))),
      'every alert to be visible',
      60_000,
    );
    // Exact accounting: each alert in exactly one message; each message key once.
    const messages = shown();
    for (const id of ids)
      expect(
        messages.filter((m) => m.ids.includes(id)),
        id,
      ).toHaveLength(1);
    const keys = messages.map((m) => `${m.key}`);
    expect(new Set(keys).size).toBe(keys.length);
    const unknown = messages.flatMap((m) => m.ids).filter((id) => !ids.has(id));
    expect(unknown.every((id) => !bodies.some((b) => b.id === id))).toBe(true);
  }, 120_000);
});
