import { randomUUID } from 'node:crypto';
import { WebClient } from '@slack/web-api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseSecret } from '../../src/credentials/secret-spec.js';
import { type SlackSecret, slack } from '../../src/integrations/slack.js';
import { type RotationContext, RotationTestError } from '../../src/rotation/kind.js';
import { SlackRotationError, slackRotation } from '../../src/rotation/slack.js';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';
import { failure } from './rotation-rig.js';

// The Slack rotation kind's steps, called directly, against the simulated Slack over real sockets
// (its oauth.v2.access with grant_type=refresh_token, expiring tokens, auth.test).

let now = Date.parse('2026-03-01T09:00:00Z');
const service = new SimulatedSlack({ now: () => now });
let logs: LogCapture;
const seen: string[] = [];
let clientSecret = '';

function ctx(overrides: Partial<RotationContext> = {}): RotationContext {
  return {
    name: 'slack',
    token: randomUUID(),
    emergency: false,
    endpoints: { datadogSite: 'datadoghq.com', slackApiUrl: service.apiUrl },
    log: logs.log,
    now: () => now,
    readSecret: async () => undefined,
    ...overrides,
  };
}

/** A `slack` secret with token rotation on, as the app's installation left it. */
function rotating(): SlackSecret {
  const botToken = canary('xoxb');
  service.addBotToken(botToken);
  clientSecret = canary('cs');
  const { refreshToken } = service.enableTokenRotation({ clientId: '1234.5678', clientSecret });
  const value = {
    botToken,
    signingSecret: canary('ss'),
    refreshToken,
    clientId: '1234.5678',
    clientSecret,
    expiresAt: new Date(now + 3_600_000).toISOString(),
  };
  seen.push(botToken, value.signingSecret, refreshToken, clientSecret);
  return value;
}

async function authTest(token: string): Promise<string> {
  const answer = await new WebClient(token, { slackApiUrl: service.apiUrl, retryConfig: { retries: 0 } }).auth
    .test()
    .then(
      () => 'ok',
      (e: { data?: { error?: string } }) => e.data?.error ?? 'failed',
    );
  return answer;
}

beforeAll(async () => {
  await service.start();
});
afterAll(() => service.stop());
beforeEach(() => {
  logs = captureLogs();
});
afterEach(() => {
  assertNoCanary({ logs: logs.text(), calls: service.calls }, seen);
});

