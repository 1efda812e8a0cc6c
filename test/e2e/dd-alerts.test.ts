import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertCycle, datadogWebhookBody } from '../../src/sandbox/datadog-webhook-sender.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import type { SimMessage } from '../../src/sandbox/slack-workspace.js';
import { assertNoCanary } from '../helpers/canary.js';
import { eventually } from '../helpers/eventually.js';

/** Datadog alerts end to end: webhook → outbox → dispatcher → the simulated Slack, over real sockets. */
const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["dd:*"]
      channels: [C0ALERTS, C0PAYMENTS, C0DEV]
      users: [U0DEV]
alerts:
  defaultChannel: C0ALERTS
  routes:
    - match: { tags: ["team:payments"] }
      channel: C0PAYMENTS
`;

let bot: SandboxBot;
beforeAll(async () => {
  bot = await startSandboxBot({
    configYaml: POLICY,
    pollSeconds: 60,
    alerts: { postIntervalMs: 20, updateIntervalMs: 5, pollMs: 50 },
  });
});
afterAll(async () => {
  await bot?.stop();
});

const idsOf = (m: SimMessage) =>
  String(m.metadata?.event_payload.alert_ids ?? '')
    .split(',')
    .filter(Boolean);

const rootFor = (channel: string, alertId: string) =>
  bot.slack.messages(channel).find((m) => !m.threadTs && idsOf(m).includes(alertId));

describe('Datadog alert webhook', () => {
  it('posts one root per alert cycle, replies and updates it on later transitions', async () => {
    const [triggered, recovered] = alertCycle({
      monitorId: 4242,
      priority: 1,
      name: 'Disk full on db',
      after: ['Recovered'],
    });
    if (!triggered || !recovered) throw new Error('alertCycle gave fewer notifications');
    const first = await bot.webhooks.send(triggered);
    expect(first.status).toBe(202);
    expect(JSON.parse(first.body)).toEqual({ status: 'accepted' });
    const root = await eventually(() => rootFor('C0ALERTS', triggered.id), 'the root');
    expect(root.text).toContain('Triggered');
    expect(JSON.stringify(root.blocks)).toContain('dd:ack');
    // Datadog retries: the same notification is stored once and posted once.
    const again = await bot.webhooks.send(triggered);
    expect(JSON.parse(again.body)).toEqual({ status: 'duplicate' });
    expect((await bot.webhooks.send(recovered)).status).toBe(202);
    const reply = await eventually(
      () =>
        bot.slack.messages('C0ALERTS').find((m) => m.threadTs === root.ts && idsOf(m).includes(recovered.id)),
      'the reply in the thread',
    );
    expect(reply.text).toContain('Recovered');
    await eventually(() => root.text?.includes('Recovered'), 'the root to show Recovered');
    const roots = bot.slack.messages('C0ALERTS').filter((m) => idsOf(m).includes(triggered.id));
    expect(roots).toHaveLength(1);
  });

  it('routes by tag to the team channel', async () => {
    const body = datadogWebhookBody({ monitorId: 5151, tags: ['team:payments', 'env:prod'] });
    expect((await bot.webhooks.send(body)).status).toBe(202);
    await eventually(() => rootFor('C0PAYMENTS', body.id), 'the root in the payments channel');
    expect(rootFor('C0ALERTS', body.id)).toBeUndefined();
  });

  it('refuses what is not a valid alert, naming the field, and what is not from Datadog', async () => {
    const good = datadogWebhookBody({ monitorId: 6001 });
    expect((await bot.webhooks.send(good, { secret: null })).status).toBe(401);
    expect((await bot.webhooks.send(good, { secret: 'wrong' })).status).toBe(401);
    const truncated = await bot.webhooks.send(JSON.stringify(good).slice(0, 40));
    expect(truncated.status).toBe(400);
    expect(JSON.parse(truncated.body).error).toBe('invalid_json');
    const wrong = await bot.webhooks.send({ ...good, transition: 'Exploded' });
    expect(wrong.status).toBe(400);
    expect(JSON.parse(wrong.body)).toMatchObject({ error: 'invalid_payload', field: 'transition' });
    const typed = await bot.webhooks.send(JSON.stringify({ ...good, title: 42 }));
    expect(JSON.parse(typed.body)).toMatchObject({ field: 'title' });
    const huge = await bot.webhooks.send(Buffer.alloc(10 * 1024 * 1024, 32));
    expect(huge.status).toBe(413);
    assertNoCanary({ logs: bot.logLines.join('\n') }, bot.secrets());
  });
});

describe('a crash between posting and remembering the post', () => {
  it('finds the message it posted by its metadata and never posts it again', async () => {
    let failNextRootStore = true;
    const crashy = await startSandboxBot({
      configYaml: POLICY,
      pollSeconds: 60,
      alerts: { postIntervalMs: 20, updateIntervalMs: 5, pollMs: 50 },
      // The write that would remember a root's ts fails once, right after Slack took the post:
      // what a process killed at that moment leaves behind (a pending ref, a posted message).
      wrapState: (state) => ({
        ...state,
        messages: {
          ...state.messages,
          compareAndSet: async (key, version, ref) => {
            if (failNextRootStore && key.startsWith('alert:') && ref.ts !== 'pending') {
              failNextRootStore = false;
              throw new Error('killed before the ts was stored');
            }
            return state.messages.compareAndSet(key, version, ref);
          },
        },
      }),
    });
    try {
      const body = datadogWebhookBody({ monitorId: 8080 });
      expect((await crashy.webhooks.send(body)).status).toBe(202);
      await eventually(
        async () => (await crashy.state.outbox.pending('alerts:C0ALERTS')) === 0 || undefined,
        'the alert to be done',
        10_000,
      );
      expect(failNextRootStore).toBe(false);
      const roots = crashy.slack.messages('C0ALERTS').filter((m) => idsOf(m).includes(body.id));
      expect(roots).toHaveLength(1);
      expect(crashy.slack.callCounts.get('conversations.history')).toBeGreaterThanOrEqual(1);
      const ref = await crashy.state.messages.get(String(roots[0]?.metadata?.event_payload.key));
      expect(ref?.ts).toBe(roots[0]?.ts);
    } finally {
      await crashy.stop();
    }
  });
});
