import type { App } from '@slack/bolt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { HttpServer } from '../../src/http/server.js';
import { SecretValue } from '../../src/log/secret-value.js';
import { SlackHttpReceiver, type SlackHttpReceiverDeps } from '../../src/slack/receiver.js';
import { signSlackRequest } from '../../src/slack/verify-request.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogs } from '../helpers/log-capture.js';
import { head, openRaw, responseHeader, send } from '../helpers/raw-http.js';

const SECRET = 'test-signing-secret';

/** The receiver on a real listener, with a stand-in for Bolt that records what it was given. */
async function receiverOn(
  deps: Partial<SlackHttpReceiverDeps> = {},
  /** Until this settles, the stand-in for Bolt neither acks nor returns (a handler that forgot to ack). */
  holdAck?: Promise<void>,
) {
  const capture = captureLogs();
  const processed: { body: Record<string, unknown>; retryNum?: number }[] = [];
  const receiver = new SlackHttpReceiver({
    credentials: {
      inboundCandidates: <S>() => [
        {
          integration: 'slack',
          name: 'opsbot/slack',
          arn: 'arn:aws:secretsmanager:us-east-1:1:secret:opsbot/slack',
          versionId: 'v1',
          value: new SecretValue({ signingSecret: SECRET, botToken: 'xoxb-1' } as S),
        },
      ],
      refreshAfterAuthFailure: async () => {},
    },
    clock: systemClock,
    log: capture.log,
    ...deps,
  });
  receiver.init({
    processEvent: async (event: {
      body: Record<string, unknown>;
      retryNum?: number;
      ack: () => Promise<void>;
    }) => {
      processed.push({
        body: event.body,
        ...(event.retryNum !== undefined ? { retryNum: event.retryNum } : {}),
      });
      if (holdAck) await holdAck;
      await event.ack();
    },
  } as unknown as App);
  const server = new HttpServer({ log: capture.log, routes: [receiver.route()] });
  const { port } = await server.listen(0, '127.0.0.1');
  servers.push(server);
  return { port, processed, capture };
}

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(1_000)));
});

const nowSeconds = () => Math.floor(Date.now() / 1_000);

function command(text: string, padding = 0): string {
  return new URLSearchParams({
    command: '/probe',
    text,
    user_id: 'U0DEV',
    channel_id: 'C0DEV',
    team_id: 'T0SANDBOX',
    ...(padding > 0 ? { pad: 'x'.repeat(padding) } : {}),
  }).toString();
}

function signed(body: string, timestamp = nowSeconds()): Record<string, string> {
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': signSlackRequest(SECRET, String(timestamp), body),
  };
}

