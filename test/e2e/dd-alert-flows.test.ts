import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertDedupeKey, parseAlert } from '../../src/alerts/payload.js';
import {
  type AlertSpec,
  alertCycle,
  type DatadogTransition,
  type DatadogWebhookBody,
  datadogWebhookBody,
  type WebhookResult,
} from '../../src/sandbox/datadog-webhook-sender.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import type { SimMessage } from '../../src/sandbox/slack-workspace.js';
import { assertNoCanary } from '../helpers/canary.js';
import { eventually } from '../helpers/eventually.js';

/**
 * Datadog alert flows end to end, over real sockets: the root's buttons (ack, mute, unmute, mute
 * until recovered) against the simulated Datadog, digests under a burst with exact accounting, a
 * 429 in one channel not holding another, escaping of alert text, `/dd alerts` and `/dd monitor`,
 * Datadog's retries, and no secret anywhere.
 */
const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["dd:*"]
      channels: [C0ALERTS, C0PAYMENTS]
      users: [U0DEV]
alerts:
  defaultChannel: C0ALERTS
  routes:
    - match: { tags: ["team:payments"] }
      channel: C0PAYMENTS
`;
const TIMINGS = { postIntervalMs: 20, updateIntervalMs: 5, pollMs: 50, digestThreshold: 8 };
const start = () => startSandboxBot({ configYaml: POLICY, pollSeconds: 60, alerts: TIMINGS });

/** One alert cycle's bodies: Triggered, then `later` (alertCycle's `then` option, default none here). */
const cycle = (spec: AlertSpec, later: DatadogTransition[] = []): DatadogWebhookBody[] =>
  alertCycle({ ...spec, after: later });

const idsOf = (m: SimMessage) =>
  String(m.metadata?.event_payload.alert_ids ?? '')
    .split(',')
    .filter(Boolean);
const keyOf = (m: SimMessage) => String(m.metadata?.event_payload.key ?? '');
const blocksOf = (m: SimMessage) => JSON.stringify(m.blocks ?? []);
/** The action ids of the root's buttons and menus. */
const actionIdsOf = (m: SimMessage): string[] =>
  ((m.blocks ?? []) as Array<{ type?: string; elements?: Array<{ action_id?: string }> }>)
    .filter((b) => b.type === 'actions')
    .flatMap((b) => (b.elements ?? []).map((e) => String(e.action_id)));
const imagesOf = (m: SimMessage) =>
  ((m.blocks ?? []) as Array<{ type?: string; image_url?: string }>).filter((b) => b.type === 'image');

/** Every string in a value (message text, block fields), JSON strings parsed first. */
function stringsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
      try {
        stringsIn(JSON.parse(trimmed), out);
      } catch {
        // not JSON: the string itself
      }
    }
    out.push(value);
  } else if (Array.isArray(value)) for (const v of value) stringsIn(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) stringsIn(v, out);
  return out;
}

/** Nothing in `value` pings anyone or links where the alert said. */
function expectEscaped(where: string, value: unknown): void {
  for (const s of stringsIn(value)) {
    expect(s, `${where}: ${s}`).not.toContain('<!channel>');
    expect(s, `${where}: ${s}`).not.toContain('<!everyone>');
    expect(s, `${where}: ${s}`).not.toContain('<@U0ADMIN>');
    expect(s, `${where}: ${s}`).not.toContain('<https://evil');
    expect(s, `${where}: ${s}`).not.toMatch(/@(?!\u200b)(here|channel|everyone)\b/i);
  }
}

describe('alert buttons, escaping, reports and retries (one bot)', () => {
  let bot: SandboxBot;
  /** Every body the bot accepted (not a duplicate), for the exact counts of `/dd alerts`. */
  const accepted: DatadogWebhookBody[] = [];
  const record = (body: DatadogWebhookBody, result: WebhookResult) => {
    if (result.status === 202 && JSON.parse(result.body).status === 'accepted') accepted.push(body);
  };
  const send = async (body: DatadogWebhookBody) => {
    const result = await bot.webhooks.send(body);
    expect(result.status, result.body).toBe(202);
    record(body, result);
    return result;
  };
  const rootFor = (channel: string, alertId: string) =>
    eventually(
      () => bot.slack.messages(channel).find((m) => !m.threadTs && idsOf(m).includes(alertId)),
      `the root of ${alertId} in ${channel}`,
    );
  const press = async (
    userId: string,
    root: SimMessage,
    action: { actionId: string; value?: string; selectedOption?: { value: string } },
  ): Promise<string> => {
    const delivery = await bot.slack.sendBlockAction({
      userId,
      channelId: 'C0ALERTS',
      messageTs: root.ts,
      message: { text: root.text ?? '', blocks: root.blocks ?? [] },
      ...action,
    });
    expect(delivery.status).toBe(200);
    const [answer] = await bot.slack.waitForResponse(delivery.responseUrl, { timeoutMs: 10_000 });
    return answer?.text ?? '';
  };
  const dd = async (text: string, channelId = 'C0ALERTS') => {
    const delivery = await bot.slack.sendSlashCommand({ command: '/dd', text, userId: 'U0DEV', channelId });
    expect(delivery.status).toBe(200);
    const [answer] = await bot.slack.waitForResponse(delivery.responseUrl, { timeoutMs: 10_000 });
    return answer?.text ?? '';
  };

  beforeAll(async () => {
    bot = await start();
  });
  afterAll(async () => {
    await bot?.stop();
  });

  it('Acknowledge: the root names who, loses the button, the clicker is answered, and it is audited', async () => {
    const [triggered] = cycle({ monitorId: 1001, scope: 'host:web-1,env:prod' });
    await send(triggered as DatadogWebhookBody);
    const root = await rootFor('C0ALERTS', (triggered as DatadogWebhookBody).id);
    const key = keyOf(root);
    expect(key).toMatch(/^alert:[0-9a-f]{40}$/);
    expect(actionIdsOf(root)).toEqual(['dd:ack', 'dd:mute', 'link:dd-monitor', 'jira:create']);
    expect(root.edited).toBeFalsy();

    const answer = await press('U0DEV', root, { actionId: 'dd:ack', value: key });
    expect(answer).toContain(':eyes: You acknowledged');
    await eventually(
      () => root.edited && blocksOf(root).includes('Acknowledged by <@U0DEV>'),
      'the root to show the acknowledgement',
    );
    expect(actionIdsOf(root)).not.toContain('dd:ack');
    expect(actionIdsOf(root)).toContain('dd:mute');
    // A stale copy of the button (another client) is answered, and changes nothing.
    expect(await press('U0DEV', root, { actionId: 'dd:ack', value: key })).toContain(
      '<@U0DEV> already acknowledged this alert',
    );
    const audited = await eventually(
      async () =>
        (await bot.state.audit.query({ command: 'dd:ack', limit: 5 })).find(
          (r) => r.actor === 'U0DEV' && r.outcome === 'success',
        ),
      'the dd:ack audit record',
    );
    expect(audited.action).toBe('dd:ack');
  });

  it('denies every button to someone the policy does not allow, changing nothing', async () => {
    const [triggered] = cycle({ monitorId: 1001, scope: 'host:web-3,env:prod' });
    await send(triggered as DatadogWebhookBody);
    const root = await rootFor('C0ALERTS', (triggered as DatadogWebhookBody).id);
    const key = keyOf(root);
    const before = { text: root.text, blocks: blocksOf(root), edited: root.edited, editedTs: root.editedTs };
    const downtimes = bot.datadog.downtimes.length;

    const answers = [
      await press('U0GUEST', root, { actionId: 'dd:ack', value: key }),
      await press('U0GUEST', root, { actionId: 'dd:mute', selectedOption: { value: `${key}|1h` } }),
      await press('U0GUEST', root, { actionId: 'dd:mute', selectedOption: { value: `${key}|recovered` } }),
      await press('U0GUEST', root, { actionId: 'dd:unmute', value: key }),
    ];
    expect(answers[0]).toMatch(/^:no_entry: `dd:ack` is allowed/);
    expect(answers[1]).toMatch(/^:no_entry: `dd:mute` is allowed/);
    expect(answers[2]).toMatch(/^:no_entry: `dd:mute` is allowed/);
    expect(answers[3]).toMatch(/^:no_entry: `dd:unmute` is allowed/);
    await sleep(300);
    expect({ text: root.text, blocks: blocksOf(root), edited: root.edited, editedTs: root.editedTs }).toEqual(
      before,
    );
    expect(bot.datadog.downtimes).toHaveLength(downtimes);
    const denied = await eventually(async () => {
      const records = (await bot.state.audit.query({ command: 'dd', limit: 50 })).filter(
        (r) => r.actor === 'U0GUEST' && r.outcome === 'denied',
      );
      return records.length >= 4 && records;
    }, 'four denied audit records');
    expect(new Set(denied.map((r) => r.action))).toEqual(new Set(['dd:ack', 'dd:mute', 'dd:unmute']));
  });

  it('Mute 1 hour: a downtime scoped to the alert, shown on the root; Unmute cancels it', async () => {
    const [triggered] = cycle({ monitorId: 1001, scope: 'host:web-1,env:prod' });
    await send(triggered as DatadogWebhookBody);
    const root = await rootFor('C0ALERTS', (triggered as DatadogWebhookBody).id);
    const key = keyOf(root);
    const downtimes = bot.datadog.downtimes.length;

    const before = Date.now();
    const answer = await press('U0DEV', root, {
      actionId: 'dd:mute',
      selectedOption: { value: `${key}|1h` },
    });
    const after = Date.now();
    expect(answer).toMatch(
      // The day is named when the mute ends on another day (an hour's mute after 23:00 UTC).
      /^:mute: Muted Datadog monitor 1001 for `host:web-1,env:prod` until (?:[A-Z][a-z]{2} \d{1,2} )?\d\d:\d\d UTC\.$/,
    );
    expect(bot.datadog.downtimes).toHaveLength(downtimes + 1);
    const downtime = bot.datadog.downtimes.at(-1)?.attributes;
    expect(downtime?.monitor_identifier).toEqual({ monitor_id: 1001 });
    expect(downtime?.scope).toBe('host:web-1 AND env:prod');
    expect(downtime?.status).toBe('active');
    const end = Date.parse(String(downtime?.schedule.end));
    expect(end).toBeGreaterThanOrEqual(before + 3_600_000 - 2_000);
    expect(end).toBeLessThanOrEqual(after + 3_600_000 + 2_000);
    await eventually(
      () => blocksOf(root).includes('Muted by <@U0DEV> until') && actionIdsOf(root).includes('dd:unmute'),
      'the root to show the mute and an Unmute button',
    );
    expect(actionIdsOf(root)).not.toContain('dd:mute');

    expect(await press('U0DEV', root, { actionId: 'dd:unmute', value: key })).toBe(':loud_sound: Unmuted.');
    expect(bot.datadog.downtimes.at(-1)?.attributes.status).toBe('canceled');
    await eventually(
      () => actionIdsOf(root).includes('dd:mute') && !blocksOf(root).includes('Muted by'),
      'the root to show the mute menu again',
    );
    expect(actionIdsOf(root)).not.toContain('dd:unmute');
    expect(bot.datadog.downtimes).toHaveLength(downtimes + 1);
  });

  it('Mute until recovered: a downtime with no end, canceled by opsbot when the alert recovers', async () => {
    const [triggered, recovered] = cycle({ monitorId: 1001, scope: 'host:web-2,env:prod' }, [
      'Recovered',
    ]) as [DatadogWebhookBody, DatadogWebhookBody];
    await send(triggered);
    const root = await rootFor('C0ALERTS', triggered.id);
    const key = keyOf(root);
    const answer = await press('U0DEV', root, {
      actionId: 'dd:mute',
      selectedOption: { value: `${key}|recovered` },
    });
    expect(answer).toBe(':mute: Muted Datadog monitor 1001 for `host:web-2,env:prod` until it recovers.');
    const downtime = bot.datadog.downtimes.at(-1);
    expect(downtime?.attributes).toMatchObject({
      monitor_identifier: { monitor_id: 1001 },
      scope: 'host:web-2 AND env:prod',
      status: 'active',
      schedule: { end: null },
    });
    await eventually(
      () => blocksOf(root).includes('Muted by <@U0DEV> until it recovers'),
      'the root to show the mute until recovery',
    );

    await send(recovered);
    await eventually(() => downtime?.attributes.status === 'canceled', 'the downtime to be canceled');
    await eventually(
      () => root.text?.includes('Recovered') && !blocksOf(root).includes('Muted by'),
      'the root to show Recovered, no longer muted',
    );
    expect(actionIdsOf(root)).toEqual(['link:dd-monitor', 'jira:create']);
    const reply = bot.slack
      .messages('C0ALERTS')
      .find((m) => m.threadTs === root.ts && idsOf(m).includes(recovered.id));
    expect(reply?.text).toContain('Recovered');
    const unmuted = await eventually(
      async () =>
        (await bot.state.audit.query({ command: 'dd:unmute', limit: 10 })).find(
          (r) => r.actor === 'opsbot' && r.details.downtime === downtime?.id,
        ),
      'the audit record of the automatic unmute',
    );
    expect(unmuted).toMatchObject({ outcome: 'success', details: { reason: 'recovered', monitor: '1001' } });
  });

  it('two people muting the same alert at once leave no downtime behind once it is unmuted', async () => {
    const [triggered] = cycle({ monitorId: 1001, scope: 'host:web-8,env:prod' });
    await send(triggered as DatadogWebhookBody);
    const root = await rootFor('C0ALERTS', (triggered as DatadogWebhookBody).id);
    const key = keyOf(root);
    const answers = await Promise.all([
      press('U0DEV', root, { actionId: 'dd:mute', selectedOption: { value: `${key}|1h` } }),
      press('U0ADMIN', root, { actionId: 'dd:mute', selectedOption: { value: `${key}|4h` } }),
    ]);
    expect(answers.filter((a) => a.startsWith(':mute: Muted Datadog monitor 1001'))).not.toHaveLength(0);
    const created = bot.datadog.downtimes.filter((d) => d.attributes.scope === 'host:web-8 AND env:prod');
    await eventually(() => actionIdsOf(root).includes('dd:unmute'), 'the Unmute button');
    expect(await press('U0DEV', root, { actionId: 'dd:unmute', value: key })).toBe(':loud_sound: Unmuted.');
    const left = bot.datadog.downtimes.filter(
      (d) => d.attributes.scope === 'host:web-8 AND env:prod' && d.attributes.status !== 'canceled',
    );
    expect(
      left.map((d) => d.attributes.schedule.end),
      `downtimes still muting the alert after Unmute (${created.length} created; answers: ${answers.join(' / ')})`,
    ).toEqual([]);
  });

  it('a stale "Mute until recovered" choice on an alert that has recovered leaves no endless downtime', async () => {
    const [triggered, recovered] = cycle({ monitorId: 1001, scope: 'host:web-6,env:prod' }, [
      'Recovered',
    ]) as [DatadogWebhookBody, DatadogWebhookBody];
    await send(triggered);
    const root = await rootFor('C0ALERTS', triggered.id);
    const stale = { text: root.text ?? '', blocks: root.blocks ?? [] };
    await send(recovered);
    await eventually(() => root.text?.includes('Recovered'), 'the root to show Recovered');
    expect(actionIdsOf(root)).not.toContain('dd:mute');
    // The menu of the message as it was before the recovery (a client that has not refreshed yet).
    const delivery = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'C0ALERTS',
      actionId: 'dd:mute',
      messageTs: root.ts,
      message: stale,
      selectedOption: { value: `${keyOf(root)}|recovered` },
    });
    const [answer] = await bot.slack.waitForResponse(delivery.responseUrl, { timeoutMs: 10_000 });
    expect(answer?.text).toBeDefined();
    await sleep(200);
    const endless = bot.datadog.downtimes.filter(
      (d) =>
        d.attributes.scope === 'host:web-6 AND env:prod' &&
        d.attributes.status !== 'canceled' &&
        d.attributes.schedule.end === null,
    );
    expect(endless, `downtimes with no end on a recovered alert (answer: ${answer?.text})`).toEqual([]);
  });

  it('escapes alert text: nothing pings, nothing links where the alert says; only https graphs are shown', async () => {
    const EVIL = '<!channel> *boom* <@U0ADMIN> @here <https://evil.example|click>';
    const [triggered, retriggered] = cycle(
      {
        monitorId: 1003,
        scope: 'host:web-4',
        message: EVIL,
        tags: ['env:prod', '<!everyone>'],
        snapshot: 'http://insecure.example/x.png',
      },
      ['Re-Triggered'],
    ).map((b) => ({ ...b, title: EVIL })) as [DatadogWebhookBody, DatadogWebhookBody];
    await send(triggered);
    const root = await rootFor('C0ALERTS', triggered.id);
    await send(retriggered);
    const reply = await eventually(
      () =>
        bot.slack
          .messages('C0ALERTS')
          .find((m) => m.threadTs === root.ts && idsOf(m).includes(retriggered.id)),
      'the reply',
    );
    await eventually(() => root.text?.includes('Re-Triggered'), 'the root to show Re-Triggered');
    // The text is there, harmless.
    expect(root.text).toContain('&lt;!channel&gt;');
    expect(blocksOf(reply)).toContain('@\u200bhere');
    expectEscaped('the root', { text: root.text, blocks: root.blocks });
    expectEscaped('the reply', { text: reply.text, blocks: reply.blocks });
    expect(imagesOf(root)).toEqual([]);
    // Every version of these messages Slack was sent (posts and updates, first versions included).
    const posts = bot.slack.calls.filter(
      (c) =>
        (c.method === 'chat.postMessage' &&
          [triggered.id, retriggered.id].some((id) => JSON.stringify(c.args).includes(id))) ||
        (c.method === 'chat.update' && c.args.ts === root.ts),
    );
    expect(posts.map((c) => c.method).sort()).toEqual(
      expect.arrayContaining(['chat.postMessage', 'chat.postMessage', 'chat.update']),
    );
    expectEscaped('the Slack calls', posts);
    // The clicker's answer names the title, escaped.
    expectEscaped('the ack answer', await press('U0DEV', root, { actionId: 'dd:ack', value: keyOf(root) }));

    const graphed = datadogWebhookBody({ monitorId: 1003, scope: 'host:web-5', name: 'Graph check' });
    expect(graphed.snapshot).toMatch(/^https:\/\//);
    await send(graphed);
    const withGraph = await rootFor('C0ALERTS', graphed.id);
    expect(imagesOf(withGraph).map((b) => b.image_url)).toEqual([graphed.snapshot]);
  });

  it('/dd monitor shows what opsbot saw of the monitor', async () => {
    const [triggered, warn] = cycle({ monitorId: 1001, scope: 'host:web-9' }, ['Warn']) as [
      DatadogWebhookBody,
      DatadogWebhookBody,
    ];
    await send(triggered);
    await send(warn);
    const text = await dd('monitor 1001');
    const seen = text.split('\n').find((l) => l.startsWith('*Seen by opsbot:*'));
    expect(seen).toBeDefined();
    expect(seen).toContain(':large_orange_circle: Warn');
    expect(seen).toContain('`host:web-9`');
    expect(seen).toContain(':red_circle: Triggered');
  });

  it('Datadog retrying a delivery gives one stored alert and one root', async () => {
    for (const [i, order] of (['retries first', 'concurrent first'] as const).entries()) {
      const body = datadogWebhookBody({ monitorId: 1004, scope: `host:retry-${i}` });
      const results: WebhookResult[] = [];
      const retries = async () => {
        results.push(...(await bot.webhooks.deliver(body, { backoffMs: 0 })));
        results.push(...(await bot.webhooks.deliver(body, { backoffMs: 0 })));
      };
      const concurrent = async () => {
        results.push(...(await Promise.all(Array.from({ length: 5 }, () => bot.webhooks.send(body)))));
      };
      if (order === 'retries first') {
        await retries();
        await concurrent();
      } else {
        await concurrent();
        await retries();
      }
      expect(results.map((r) => r.status)).toEqual(Array(7).fill(202));
      const statuses = results.map((r) => JSON.parse(r.body).status);
      expect(
        statuses.filter((s) => s === 'accepted'),
        order,
      ).toHaveLength(1);
      expect(
        statuses.filter((s) => s === 'duplicate'),
        order,
      ).toHaveLength(6);
      accepted.push(body);
      await rootFor('C0ALERTS', body.id);
    }
    await eventually(async () => (await bot.state.outbox.pending('alerts:C0ALERTS')) === 0, 'the outbox');
    await sleep(200);
    for (const body of accepted.slice(-2)) {
      expect(bot.slack.messages('C0ALERTS').filter((m) => idsOf(m).includes(body.id))).toHaveLength(1);
    }
  });

  it('/dd alerts counts what was received, by transition and by monitor', async () => {
    const payments = datadogWebhookBody({ monitorId: 1002, tags: ['team:payments'], scope: 'host:pay-1' });
    await send(payments);
    await rootFor('C0PAYMENTS', payments.id);
    const text = await dd('alerts --since 1h');
    expectEscaped('the /dd alerts answer', text);
    expect(text).toContain(`${accepted.length} Datadog alerts received in the last 1h`);
    const expected = new Map<string, number>();
    const byMonitor = new Map<string, number>();
    for (const b of accepted) {
      expected.set(b.transition, (expected.get(b.transition) ?? 0) + 1);
      byMonitor.set(b.monitorId, (byMonitor.get(b.monitorId) ?? 0) + 1);
    }
    const line = text.split('\n').find((l) => l.startsWith('*By transition:* '));
    const counted = Object.fromEntries(
      String(line)
        .slice('*By transition:* '.length)
        .split(', ')
        .map((part) => {
          const at = part.lastIndexOf(' ');
          return [part.slice(0, at), Number(part.slice(at + 1))];
        }),
    );
    expect(counted).toEqual(Object.fromEntries(expected));
    expect(byMonitor.size).toBeGreaterThanOrEqual(4);
    for (const [monitor, count] of byMonitor) expect(text).toContain(`(${monitor}): ${count} · `);
  });

  // Buttons acted on the root their value names: a forged value on one alert's message reached
  // another alert (another channel's) and muted its monitor.
  it("acts only on the alert a button is on: a value naming another alert's root is refused", async () => {
    const general = datadogWebhookBody({ monitorId: 1001, scope: 'host:forge-a' });
    const payments = datadogWebhookBody({ monitorId: 1002, scope: 'host:forge-b', tags: ['team:payments'] });
    await send(general);
    await send(payments);
    const here = await rootFor('C0ALERTS', general.id);
    const there = await rootFor('C0PAYMENTS', payments.id);
    const forged = keyOf(there);
    const downtimes = bot.datadog.downtimes.length;
    const before = blocksOf(there);
    const answers = [
      await press('U0DEV', here, { actionId: 'dd:ack', value: forged }),
      await press('U0DEV', here, { actionId: 'dd:mute', selectedOption: { value: `${forged}|4h` } }),
      await press('U0DEV', here, { actionId: 'dd:unmute', value: forged }),
    ];
    for (const answer of answers)
      expect(answer).toBe(
        'This button does not belong to this message, so opsbot did nothing. Use the buttons on the alert itself, or `/dd monitor <id>`.',
      );
    expect(bot.datadog.downtimes).toHaveLength(downtimes);
    await sleep(200);
    expect(blocksOf(there)).toBe(before);
    expect(blocksOf(here)).not.toContain('Acknowledged by');
    // The button on its own message still works.
    expect(await press('U0DEV', here, { actionId: 'dd:ack', value: keyOf(here) })).toContain(
      ':eyes: You acknowledged',
    );
  });

  // `$ALERT_SCOPE` `host:a,OR,env:prod` became the downtime scope `host:a AND OR AND env:prod`.
  it('refuses to mute an alert whose scope is not key:value tags, creating no downtime', async () => {
    const body = datadogWebhookBody({ monitorId: 1001, scope: 'host:a,OR,env:prod' });
    await send(body);
    const root = await rootFor('C0ALERTS', body.id);
    const downtimes = bot.datadog.downtimes.length;
    const answer = await press('U0DEV', root, {
      actionId: 'dd:mute',
      selectedOption: { value: `${keyOf(root)}|1h` },
    });
    expect(answer).toContain('is not a list of `key:value` tags');
    expect(bot.datadog.downtimes).toHaveLength(downtimes);
  });

  // A $DATE of 9000000000000000 was accepted, then threw at every render: the alert was never
  // posted, held back its cycle's later transitions, and /dd monitor failed for everyone.
  it('posts an alert dated far in the future, dated when received, and its later transitions', async () => {
    const [triggered, recovered] = cycle({ monitorId: 1003, scope: 'host:far-future' }, ['Recovered']) as [
      DatadogWebhookBody,
      DatadogWebhookBody,
    ];
    await send({ ...triggered, date: '9000000000000000' });
    const root = await rootFor('C0ALERTS', triggered.id);
    expect(root.text).toContain('Triggered');
    // Later than the trigger, which is dated when opsbot received it.
    await send({ ...recovered, date: String(Date.now() + 60_000) });
    await eventually(() => root.text?.includes('Recovered'), 'the root to show Recovered');
    expect(await dd('monitor 1003')).toContain('Disk space');
  });

  it('shows an alert it cannot render in a plain form, and delivers the rest of its cycle', async () => {
    // As an older version may have stored it: a date no clock can show, a title that is no string.
    const [triggered, recovered] = cycle({ monitorId: 1004, scope: 'host:unrenderable' }, ['Recovered']) as [
      DatadogWebhookBody,
      DatadogWebhookBody,
    ];
    const parsed = parseAlert(triggered, Date.now());
    if (!parsed.ok) throw new Error('the test alert was refused');
    const stored = { ...parsed.alert, at: 9_000_000_000_000_000, title: 12_345 };
    await bot.state.outbox.enqueue({
      id: alertDedupeKey(parsed.alert),
      topic: 'alerts:C0ALERTS',
      payload: JSON.stringify({ alert: stored, channel: 'C0ALERTS' }),
    });
    const root = await rootFor('C0ALERTS', triggered.id);
    expect(root.text).toBe(':warning: Triggered: 12345 (Datadog monitor 1004)');
    expect(actionIdsOf(root)).toContain('dd:mute');
    await send(recovered);
    await eventually(
      () =>
        bot.slack.messages('C0ALERTS').find((m) => m.threadTs === root.ts && idsOf(m).includes(recovered.id)),
      'the recovery in the thread',
    );
    await eventually(() => root.text?.includes('Recovered'), 'the root to show Recovered');
    expect(await dd('monitor 1004')).toContain('Queue depth');
  });

  it('names the component of a webhook log line once', async () => {
    const refused = await bot.webhooks.send(datadogWebhookBody({ monitorId: 1001 }), {
      secret: 'xoxb-test-canary-not-the-secret',
    });
    expect(refused.status).toBe(401);
    const line = await eventually(
      () => bot.logLines.find((l) => l.includes('refused a Datadog webhook')),
      'the log line of the refusal',
    );
    expect(line.match(/"component":/g)).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ component: 'datadog-webhook' });
    for (const l of bot.logLines) expect(l.match(/"component":/g)?.length ?? 0, l).toBeLessThanOrEqual(1);
  });

  it('leaks no secret into logs, Slack payloads or audit records', async () => {
    const channels = ['C0ALERTS', 'C0PAYMENTS'];
    expect(bot.slack.messages('C0ALERTS').length).toBeGreaterThan(5);
    assertNoCanary(
      {
        logs: bot.logLines.join('\n'),
        messages: channels.flatMap((c) => bot.slack.messages(c)),
        ephemerals: channels.flatMap((c) => bot.slack.ephemerals(c)),
        calls: bot.slack.calls,
        audit: await bot.state.audit.query({ limit: 200 }),
        downtimes: bot.datadog.downtimes,
      },
      bot.secrets(),
    );
  });
});

describe('a burst of alerts for one channel', () => {
  let bot: SandboxBot;
  beforeAll(async () => {
    bot = await start();
  });
  afterAll(async () => {
    await bot?.stop();
  });

  it('delivers every alert exactly once, roots and digests together; digests list at most 40', async () => {
    const { bodies, results } = await bot.webhooks.storm({ count: 120, concurrency: 32 });
    expect(results.map((r) => r.status)).toEqual(Array(120).fill(202));
    expect(results.every((r) => JSON.parse(r.body).status === 'accepted')).toBe(true);
    await eventually(
      async () => (await bot.state.outbox.pending('alerts:C0ALERTS')) === 0,
      'the outbox to be empty for C0ALERTS',
      15_000,
    );

    const messages = bot.slack.messages('C0ALERTS');
    const shown = new Map<string, number>();
    for (const m of messages) for (const id of idsOf(m)) shown.set(id, (shown.get(id) ?? 0) + 1);
    const twice = bodies.filter((b) => (shown.get(b.id) ?? 0) > 1).map((b) => b.id);
    const missing = bodies.filter((b) => !shown.has(b.id)).map((b) => b.id);
    expect(twice, 'alerts shown more than once').toEqual([]);
    expect(missing, 'alerts never shown').toEqual([]);
    expect([...shown.keys()].sort()).toEqual(bodies.map((b) => b.id).sort());

    const digests = messages.filter((m) => keyOf(m).startsWith('alert-digest:'));
    expect(digests.length).toBeGreaterThanOrEqual(1);
    for (const digest of digests) {
      const ids = idsOf(digest);
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.length).toBeLessThanOrEqual(40);
      expect(digest.text).toMatch(new RegExp(`^${ids.length} alerts? in the last \\d+ min`));
      expect(digest.threadTs).toBeUndefined();
    }
    // What is not in a digest got its own root (a burst's alerts all open cycles: no replies).
    const own = messages.filter((m) => !keyOf(m).startsWith('alert-digest:'));
    for (const m of own) {
      expect(keyOf(m)).toMatch(/^alert:[0-9a-f]{40}$/);
      expect(idsOf(m)).toHaveLength(1);
    }
    expect(digests.reduce((n, d) => n + idsOf(d).length, 0) + own.length).toBe(120);
    assertNoCanary(
      { logs: bot.logLines.join('\n'), messages, audit: await bot.state.audit.query({ limit: 200 }) },
      bot.secrets(),
    );
  });

  it('ends a "mute until recovered" downtime when the recovery arrives inside a burst (folded into a digest)', async () => {
    const [triggered, recovered] = cycle({ monitorId: 1001, scope: 'host:web-7,env:prod' }, [
      'Recovered',
    ]) as [DatadogWebhookBody, DatadogWebhookBody];
    expect((await bot.webhooks.send(triggered)).status).toBe(202);
    const root = await eventually(
      () => bot.slack.messages('C0ALERTS').find((m) => !m.threadTs && idsOf(m).includes(triggered.id)),
      'the root',
    );
    const delivery = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'C0ALERTS',
      actionId: 'dd:mute',
      messageTs: root.ts,
      selectedOption: { value: `${keyOf(root)}|recovered` },
    });
    const [answer] = await bot.slack.waitForResponse(delivery.responseUrl, { timeoutMs: 10_000 });
    expect(answer?.text).toContain('until it recovers');
    const downtime = bot.datadog.downtimes.at(-1);
    expect(downtime?.attributes).toMatchObject({ scope: 'host:web-7 AND env:prod', schedule: { end: null } });

    // Hold the channel (one post answered 429 for 2 s) while a burst and the recovery arrive.
    bot.slack.failNext({
      method: 'chat.postMessage',
      channel: 'C0ALERTS',
      kind: 'ratelimited',
      retryAfterSeconds: 2,
      count: 1,
    });
    await bot.webhooks.storm({ count: 30, concurrency: 4, firstMonitorId: 7_000 });
    expect((await bot.webhooks.send(recovered)).status).toBe(202);
    await eventually(
      async () => (await bot.state.outbox.pending('alerts:C0ALERTS')) === 0,
      'the outbox to be empty for C0ALERTS',
    );
    // The recovery was delivered in a digest (what this test is about), exactly once.
    const showing = bot.slack.messages('C0ALERTS').filter((m) => idsOf(m).includes(recovered.id));
    expect(showing.map(keyOf)).toEqual([expect.stringMatching(/^alert-digest:C0ALERTS#\d+$/)]);
    await eventually(() => root.text?.includes('Recovered'), 'the root to show Recovered');
    // Opsbot ends the downtime it created "until recovered", as it does when the recovery comes alone.
    await eventually(
      () => downtime?.attributes.status === 'canceled',
      'the downtime to be canceled',
      3_000,
    ).catch(() => undefined);
    expect(downtime?.attributes.status, 'the "until recovered" downtime after the recovery').toBe('canceled');
    expect(blocksOf(root)).not.toContain('Muted by');
    expect(actionIdsOf(root)).not.toContain('dd:unmute');
  });

  it('escapes alert titles listed in a digest', async () => {
    const EVIL = '<!channel> *boom* <@U0ADMIN> @here <https://evil.example|click>';
    bot.slack.failNext({
      method: 'chat.postMessage',
      channel: 'C0ALERTS',
      kind: 'ratelimited',
      retryAfterSeconds: 1,
      count: 1,
    });
    const bodies = Array.from({ length: 12 }, (_, i) => ({
      ...datadogWebhookBody({ monitorId: 1003, scope: `host:evil-${i}` }),
      title: EVIL,
    }));
    for (const body of bodies) expect((await bot.webhooks.send(body)).status).toBe(202);
    await eventually(
      async () => (await bot.state.outbox.pending('alerts:C0ALERTS')) === 0,
      'the outbox to be empty for C0ALERTS',
    );
    const digests = bot.slack
      .messages('C0ALERTS')
      .filter((m) => keyOf(m).startsWith('alert-digest:') && bodies.some((b) => idsOf(m).includes(b.id)));
    expect(digests.length).toBeGreaterThanOrEqual(1);
    expect(blocksOf(digests.at(-1) as SimMessage)).toContain('&lt;!channel&gt;');
    for (const digest of digests) expectEscaped('a digest', { text: digest.text, blocks: digest.blocks });
  });
});

describe("a 429 in one channel does not hold another's alerts", () => {
  let bot: SandboxBot;
  beforeAll(async () => {
    bot = await start();
  });
  afterAll(async () => {
    await bot?.stop();
  });

  it('posts to C0PAYMENTS at once and to C0ALERTS after its Retry-After, each once', async () => {
    bot.slack.failNext({
      method: 'chat.postMessage',
      channel: 'C0ALERTS',
      kind: 'ratelimited',
      retryAfterSeconds: 3,
      count: 1,
    });
    const general = datadogWebhookBody({ monitorId: 1001, scope: 'host:web-1' });
    const payments = datadogWebhookBody({ monitorId: 1002, scope: 'host:pay-1', tags: ['team:payments'] });
    const started = performance.now();
    const results = await Promise.all([bot.webhooks.send(general), bot.webhooks.send(payments)]);
    expect(results.map((r) => r.status)).toEqual([202, 202]);
    const rootIn = (channel: string, id: string) =>
      bot.slack.messages(channel).find((m) => !m.threadTs && idsOf(m).includes(id));

    await eventually(() => rootIn('C0PAYMENTS', payments.id), 'the C0PAYMENTS root');
    const paymentsMs = performance.now() - started;
    await eventually(() => rootIn('C0ALERTS', general.id), 'the C0ALERTS root');
    const generalMs = performance.now() - started;

    expect(paymentsMs).toBeLessThan(1_500);
    expect(generalMs).toBeGreaterThanOrEqual(2_900);
    expect(generalMs).toBeLessThan(8_000);
    expect(bot.slack.rateLimitedCount('C0ALERTS')).toBe(1);
    expect(bot.slack.rateLimitedCount('C0PAYMENTS')).toBe(0);
    await sleep(300);
    expect(bot.slack.messages('C0ALERTS').filter((m) => idsOf(m).includes(general.id))).toHaveLength(1);
    expect(bot.slack.messages('C0PAYMENTS').filter((m) => idsOf(m).includes(payments.id))).toHaveLength(1);
    expect(bot.slack.messages('C0PAYMENTS').some((m) => idsOf(m).includes(general.id))).toBe(false);
    assertNoCanary({ logs: bot.logLines.join('\n'), calls: bot.slack.calls }, bot.secrets());
  });
});
