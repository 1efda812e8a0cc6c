import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackFeed } from '../../src/console/feed.js';
import { readBody } from '../../src/http/server.js';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import { verifySlackRequest } from '../../src/slack/verify-request.js';
import { assertNoCanary, canary } from '../helpers/canary.js';

const slack = new SimulatedSlack();
const token = canary('xoxb');
let client: WebClient;

beforeAll(async () => {
  await slack.start();
  slack.addBotToken(token);
  slack.addUser({ id: 'U0DEV', name: 'dev', realName: 'Devi' });
  slack.addChannel({ id: 'C0DEV', name: 'dev' });
  slack.addChannel({ id: 'C0OUT', name: 'outside', botIsMember: false });
  slack.addUsergroup({ id: 'S0PLAT', handle: 'platform', users: ['U0DEV'] });
  client = new WebClient(token, {
    slackApiUrl: slack.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
  });
});
afterAll(() => slack.stop());

describe('the simulated Slack Web API, driven by the real WebClient', () => {
  it('answers auth.test with the workspace and bot ids', async () => {
    const result = await client.auth.test();
    expect(result).toMatchObject({ ok: true, team_id: 'T0SANDBOX', user_id: 'U0OPSBOT', bot_id: 'B0OPSBOT' });
  });

  it('posts, updates and keeps history; Slack errors come back as platform errors', async () => {
    const posted = await client.chat.postMessage({
      channel: 'C0DEV',
      text: 'hello',
      blocks: [{ type: 'divider' }],
    });
    expect(posted.ts).toMatch(/^\d+\.\d{6}$/);
    await client.chat.update({ channel: 'C0DEV', ts: posted.ts as string, text: 'edited' });
    expect(slack.messages('C0DEV').at(-1)).toMatchObject({ ts: posted.ts, text: 'edited', edited: true });
    await expect(client.chat.postMessage({ channel: 'C0NOPE', text: 'x' })).rejects.toMatchObject({
      code: 'slack_webapi_platform_error',
      data: { error: 'channel_not_found' },
    });
    await expect(client.chat.postMessage({ channel: 'C0OUT', text: 'x' })).rejects.toMatchObject({
      data: { error: 'not_in_channel' },
    });
    await expect(client.chat.update({ channel: 'C0DEV', ts: '1.000001', text: 'x' })).rejects.toMatchObject({
      data: { error: 'message_not_found' },
    });
    await client.chat.postEphemeral({ channel: 'C0DEV', user: 'U0DEV', text: 'only you' });
    expect(slack.ephemerals('C0DEV', 'U0DEV').at(-1)?.text).toBe('only you');
  });

  it('refuses a revoked token with invalid_auth', async () => {
    const other = canary('xoxb');
    slack.addBotToken(other);
    const c = new WebClient(other, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    await expect(c.auth.test()).resolves.toMatchObject({ ok: true });
    slack.revokeBotToken(other);
    await expect(c.auth.test()).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
  });

  it('lists user-group members and users, and knows channels', async () => {
    expect((await client.usergroups.users.list({ usergroup: 'S0PLAT' })).users).toEqual(['U0DEV']);
    await expect(client.usergroups.users.list({ usergroup: 'S0NOPE' })).rejects.toMatchObject({
      data: { error: 'no_such_subteam' },
    });
    expect((await client.users.info({ user: 'U0DEV' })).user).toMatchObject({
      id: 'U0DEV',
      name: 'dev',
      real_name: 'Devi',
    });
    await expect(client.users.info({ user: 'U0NOPE' })).rejects.toMatchObject({
      data: { error: 'user_not_found' },
    });
    expect((await client.conversations.info({ channel: 'C0DEV' })).channel).toMatchObject({
      id: 'C0DEV',
      name: 'dev',
    });
  });

  it('opens a modal with a fresh trigger once, refusing reuse and unknown triggers', async () => {
    const trigger = slack.workspace.issueTrigger('U0DEV');
    const view = { type: 'modal' as const, title: { type: 'plain_text' as const, text: 'Hi' }, blocks: [] };
    const opened = await client.views.open({ trigger_id: trigger, view });
    expect(opened.view?.id).toMatch(/^V/);
    await expect(client.views.open({ trigger_id: trigger, view })).rejects.toMatchObject({
      data: { error: 'invalid_trigger' },
    });
    expect(slack.views().at(-1)).toMatchObject({ userId: 'U0DEV', kind: 'modal' });
  });

  it('rate-limits only the targeted channel, with Retry-After', async () => {
    slack.failNext({
      method: 'chat.postMessage',
      channel: 'C0DEV',
      kind: 'ratelimited',
      retryAfterSeconds: 7,
    });
    await expect(client.chat.postMessage({ channel: 'C0DEV', text: 'x' })).rejects.toMatchObject({
      code: 'slack_webapi_rate_limited_error',
      retryAfter: 7,
    });
    slack.addChannel({ id: 'C0OPS', name: 'ops' });
    slack.failNext({
      method: 'chat.postMessage',
      channel: 'C0OPS',
      kind: 'ratelimited',
      retryAfterSeconds: 7,
    });
    await expect(client.chat.postMessage({ channel: 'C0DEV', text: 'fine' })).resolves.toMatchObject({
      ok: true,
    });
  });

  it('never records the token', () => {
    assertNoCanary({ calls: slack.calls }, [token]);
  });
});

describe('delivery to the app, as Slack does it', () => {
  it('signs a slash command, records the response_url posts, and allows 5 uses', async () => {
    const secret = canary('sign');
    const received: Record<string, string>[] = [];
    const app = createServer(async (req, res) => {
      const raw = (await readBody(req, 1_000_000)) as Buffer;
      const check = verifySlackRequest(
        {
          timestamp: req.headers['x-slack-request-timestamp'] as string,
          signature: req.headers['x-slack-signature'] as string,
          rawBody: raw,
        },
        [secret],
        Date.now(),
      );
      if (!check.ok) {
        res.writeHead(401).end();
        return;
      }
      const fields = Object.fromEntries(new URLSearchParams(raw.toString()));
      received.push(fields);
      res.writeHead(200).end();
      await fetch(fields.response_url as string, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: `got ${fields.text}`, response_type: 'in_channel' }),
      });
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    slack.configureApp({
      requestUrl: `http://127.0.0.1:${(app.address() as AddressInfo).port}/`,
      signingSecret: secret,
    });
    try {
      const delivery = await slack.sendSlashCommand({
        command: '/gh',
        text: 'pr list',
        userId: 'U0DEV',
        channelId: 'C0DEV',
      });
      expect(delivery.status).toBe(200);
      expect(Object.keys(received[0] ?? {}).sort()).toEqual(
        [
          'api_app_id',
          'channel_id',
          'channel_name',
          'command',
          'is_enterprise_install',
          'response_url',
          'team_domain',
          'team_id',
          'text',
          'token',
          'trigger_id',
          'user_id',
          'user_name',
        ].sort(),
      );
      expect(received[0]).toMatchObject({
        command: '/gh',
        text: 'pr list',
        user_name: 'dev',
        channel_name: 'dev',
      });
      const [reply] = await slack.waitForResponse(delivery.responseUrl);
      expect(reply).toMatchObject({ text: 'got pr list', responseType: 'in_channel' });
      expect(slack.messages('C0DEV').at(-1)?.text).toBe('got pr list');
      for (let i = 0; i < 4; i++) {
        expect((await fetch(delivery.responseUrl, { method: 'POST', body: '{"text":"again"}' })).status).toBe(
          200,
        );
      }
      const sixth = await fetch(delivery.responseUrl, { method: 'POST', body: '{"text":"too many"}' });
      expect(sixth.status).toBe(404);
      expect(await sixth.text()).toBe('used_url');
      slack.configureApp({
        requestUrl: `http://127.0.0.1:${(app.address() as AddressInfo).port}/`,
        signingSecret: canary('other'),
      });
      expect(
        (await slack.sendSlashCommand({ command: '/gh', text: 'x', userId: 'U0DEV', channelId: 'C0DEV' }))
          .status,
      ).toBe(401);
    } finally {
      app.close();
    }
  });

  it('records replace_original on response_url replies; the console shows a repeat once, a change as an update', async () => {
    const app = createServer((_req, res) => res.writeHead(200).end());
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    slack.configureApp({
      requestUrl: `http://127.0.0.1:${(app.address() as AddressInfo).port}/`,
      signingSecret: canary('sign'),
    });
    try {
      const feed = new SlackFeed(slack);
      const delivery = await slack.sendSlashCommand({
        command: '/devenv',
        text: 'up small',
        userId: 'U0DEV',
        channelId: 'C0DEV',
      });
      const reply = (text: string, replace: boolean) =>
        fetch(delivery.responseUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text, ...(replace ? { replace_original: true } : {}) }),
        });
      for (const [text, replace] of [
        ['web-1 is pending', false],
        ['web-1 is pending', true],
        ['web-1 is pending', true],
        ['web-1 is running', true],
      ] as const)
        expect((await reply(text, replace)).status).toBe(200);
      const id = delivery.responseUrl.slice(delivery.responseUrl.lastIndexOf('/') + 1);
      expect(slack.ephemerals('C0DEV', 'U0DEV').slice(-4)).toEqual([
        { user: 'U0DEV', text: 'web-1 is pending', responseId: id },
        { user: 'U0DEV', text: 'web-1 is pending', responseId: id, replaceOriginal: true },
        { user: 'U0DEV', text: 'web-1 is pending', responseId: id, replaceOriginal: true },
        { user: 'U0DEV', text: 'web-1 is running', responseId: id, replaceOriginal: true },
      ]);
      expect(feed.take('U0DEV')).toEqual([
        { kind: 'ephemeral', channel: 'C0DEV', content: { text: 'web-1 is pending' } },
        { kind: 'ephemeral', channel: 'C0DEV', content: { text: 'web-1 is running' }, updated: true },
      ]);
    } finally {
      app.close();
    }
  });
});
