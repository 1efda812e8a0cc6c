import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alertCycle,
  type DatadogWebhookBody,
  DatadogWebhookSender,
  type WebhookResult,
} from '../../src/sandbox/datadog-webhook-sender.js';
import type { SimulatedSlack } from '../../src/sandbox/slack.js';
import {
  idsOf,
  inParallel,
  keyOf,
  pendingByChannel,
  shownCounts,
  stopHard,
  whereShown,
} from '../helpers/alert-accounting.js';
import { eventually } from '../helpers/eventually.js';
import {
  buildProduction,
  cleanEnv,
  freePort,
  startMain,
  waitFor,
  waitForStatus,
} from '../helpers/process.js';
import {
  ALERT_CHANNELS,
  ALERTS_CONFIG,
  newReplicaWorkspace,
  type ReplicaWorkspace,
} from '../helpers/replicas.js';

/**
 * Alert delivery survives kill -9: the BUILT server (what `npm start` runs) on SQLite, killed while
 * it posts and started again on the same database, keeps threading and shows every alert exactly
 * once — no alert lost, none posted twice, no cycle with two roots — while Datadog retries.
 */
const CONFIG = ALERTS_CONFIG;
const CHANNELS = ALERT_CHANNELS;

let out = '';
const dirs: string[] = [];
const children: ChildProcess[] = [];
const workspaces: SimulatedSlack[] = [];

beforeAll(() => {
  out = buildProduction();
}, 120_000);

afterAll(async () => {
  for (const child of children) await stopHard(child);
  for (const slack of workspaces) await slack.stop().catch(() => {});
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  if (out) rmSync(out, { recursive: true, force: true });
});

/** A fresh simulated Slack with both alert channels, posting limited as Slack does (≈1/s per channel). */
async function newWorkspace(): Promise<ReplicaWorkspace> {
  const ws = await newReplicaWorkspace(CHANNELS);
  workspaces.push(ws.slack);
  return ws;
}

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-alerts-crash-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'opsbot.yaml'), CONFIG);
  return dir;
}

interface Running {
  child: ChildProcess;
  output: () => { stdout: string; stderr: string };
  port: number;
  webhooks: DatadogWebhookSender;
}

/** Starts the built server on the database in `dir` and waits until it is ready. */
async function startBuilt(
  dir: string,
  ws: { slack: SimulatedSlack; secrets: Record<string, unknown> },
): Promise<Running> {
  const port = await freePort();
  const secrets = ws.secrets as { slack: object; datadog: { webhookSecret: string } };
  const started = startMain(
    cleanEnv({
      OPSBOT_SECRET_SOURCE: 'env',
      OPSBOT_SECRET_SLACK: JSON.stringify(secrets.slack),
      OPSBOT_SECRET_DATADOG: JSON.stringify(secrets.datadog),
      OPSBOT_SLACK_API_URL: ws.slack.apiUrl,
      // Nothing listens here: alert delivery must not need the Datadog API.
      OPSBOT_DATADOG_API_URL: 'http://127.0.0.1:9/',
      OPSBOT_CONFIG: join(dir, 'opsbot.yaml'),
      OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
      PORT: String(port),
    }),
    { entry: join(out, 'src/main.js'), cwd: dir },
  );
  children.push(started.child);
  await waitFor(`http://127.0.0.1:${port}/healthz`, 20_000);
  const ready = await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 20_000);
  expect(ready.status, `not ready; stderr: ${started.output().stderr}`).toBe(200);
  return {
    ...started,
    port,
    webhooks: new DatadogWebhookSender({
      url: `http://127.0.0.1:${port}/webhooks/datadog`,
      secret: secrets.datadog.webhookSecret,
    }),
  };
}

