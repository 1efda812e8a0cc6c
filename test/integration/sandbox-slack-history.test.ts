import { randomBytes } from 'node:crypto';
import { type ConversationsHistoryResponse, WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import { blockActionPayload } from '../../src/sandbox/slack-payloads.js';

let clock = Date.UTC(2025, 0, 1, 12, 0, 0);
const slack = new SimulatedSlack({ now: () => clock });
const token = `xoxb-test-canary-${randomBytes(8).toString('hex')}`;
let client: WebClient;

beforeAll(async () => {
  await slack.start();
  slack.addBotToken(token);
  slack.addUser({ id: 'U0DEV', name: 'dev' });
  for (const id of ['C0META', 'C0PAGE', 'C0THREAD', 'C1', 'C2'])
    slack.addChannel({ id, name: id.toLowerCase() });
  slack.addChannel({ id: 'C0OUT', name: 'outside', botIsMember: false });
  client = new WebClient(token, {
    slackApiUrl: slack.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
  });
});
afterAll(() => slack.stop());

const alert = { event_type: 'opsbot_alert', event_payload: { alert_id: 'a-1', severity: 'critical' } };

describe('message metadata and conversations.history, driven by the real WebClient', () => {
  it('stores metadata and returns it only with include_all_metadata', async () => {
    const posted = await client.chat.postMessage({ channel: 'C0META', text: 'disk full', metadata: alert });
    expect(posted.message?.metadata).toEqual(alert);
    expect(slack.findMessage('C0META', (m) => m.ts === posted.ts)?.metadata).toEqual(alert);

    const withMeta = await client.conversations.history({ channel: 'C0META', include_all_metadata: true });
    expect(withMeta.messages).toEqual([
      {
        type: 'message',
        bot_id: 'B0OPSBOT',
        app_id: 'A0OPSBOT',
        user: 'U0OPSBOT',
        text: 'disk full',
        ts: posted.ts,
        metadata: alert,
      },
    ]);
    expect(withMeta).toMatchObject({ ok: true, has_more: false, response_metadata: { next_cursor: '' } });

    const without = await client.conversations.history({ channel: 'C0META' });
    expect(without.messages?.[0]).not.toHaveProperty('metadata');
    expect(without.messages?.[0]?.text).toBe('disk full');
  });

  it('chat.update replaces metadata when given and keeps it otherwise', async () => {
    const posted = await client.chat.postMessage({ channel: 'C0META', text: 'cpu high', metadata: alert });
    const ts = posted.ts as string;
    const acked = { event_type: 'opsbot_alert', event_payload: { alert_id: 'a-1', acked_by: 'U0DEV' } };
    await client.chat.update({ channel: 'C0META', ts, text: 'cpu high (acked)', metadata: acked });
    expect(slack.findMessage('C0META', (m) => m.ts === ts)?.metadata).toEqual(acked);
    await client.chat.update({ channel: 'C0META', ts, text: 'cpu high (resolved)' });
    const history = await client.conversations.history({ channel: 'C0META', include_all_metadata: true });
    const message = history.messages?.find((m) => m.ts === ts);
    expect(message).toMatchObject({ text: 'cpu high (resolved)', metadata: acked });
    expect(message?.edited).toEqual({ user: 'U0OPSBOT', ts: expect.stringMatching(/^\d+\.\d{6}$/) });
  });

  it('refuses malformed and oversized metadata and stores nothing', async () => {
    const before = slack.messages('C0META').length;
    const bad: unknown[] = [
      { event_type: '', event_payload: {} },
      { event_type: 'x'.repeat(101), event_payload: {} },
      { event_type: 'ok', event_payload: [1, 2] },
      { event_type: 'ok' },
      { event_payload: {} },
      '{not json',
    ];
    for (const metadata of bad) {
      await expect(
        client.apiCall('chat.postMessage', { channel: 'C0META', text: 'x', metadata }),
      ).rejects.toMatchObject({ data: { error: 'invalid_metadata_format' } });
    }
    await expect(
      client.chat.postMessage({
        channel: 'C0META',
        text: 'x',
        metadata: { event_type: 'big', event_payload: { blob: 'y'.repeat(9_000) } },
      }),
    ).rejects.toMatchObject({ data: { error: 'metadata_too_large' } });
    const ts = slack.messages('C0META')[0]?.ts as string;
    await expect(
      client.apiCall('chat.update', { channel: 'C0META', ts, text: 'x', metadata: { event_type: 'ok' } }),
    ).rejects.toMatchObject({ data: { error: 'invalid_metadata_format' } });
    expect(slack.messages('C0META')).toHaveLength(before);
    expect(slack.messages('C0META')[0]?.metadata).toEqual(alert);
  });

  it('pages newest first with limit and cursor, each message exactly once', async () => {
    const posted: string[] = [];
    for (let i = 1; i <= 5; i++) {
      posted.push((await client.chat.postMessage({ channel: 'C0PAGE', text: `m${i}` })).ts as string);
      clock += 1_000;
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.conversations.history({ channel: 'C0PAGE', limit: 2, cursor });
      pages++;
      expect(page.messages?.length).toBeLessThanOrEqual(2);
      seen.push(...(page.messages ?? []).map((m) => m.text as string));
      cursor = page.response_metadata?.next_cursor || undefined;
      expect(page.has_more).toBe(cursor !== undefined);
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(['m5', 'm4', 'm3', 'm2', 'm1']);

    const [t1, t2, t3, t4, t5] = posted as [string, string, string, string, string];
    const texts = async (args: { oldest?: string; latest?: string; inclusive?: boolean }) =>
      ((await client.conversations.history({ channel: 'C0PAGE', ...args })).messages ?? []).map(
        (m) => m.text,
      );
    expect(await texts({ oldest: t2, latest: t4 })).toEqual(['m3']);
    expect(await texts({ oldest: t2, latest: t4, inclusive: true })).toEqual(['m4', 'm3', 'm2']);
    expect(await texts({ oldest: t4 })).toEqual(['m5']);
    expect(await texts({ latest: t2 })).toEqual(['m1']);
    expect(await texts({ oldest: t5, inclusive: true })).toEqual(['m5']);
    expect(await texts({ oldest: t1, latest: t3, inclusive: true })).toEqual(['m3', 'm2', 'm1']);

    const all: string[] = [];
    for await (const page of client.paginate('conversations.history', { channel: 'C0PAGE', limit: 2 })) {
      const { messages } = page as ConversationsHistoryResponse;
      all.push(...(messages ?? []).map((m) => m.text as string));
    }
    expect(all).toEqual(['m5', 'm4', 'm3', 'm2', 'm1']);
  });

  it('answers channel and argument errors as Slack does', async () => {
    await expect(client.conversations.history({ channel: 'C0NOPE' })).rejects.toMatchObject({
      data: { error: 'channel_not_found' },
    });
    await expect(client.conversations.history({ channel: 'C0OUT' })).rejects.toMatchObject({
      data: { error: 'not_in_channel' },
    });
    await expect(
      client.conversations.history({ channel: 'C0PAGE', cursor: 'garbage' }),
    ).rejects.toMatchObject({
      data: { error: 'invalid_cursor' },
    });
    await expect(
      client.conversations.history({ channel: 'C0PAGE', oldest: 'yesterday' }),
    ).rejects.toMatchObject({ data: { error: 'invalid_ts_oldest' } });
    await expect(client.conversations.replies({ channel: 'C0PAGE', ts: '1.000001' })).rejects.toMatchObject({
      data: { error: 'thread_not_found' },
    });
  });

  it('keeps thread replies out of history and returns them oldest first after the parent', async () => {
    const parent = (await client.chat.postMessage({ channel: 'C0THREAD', text: 'incident' })).ts as string;
    const replies: string[] = [];
    for (let i = 1; i <= 3; i++) {
      clock += 1_000;
      const r = await client.chat.postMessage({
        channel: 'C0THREAD',
        thread_ts: parent,
        text: `update ${i}`,
        metadata: { event_type: 'opsbot_update', event_payload: { n: i } },
      });
      replies.push(r.ts as string);
    }
    clock += 1_000;
    await client.chat.postMessage({ channel: 'C0THREAD', text: 'unrelated' });

    const history = await client.conversations.history({ channel: 'C0THREAD' });
    expect(history.messages?.map((m) => m.text)).toEqual(['unrelated', 'incident']);
    expect(history.messages?.[1]).toMatchObject({
      ts: parent,
      thread_ts: parent,
      reply_count: 3,
      latest_reply: replies[2],
    });
    expect(history.messages?.[0]).not.toHaveProperty('thread_ts');

    const thread = await client.conversations.replies({ channel: 'C0THREAD', ts: parent });
    expect(thread.messages?.map((m) => m.text)).toEqual(['incident', 'update 1', 'update 2', 'update 3']);
    expect(thread.messages?.[1]).toMatchObject({
      ts: replies[0],
      thread_ts: parent,
      parent_user_id: 'U0OPSBOT',
    });
    expect(thread.messages?.[1]).not.toHaveProperty('metadata');
    expect(thread).toMatchObject({ has_more: false, response_metadata: { next_cursor: '' } });

    const withMeta = await client.conversations.replies({
      channel: 'C0THREAD',
      ts: parent,
      include_all_metadata: true,
    });
    expect(withMeta.messages?.[3]?.metadata).toEqual({
      event_type: 'opsbot_update',
      event_payload: { n: 3 },
    });

    const first = await client.conversations.replies({ channel: 'C0THREAD', ts: parent, limit: 2 });
    expect(first.messages?.map((m) => m.text)).toEqual(['incident', 'update 1']);
    expect(first.has_more).toBe(true);
    const second = await client.conversations.replies({
      channel: 'C0THREAD',
      ts: parent,
      limit: 2,
      cursor: first.response_metadata?.next_cursor as string,
    });
    expect(second.messages?.map((m) => m.text)).toEqual(['update 2', 'update 3']);
    expect(second).toMatchObject({ has_more: false, response_metadata: { next_cursor: '' } });

    const newer = await client.conversations.replies({ channel: 'C0THREAD', ts: parent, oldest: replies[0] });
    expect(newer.messages?.map((m) => m.text)).toEqual(['incident', 'update 2', 'update 3']);

    expect(slack.findMessage('C0THREAD', (m) => m.text === 'update 2')?.threadTs).toBe(parent);
  });
});

describe('per-channel posting limit and uncapped counters', () => {
  it('answers 429 with retry-after for a second immediate post to one channel only', async () => {
    const postsBefore = slack.callCounts.get('chat.postMessage') ?? 0;
    const limitedBefore = slack.rateLimitedCount();
    slack.limitPostsPerChannel({ perSecond: 1, burst: 1 });
    try {
      await client.chat.postMessage({ channel: 'C1', text: 'first' });
      const stored = slack.messages('C1').length;
      const refused = await client.chat.postMessage({ channel: 'C1', text: 'second' }).then(
        () => undefined,
        (error: unknown) => error as { code?: string; retryAfter?: number },
      );
      expect(refused?.code).toBe('slack_webapi_rate_limited_error');
      expect(refused?.retryAfter).toBeGreaterThanOrEqual(1);
      expect(slack.messages('C1')).toHaveLength(stored);
      expect(slack.findMessage('C1', (m) => m.text === 'second')).toBeUndefined();

      await expect(client.chat.postMessage({ channel: 'C2', text: 'elsewhere' })).resolves.toMatchObject({
        ok: true,
      });
      // Other methods are not limited.
      await expect(client.conversations.history({ channel: 'C1' })).resolves.toMatchObject({ ok: true });

      clock += 1_000;
      await expect(client.chat.postMessage({ channel: 'C1', text: 'second' })).resolves.toMatchObject({
        ok: true,
      });
      expect(slack.findMessage('C1', (m) => m.text === 'second')).toBeDefined();

      expect(slack.callCounts.get('chat.postMessage')).toBe(postsBefore + 4);
      expect(slack.rateLimitedCount('C1')).toBe(1);
      expect(slack.rateLimitedCount('C2')).toBe(0);
      expect(slack.rateLimitedCount()).toBe(limitedBefore + 1);
      expect(slack.calls.filter((c) => c.status === 429)).toHaveLength(limitedBefore + 1);
    } finally {
      slack.limitPostsPerChannel(undefined);
    }
  });

  it('allows a burst, then waits for the refill', async () => {
    slack.limitPostsPerChannel({ perSecond: 0.5, burst: 3 });
    try {
      for (let i = 0; i < 3; i++) await client.chat.postMessage({ channel: 'C2', text: `burst ${i}` });
      await expect(client.chat.postMessage({ channel: 'C2', text: 'over' })).rejects.toMatchObject({
        retryAfter: 2,
      });
      clock += 2_000;
      await expect(client.chat.postMessage({ channel: 'C2', text: 'over' })).resolves.toMatchObject({
        ok: true,
      });
    } finally {
      slack.limitPostsPerChannel(undefined);
    }
  });

  it('counts every call, past the 5,000-entry cap on calls', async () => {
    const before = slack.callCounts.get('auth.test') ?? 0;
    for (let batch = 0; batch < 51; batch++) {
      await Promise.all(Array.from({ length: 100 }, () => client.auth.test()));
    }
    expect(slack.callCounts.get('auth.test')).toBe(before + 5_100);
    expect(slack.calls).toHaveLength(5_000);
    expect(slack.rateLimitedCount('C1')).toBe(1);
  });
});

describe('block actions', () => {
  it('builds a static_select payload with the message it was on', () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: 'pick' } }];
    const payload = blockActionPayload(
      slack.workspace,
      {
        userId: 'U0DEV',
        channelId: 'C1',
        actionId: 'pick_env',
        blockId: 'env',
        selectedOption: { value: 'prod', text: 'Production' },
        message: { text: 'choose an environment', blocks },
        messageTs: '1735732800.000001',
      },
      'http://127.0.0.1/response/x',
      'trigger',
    );
    expect(payload.actions).toEqual([
      {
        type: 'static_select',
        action_id: 'pick_env',
        block_id: 'env',
        selected_option: { text: { type: 'plain_text', text: 'Production' }, value: 'prod' },
        action_ts: expect.any(String),
      },
    ]);
    expect(payload.message).toEqual({
      ts: '1735732800.000001',
      type: 'message',
      text: 'choose an environment',
      blocks,
    });

    const button = blockActionPayload(
      slack.workspace,
      { userId: 'U0DEV', channelId: 'C1', actionId: 'ack', value: 'a-1' },
      'http://127.0.0.1/response/y',
      'trigger',
    );
    expect(button.actions).toEqual([
      { action_id: 'ack', block_id: 'block', value: 'a-1', type: 'button', action_ts: expect.any(String) },
    ]);
    expect(button.message).toMatchObject({ type: 'message', text: '' });
  });
});