describe('slackRotation with Slack token rotation on', () => {
  it('refreshes the bot token through oauth.v2.access; the old one works until it expires', async () => {
    const current = rotating();
    expect(slackRotation().automatic(current)).toBe(true);
    const pending = (await slackRotation().create?.(current, ctx())) as SlackSecret;
    seen.push(pending.botToken, pending.refreshToken ?? '');
    expect(pending.botToken).toMatch(/^xoxe\.xoxb-/);
    expect(pending.refreshToken).toMatch(/^xoxe-/);
    expect(pending.refreshToken).not.toBe(current.refreshToken);
    expect(pending.expiresAt).toBe(new Date(now + 12 * 3_600_000).toISOString());
    expect({ ...pending, botToken: '', refreshToken: '', expiresAt: '' }).toEqual({
      ...current,
      botToken: '',
      refreshToken: '',
      expiresAt: '',
    });
    // What createSecret stores parses as the slack secret.
    expect(parseSecret(slack.secret, JSON.stringify(pending)).ok).toBe(true);
    const call = service.calls.find((c) => c.method === 'oauth.v2.access');
    expect(call?.args).toEqual({ client_id: '1234.5678', grant_type: 'refresh_token' });

    await slackRotation().test(pending, ctx());
    expect(await authTest(current.botToken)).toBe('ok');
    // Not an emergency: the old token is left to expire by itself (a replica may still use it).
    await slackRotation().retire?.(current, pending, ctx());
    expect(await authTest(current.botToken)).toBe('ok');
    expect(service.calls.filter((c) => c.method === 'auth.revoke')).toEqual([]);

    now += 12 * 3_600_000;
    expect(await authTest(pending.botToken)).toBe('token_expired');
    const expired = await failure(slackRotation().test(pending, ctx()));
    expect(expired).toBeInstanceOf(RotationTestError);
    expect(expired.message).toMatch(/failed auth\.test: token_expired; the refreshed token is not valid/);
    // The next refresh starts from the refresh token the last one gave.
    const next = (await slackRotation().create?.(pending, ctx())) as SlackSecret;
    seen.push(next.botToken, next.refreshToken ?? '');
    await slackRotation().test(next, ctx());
    assertNoCanary({ expired }, seen);
  });

  it('in an emergency, revokes the previous bot token at Slack once the new one is current', async () => {
    const current = rotating();
    const pending = (await slackRotation().create?.(current, ctx({ emergency: true }))) as SlackSecret;
    seen.push(pending.botToken, pending.refreshToken ?? '');
    await slackRotation().retire?.(current, pending, ctx({ emergency: true }));
    expect(await authTest(current.botToken)).toBe('invalid_auth');
    expect(await authTest(pending.botToken)).toBe('ok');
    // Run again (Secrets Manager retries finishSecret): the token is already gone, which is fine.
    await slackRotation().retire?.(current, pending, ctx({ emergency: true }));
    // The same token in both versions (only the signing secret changed): nothing is revoked.
    await slackRotation().retire?.(pending, { ...pending }, ctx({ emergency: true }));
    expect(await authTest(pending.botToken)).toBe('ok');
  });

  it('says why Slack refused, and what to do, with no token in the error', async () => {
    const current = rotating();
    const pending = (await slackRotation().create?.(current, ctx())) as SlackSecret;
    seen.push(pending.botToken, pending.refreshToken ?? '');
    const spent = await failure(slackRotation().create?.(current, ctx()) ?? Promise.resolve());
    expect(spent).toBeInstanceOf(SlackRotationError);
    expect(spent.message).toMatch(/oauth\.v2\.access\): invalid_refresh_token\. .*reinstall the app/);

    const wrongSecret = await failure(
      slackRotation().create?.({ ...pending, clientSecret: canary('cs') }, ctx()) ?? Promise.resolve(),
    );
    expect(wrongSecret.message).toMatch(/bad_client_secret\. Check clientId and clientSecret/);

    const incomplete = await failure(
      slackRotation().create?.({ ...pending, clientId: undefined }, ctx()) ?? Promise.resolve(),
    );
    expect(incomplete.message).toMatch(/no clientId or clientSecret: add the app's clientId/);

    service.failNext({ method: 'oauth.v2.access', kind: 'server_error', status: 503 });
    const down = await failure(slackRotation().create?.(pending, ctx()) ?? Promise.resolve());
    expect(down.message).toMatch(
      /Slack refused to refresh the bot token .*: (HTTP 503|internal_error)\. Run the rotation again/,
    );
    assertNoCanary({ spent, wrongSecret, incomplete, down }, seen);
  });
});

describe('slackRotation without token rotation (values a person makes)', () => {
  it('is not automatic; testSecret proves the bot token and the app token against Slack', async () => {
    const botToken = canary('xoxb');
    const appToken = canary('xapp');
    service.addBotToken(botToken);
    service.addAppToken(appToken);
    const pending = { botToken, signingSecret: canary('ss'), appToken };
    seen.push(botToken, appToken, pending.signingSecret);
    expect(slackRotation().automatic(pending)).toBe(false);
    await slackRotation().test(pending, ctx());

    const wrongBot = await failure(slackRotation().test({ ...pending, botToken: canary('xoxb') }, ctx()));
    expect(wrongBot).toBeInstanceOf(RotationTestError);
    expect(wrongBot.message).toMatch(
      /failed auth\.test: invalid_auth; put the right values as AWSPENDING .*signingSecret cannot be checked/,
    );
    const wrongApp = await failure(slackRotation().test({ ...pending, appToken: canary('xapp') }, ctx()));
    expect(wrongApp.message).toMatch(/failed apps\.connections\.open with the app token: invalid_auth/);
    assertNoCanary({ wrongBot, wrongApp }, seen);
  });
});