describe('the Slack receiver', () => {
  it('refuses a request whose Slack headers cannot be right before reading its body, and closes', async () => {
    const { port, processed } = await receiverOn();
    const bogus = `v0=${'0f'.repeat(32)}`;
    const cases: [string, Record<string, string | number>][] = [
      ['no signature headers', {}],
      [
        'signature not v0= and 64 hex',
        { 'x-slack-request-timestamp': nowSeconds(), 'x-slack-signature': 'v0=abc' },
      ],
      ['timestamp not a number', { 'x-slack-request-timestamp': 'soon', 'x-slack-signature': bogus }],
      [
        'timestamp 6 minutes old',
        { 'x-slack-request-timestamp': nowSeconds() - 360, 'x-slack-signature': bogus },
      ],
      [
        'timestamp 6 minutes ahead',
        { 'x-slack-request-timestamp': nowSeconds() + 360, 'x-slack-signature': bogus },
      ],
    ];
    for (const [name, headers] of cases) {
      // A body of 1 MiB − 1 byte is announced and never sent: only an answer before reading it comes back.
      const client = openRaw(
        port,
        head('POST', '/slack/events', {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': 1024 * 1024 - 1,
          ...headers,
        }),
      );
      const closed = await Promise.race([client.closed, new Promise((r) => setTimeout(r, 3_000, 'open'))]);
      client.destroy();
      expect(closed, name).not.toBe('open');
      expect(client.status(), name).toBe(401);
      expect(responseHeader(client.received(), 'connection'), name).toBe('close');
    }
    expect(processed).toEqual([]);
  });

  it('takes Slack bodies up to 256 KiB and refuses bigger ones with 413, announced or not', async () => {
    const { port, processed } = await receiverOn();
    const fits = command('fits', 200 * 1024);
    expect(
      (await send(port, { method: 'POST', path: '/slack/events', headers: signed(fits), body: fits })).status,
    ).toBe(200);
    const big = command('too big', 300 * 1024);
    const announced = await send(port, {
      method: 'POST',
      path: '/slack/events',
      headers: signed(big),
      body: big,
    });
    expect(announced.status).toBe(413);
    // Chunked, with no length announced: refused once 256 KiB have arrived.
    const client = openRaw(
      port,
      head('POST', '/slack/events', { ...signed(big), 'transfer-encoding': 'chunked' }),
    );
    for (
      let i = 0;
      i < 6 && client.write(`${(64 * 1024).toString(16)}\r\n${'x'.repeat(64 * 1024)}\r\n`);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.race([client.closed, new Promise((r) => setTimeout(r, 5_000))]);
    client.destroy();
    expect(client.status()).toBe(413);
    expect(processed.map((p) => p.body.text)).toEqual(['fits']);
  });

  it("acks a request nothing acknowledged after 2.5 s (one timer for all), inside Slack's 3 s", async () => {
    const clock = new FakeClock(Date.now());
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { port, processed, capture } = await receiverOn({ clock }, held);
    const posts = ['one', 'two', 'three'].map((text) => {
      const body = command(text);
      return send(port, { method: 'POST', path: '/slack/events', headers: signed(body), body });
    });
    await vi.waitFor(() => expect(processed).toHaveLength(3));
    // One sweep timer for the three requests, not one each.
    expect(clock.delays()).toEqual([250]);
    let answered = 0;
    for (const post of posts) void post.then(() => answered++);
    clock.advance(2_250);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(answered).toBe(0);
    clock.advance(500);
    const answers = await Promise.all(posts);
    expect(answers.map((a) => [a.status, a.body])).toEqual([
      [200, ''],
      [200, ''],
      [200, ''],
    ]);
    expect(
      capture.records().filter((l) => l.msg === 'a Slack request was not acknowledged in time; acking it'),
    ).toHaveLength(3);
    // Nothing is left waiting: the sweep stops once every request is acked.
    release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    clock.advance(1_000);
    expect(clock.delays()).toEqual([]);
  });

  it('runs a replayed request once: 401 for a replay, 200 without running it for a Slack retry', async () => {
    const seenSignatures = new Set<string>();
    const seen = async (signature: string) => {
      const known = seenSignatures.has(signature);
      seenSignatures.add(signature);
      return known;
    };
    const { port, processed } = await receiverOn({ seen });
    const body = command('deploy');
    const headers = signed(body);
    const post = (extra: Record<string, string> = {}) =>
      send(port, { method: 'POST', path: '/slack/events', headers: { ...headers, ...extra }, body });
    expect((await post()).status).toBe(200);
    const replay = await post();
    expect(replay.status).toBe(401);
    expect(JSON.parse(replay.body)).toEqual({ error: 'replayed_request' });
    const retry = await post({ 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' });
    expect(retry.status).toBe(200);
    expect(retry.body).toBe('');
    expect(processed.map((p) => p.body.text)).toEqual(['deploy']);
    // Another request (another timestamp, so another signature) runs as usual.
    const again = command('deploy');
    const later = signed(again, nowSeconds() + 1);
    expect(
      (await send(port, { method: 'POST', path: '/slack/events', headers: later, body: again })).status,
    ).toBe(200);
    expect(processed).toHaveLength(2);
  });

  it('lets requests through when the replay check fails or hangs (fail-open), and says so', async () => {
    const failing = await receiverOn({ seen: () => Promise.reject(new Error('dedupe store down')) });
    const body = command('still works');
    const res = await send(failing.port, {
      method: 'POST',
      path: '/slack/events',
      headers: signed(body),
      body,
    });
    expect(res.status).toBe(200);
    expect(failing.processed).toHaveLength(1);
    expect(failing.capture.text()).toContain('replay check failed');

    const hanging = await receiverOn({ seen: () => new Promise<boolean>(() => {}) });
    const started = performance.now();
    const slow = await send(hanging.port, {
      method: 'POST',
      path: '/slack/events',
      headers: signed(body),
      body,
    });
    expect(slow.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(hanging.processed).toHaveLength(1);
  });

  it('still reads the body to check a well-formed signature, and refuses a wrong one with 401', async () => {
    const { port, processed } = await receiverOn();
    const body = command('forged');
    const headers = { ...signed(body), 'x-slack-signature': `v0=${'0f'.repeat(32)}` };
    const res = await send(port, { method: 'POST', path: '/slack/events', headers, body });
    expect(res.status).toBe(401);
    expect(res.headers.connection).toBe('close');
    expect(processed).toEqual([]);
  });
});
