import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DATADOG_ROTATION_SCOPES } from '../../src/rotation/datadog.js';
import { ROTATION_STEPS } from '../../src/rotation/steps.js';
import { SimulatedDatadog } from '../../src/sandbox/datadog.js';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';
import { RotationRig, thrown } from './rotation-rig.js';

/**
 * The automatic vendor kinds (`datadog`, `slack` with token rotation) through the rotation function
 * itself, step by step, against moto's Secrets Manager (staging labels) and the simulated vendors:
 * a full rotation, every step run again, and a failure at a step leaving AWSCURRENT serving.
 */
const datadog = new SimulatedDatadog();
const slack = new SimulatedSlack();
let moto: Moto | undefined;
let rig: RotationRig;
let env: Record<string, string>;

beforeAll(async () => {
  moto = await startMoto();
  if (!moto) warnMotoMissing('rotation-automatic-moto');
  const dd = await datadog.start();
  await slack.start();
  env = { OPSBOT_DATADOG_API_URL: dd.url, OPSBOT_SLACK_API_URL: slack.apiUrl };
});
afterAll(async () => {
  await datadog.stop();
  await slack.stop();
  await moto?.stop();
});
beforeEach(() => {
  if (moto) rig = new RotationRig(moto);
});
afterEach(() => rig?.destroy());

async function datadogSecret() {
  const value = { apiKey: canary('dd'), appKey: canary('dd'), webhookSecret: canary('whs') };
  datadog.addKeys(value.apiKey, value.appKey);
  datadog.addWebhook({
    name: 'opsbot',
    url: 'http://127.0.0.1:9/webhooks/datadog',
    customHeaders: { 'X-Opsbot-Webhook-Secret': value.webhookSecret },
  });
  const admin = { apiKey: canary('ddrot'), appKey: canary('ddrot') };
  datadog.addKeys(admin.apiKey, admin.appKey, { scopes: [...DATADOG_ROTATION_SCOPES] });
  await rig.putSecret('datadog-rotation', admin, { rotation: false });
  return { id: await rig.putSecret('datadog', value), value, admin };
}

describe('the datadog kind through the rotation function', () => {
  it('rotates step by step; every step run again changes nothing; the old keys stop working', async (ctx) => {
    if (!moto) return ctx.skip();
    const { id, value, admin } = await datadogSecret();
    const token = rig.startRotation(id);
    const handle = rig.handler(env);
    for (const step of ROTATION_STEPS) {
      await handle({ SecretId: id, ClientRequestToken: token, Step: step });
      const stages = await rig.stages(id);
      // Run again, as Secrets Manager does after a timeout: the same labels, no second version.
      await handle({ SecretId: id, ClientRequestToken: token, Step: step });
      expect(await rig.stages(id)).toEqual(stages);
    }
    const current = await rig.value(id, 'AWSCURRENT');
    expect(current.apiKey).not.toBe(value.apiKey);
    expect(await rig.versionWith(id, 'AWSCURRENT')).toBe(token);
    // One new key pair for the token (the re-run create made none), the previous one revoked.
    expect(datadog.keys.apiKey(value.apiKey)).toBeUndefined();
    expect(datadog.keys.apiKey(String(current.apiKey))).toBeDefined();
    expect(
      JSON.parse(datadog.keys.webhooks.get('opsbot')?.custom_headers ?? '{}')['X-Opsbot-Webhook-Secret'],
    ).toBe(current.webhookSecret);
    assertNoCanary({ logs: rig.logs.text() }, [
      value.apiKey,
      value.appKey,
      value.webhookSecret,
      admin.apiKey,
      admin.appKey,
      String(current.apiKey),
      String(current.appKey),
      String(current.webhookSecret),
    ]);
  });

  it('Datadog down at setSecret: the step fails saying so, AWSCURRENT keeps serving, the reason is on the secret', async (ctx) => {
    if (!moto) return ctx.skip();
    const { id, value } = await datadogSecret();
    const before = await rig.versionWith(id, 'AWSCURRENT');
    const token = rig.startRotation(id);
    const handle = rig.handler(env);
    await handle({ SecretId: id, ClientRequestToken: token, Step: 'createSecret' });
    await datadog.unreachable();
    try {
      const error = await thrown(() =>
        handle({ SecretId: id, ClientRequestToken: token, Step: 'setSecret' }),
      );
      expect(error.message).toMatch(/Datadog/);
      expect(await rig.versionWith(id, 'AWSCURRENT')).toBe(before);
      expect((await rig.value(id, 'AWSCURRENT')).apiKey).toBe(value.apiKey);
      assertNoCanary({ error: error.message, logs: rig.logs.text() }, [value.apiKey, value.webhookSecret]);
    } finally {
      await datadog.reachable();
    }
  });
});

describe('the slack kind (token rotation on) through the rotation function', () => {
  it('exchanges the refresh token once, whatever the re-runs, and promotes the new bot token', async (ctx) => {
    if (!moto) return ctx.skip();
    const client = { clientId: '123.456', clientSecret: canary('client') };
    const { refreshToken } = slack.enableTokenRotation(client);
    const botToken = `xoxe.xoxb-${canary('bot')}`;
    slack.addBotToken(botToken, { expiresAt: Date.now() + 12 * 3_600_000 });
    const value = {
      botToken,
      signingSecret: canary('signing'),
      refreshToken,
      ...client,
      expiresAt: new Date(Date.now() + 12 * 3_600_000).toISOString(),
    };
    const id = await rig.putSecret('slack', value);
    const token = rig.startRotation(id);
    const handle = rig.handler(env);
    for (const step of ROTATION_STEPS) {
      await handle({ SecretId: id, ClientRequestToken: token, Step: step });
      await handle({ SecretId: id, ClientRequestToken: token, Step: step });
    }
    const current = await rig.value(id, 'AWSCURRENT');
    expect(await rig.versionWith(id, 'AWSCURRENT')).toBe(token);
    expect(current.botToken).toMatch(/^xoxe\.xoxb-/);
    expect(current.botToken).not.toBe(botToken);
    expect(current.refreshToken).not.toBe(refreshToken);
    expect(current.signingSecret).toBe(value.signingSecret);
    // The spent refresh token was exchanged exactly once: a second exchange would have failed.
    expect(slack.calls.filter((c) => c.method === 'oauth.v2.access')).toHaveLength(1);
    assertNoCanary({ logs: rig.logs.text() }, [
      botToken,
      refreshToken,
      client.clientSecret,
      value.signingSecret,
      String(current.botToken),
      String(current.refreshToken),
    ]);
  });
});