describe('alert delivery across kill -9 of the built server', () => {
  it('keeps threading: the recovery after a restart replies in the root posted before it', async () => {
    const ws = await newWorkspace();
    const dir = newDir();
    let bot = await startBuilt(dir, ws);
    const [triggered, recovered] = alertCycle({
      monitorId: 4242,
      priority: 1,
      name: 'Disk full on db',
      after: ['Recovered'],
    }) as [DatadogWebhookBody, DatadogWebhookBody];
    const first = await bot.webhooks.send(triggered);
    expect([first.status, JSON.parse(first.body)]).toEqual([202, { status: 'accepted' }]);
    const root = await eventually(
      () => ws.slack.messages('C0ALERTS').find((m) => !m.threadTs && idsOf(m).includes(triggered.id)),
      'the root',
      15_000,
    );

    await stopHard(bot.child);
    bot = await startBuilt(dir, ws);
    const second = await bot.webhooks.send(recovered);
    expect([second.status, JSON.parse(second.body)]).toEqual([202, { status: 'accepted' }]);
    // The dead process's channel lease expires (≤ 10 s), then the reply goes into the old thread.
    const reply = await eventually(
      () => ws.slack.messages('C0ALERTS').find((m) => idsOf(m).includes(recovered.id)),
      'the reply',
      30_000,
    );
    expect(reply.threadTs).toBe(root.ts);
    await eventually(() => root.text?.includes('Recovered'), 'the root to show Recovered', 10_000);
    const roots = ws.slack.messages('C0ALERTS').filter((m) => !m.threadTs);
    expect(roots.map((m) => m.ts)).toEqual([root.ts]);
    expect(ws.slack.messages('C0PAYMENTS')).toEqual([]);
    await stopHard(bot.child);
  }, 60_000);

  it('shows every alert of a storm exactly once when killed mid-delivery and Datadog retries', async () => {
    const ws = await newWorkspace();
    const dir = newDir();
    let bot = await startBuilt(dir, ws);
    const COUNT = 300;
    const sender = bot.webhooks;

    // Kill -9 once about 30% of the alerts are in Slack, while the dispatcher is still posting.
    // Watching closely, the kill lands just after a post: often before the dispatcher has stored
    // the message's ts or marked the alerts it shows as done in the outbox.
    let killedAt = -1;
    const killer = (async () => {
      await eventually(
        () => shownCounts(ws.slack, CHANNELS).size >= COUNT * 0.3,
        '30% of the storm in Slack',
        30_000,
        1,
      );
      killedAt = shownCounts(ws.slack, CHANNELS).size;
      await stopHard(bot.child);
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    const storm = await sender.storm({
      count: COUNT,
      concurrency: 16,
      durationMs: 1_500,
      tagsFor: (i) => (i % 3 === 0 ? ['team:payments', 'env:prod'] : ['env:prod', 'service:web']),
    });
    const killFailed = await killer;
    if (killFailed) throw killFailed;
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(COUNT); // killed while alerts were still waiting to be shown
    const { bodies } = storm;
    const acceptedBefore = new Set(
      bodies.filter((_, i) => (storm.results[i] as WebhookResult).status === 202).map((b) => b.id),
    );

    bot = await startBuilt(dir, ws);
    // Datadog retries what was not answered 202, then (at least once) delivers everything again.
    const retried = await inParallel(
      bodies.filter((b) => !acceptedBefore.has(b.id)),
      16,
      (b) => bot.webhooks.deliver(b, { retries: 3, backoffMs: 200 }),
    );
    for (const attempts of retried) expect(attempts.at(-1)?.status).toBe(202);
    const again = await inParallel(bodies, 16, async (b) => ({
      id: b.id,
      result: (await bot.webhooks.deliver(b, { retries: 3, backoffMs: 200 })).at(-1) as WebhookResult,
    }));
    expect(again.filter((a) => a.result.status !== 202)).toEqual([]);
    // Everything was stored before: every redelivery is a duplicate, never new work.
    expect(again.filter((a) => JSON.parse(a.result.body).status !== 'duplicate').map((a) => a.id)).toEqual(
      [],
    );

    // Every alert shows up (after the dead process's lease expires), and the outbox drains.
    const ids = bodies.map((b) => b.id);
    await eventually(
      () => ids.every((id) => shownCounts(ws.slack, CHANNELS).has(id)),
      'every alert in Slack',
      45_000,
    ).catch((error: Error) => {
      const shown = shownCounts(ws.slack, CHANNELS);
      throw new Error(`${error.message}; missing ${ids.filter((id) => !shown.has(id)).length} of ${COUNT}`);
    });
    const drainedBy = Date.now() + 15_000;
    for (;;) {
      const pending = await pendingByChannel(bot.port);
      if (CHANNELS.every((c) => pending[c] === 0)) break;
      if (Date.now() > drainedBy) throw new Error(`the outbox did not drain: ${JSON.stringify(pending)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // A little longer: nothing more may be posted once all is shown (a late duplicate would be here).
    await new Promise((r) => setTimeout(r, 1_500));

    // Exact accounting, across both channels.
    const shown = shownCounts(ws.slack, CHANNELS);
    expect(ids.filter((id) => !shown.has(id))).toEqual([]);
    const twice = [...shown].filter(([, n]) => n > 1).map(([id]) => id);
    expect(
      twice.map((id) => `${id} in ${whereShown(ws.slack, CHANNELS, id).join(' and ')}`),
      `${twice.length} alerts shown more than once`,
    ).toEqual([]);
    expect([...shown.keys()].filter((id) => !ids.includes(id))).toEqual([]);
    // Routed as configured: every third alert to payments, the rest to the default channel.
    const payments = new Set(ws.slack.messages('C0PAYMENTS').flatMap(idsOf));
    expect(bodies.filter((b, i) => payments.has(b.id) !== (i % 3 === 0)).map((b) => b.id)).toEqual([]);
    // No two messages (roots above all) carry the same metadata key.
    const messages = CHANNELS.flatMap((c) => ws.slack.messages(c));
    expect(messages.filter((m) => keyOf(m) === undefined)).toEqual([]);
    const keys = new Map<string, number>();
    for (const m of messages) keys.set(keyOf(m) as string, (keys.get(keyOf(m) as string) ?? 0) + 1);
    expect([...keys].filter(([, n]) => n > 1)).toEqual([]);
    const rootKeys = messages.filter((m) => !m.threadTs && keyOf(m)?.startsWith('alert:')).map(keyOf);
    expect(new Set(rootKeys).size).toBe(rootKeys.length);
    await stopHard(bot.child);
  }, 80_000);
});
