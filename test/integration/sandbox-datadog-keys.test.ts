import { client, v1, v2 } from '@datadog/datadog-api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATADOG_ROTATION_SCOPES } from '../../src/rotation/datadog.js';
import { SimulatedDatadog } from '../../src/sandbox/datadog.js';
import { bareCanary } from '../helpers/canary.js';

// The simulated key management, validate and Webhooks integration routes, held to the real
// @datadog/datadog-api-client: every answer deserializes into the client's models (nothing
// `_unparsed`), and refusals reach it as ApiException with Datadog's status.

const service = new SimulatedDatadog();
let url = '';
const admin = { apiKey: bareCanary(16), appKey: bareCanary(20) };

function configure(keys: { apiKey: string; appKey?: string }) {
  return client.createConfiguration({
    authMethods: { apiKeyAuth: keys.apiKey, ...(keys.appKey ? { appKeyAuth: keys.appKey } : {}) },
    baseServer: new client.BaseServerConfiguration(url, {}),
  });
}

async function apiError(promise: Promise<unknown>): Promise<client.ApiException<unknown>> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(client.ApiException);
  return error as client.ApiException<unknown>;
}

beforeAll(async () => {
  ({ url } = await service.start());
  service.addKeys(admin.apiKey, admin.appKey, { scopes: [...DATADOG_ROTATION_SCOPES] });
});
afterAll(() => service.stop());

describe('SimulatedDatadog key management with the real datadog-api-client', () => {
  it('creates, lists, reads and deletes API keys; a deleted key is refused at once', async () => {
    const keys = new v2.KeyManagementApi(configure(admin));
    const created = await keys.createAPIKey({
      body: { data: { type: 'api_keys', attributes: { name: 'opsbot-abc' } } },
    });
    expect(created).toBeInstanceOf(v2.APIKeyResponse);
    expect(created.data).toBeInstanceOf(v2.FullAPIKey);
    expect(created.data?._unparsed).toBeUndefined();
    const key = created.data?.attributes?.key ?? '';
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(created.data?.attributes?.last4).toBe(key.slice(-4));

    const listed = await keys.listAPIKeys({ filter: 'opsbot-abc' });
    expect(listed).toBeInstanceOf(v2.APIKeysResponse);
    expect(listed.data?.map((k) => [k.id, k.attributes?.name])).toEqual([[created.data?.id, 'opsbot-abc']]);
    expect(listed.data?.[0]?._unparsed).toBeUndefined();
    expect(JSON.stringify(listed)).not.toContain(key);
    const read = await keys.getAPIKey({ apiKeyId: created.data?.id ?? '' });
    expect(read.data?.attributes?.key).toBe(key);

    const auth = new v1.AuthenticationApi(configure({ apiKey: key }));
    const valid = await auth.validate();
    expect(valid).toBeInstanceOf(v1.AuthenticationValidationResponse);
    expect(valid.valid).toBe(true);
    await keys.deleteAPIKey({ apiKeyId: created.data?.id ?? '' });
    expect((await apiError(auth.validate())).code).toBe(403);
    expect((await apiError(keys.deleteAPIKey({ apiKeyId: created.data?.id ?? '' }))).code).toBe(404);
  });

  it('creates scoped application keys for the current user; a scope limits what the key reaches', async () => {
    const keys = new v2.KeyManagementApi(configure(admin));
    const created = await keys.createCurrentUserApplicationKey({
      body: {
        data: { type: 'application_keys', attributes: { name: 'opsbot-app', scopes: ['monitors_read'] } },
      },
    });
    expect(created).toBeInstanceOf(v2.ApplicationKeyResponse);
    expect(created.data).toBeInstanceOf(v2.FullApplicationKey);
    expect(created.data?._unparsed).toBeUndefined();
    expect(created.data?.attributes?.scopes).toEqual(['monitors_read']);
    const appKey = created.data?.attributes?.key ?? '';
    expect(appKey).toMatch(/^[0-9a-f]{40}$/);
    const mine = await keys.listCurrentUserApplicationKeys({ filter: 'opsbot-app' });
    expect(mine).toBeInstanceOf(v2.ListApplicationKeysResponse);
    expect(mine.data?.map((k) => k.attributes?.name)).toEqual(['opsbot-app']);
    expect(mine.data?.[0]?._unparsed).toBeUndefined();

    const api = await keys.createAPIKey({
      body: { data: { type: 'api_keys', attributes: { name: 'opsbot-app' } } },
    });
    const scoped = configure({ apiKey: api.data?.attributes?.key ?? '', appKey });
    expect(await new v1.MonitorsApi(scoped).listMonitors()).toHaveLength(4);
    const refused = await apiError(
      new v2.DowntimesApi(scoped).createDowntime({
        body: {
          data: { type: 'downtime', attributes: { scope: '*', monitorIdentifier: { monitorId: 1001 } } },
        },
      }),
    );
    expect(refused.code).toBe(403);
    // The admin key is scoped to key management: it may not read monitors.
    expect((await apiError(new v1.MonitorsApi(configure(admin)).listMonitors())).code).toBe(403);

    await keys.deleteApplicationKey({ appKeyId: created.data?.id ?? '' });
    expect((await apiError(new v1.MonitorsApi(scoped).listMonitors())).code).toBe(403);
  });

  it('reads and updates a webhook of the Webhooks integration; the sender then sends its headers', async () => {
    let received: string | undefined;
    const { createServer } = await import('node:http');
    const sink = createServer((req, res) => {
      received = req.headers['x-opsbot-webhook-secret'] as string | undefined;
      res.writeHead(202).end();
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const port = (sink.address() as { port: number }).port;
    try {
      service.addWebhook({
        name: 'opsbot',
        url: `http://127.0.0.1:${port}/webhooks/datadog`,
        customHeaders: { 'X-Opsbot-Webhook-Secret': 'first-secret' },
      });
      const sender = service.webhookSender('opsbot');
      await sender.send('{}');
      expect(received).toBe('first-secret');

      const webhooks = new v1.WebhooksIntegrationApi(configure(admin));
      const got = await webhooks.getWebhooksIntegration({ webhookName: 'opsbot' });
      expect(got).toBeInstanceOf(v1.WebhooksIntegration);
      expect(got._unparsed).toBeUndefined();
      expect(JSON.parse(got.customHeaders ?? '{}')).toEqual({ 'X-Opsbot-Webhook-Secret': 'first-secret' });
      const updated = await webhooks.updateWebhooksIntegration({
        webhookName: 'opsbot',
        body: { customHeaders: JSON.stringify({ 'X-Opsbot-Webhook-Secret': 'second-secret' }) },
      });
      expect(updated).toBeInstanceOf(v1.WebhooksIntegration);
      expect(updated.url).toBe(`http://127.0.0.1:${port}/webhooks/datadog`);
      await sender.send('{}');
      expect(received).toBe('second-secret');
      expect((await apiError(webhooks.getWebhooksIntegration({ webhookName: 'nope' }))).code).toBe(404);
      const bad = await apiError(
        webhooks.updateWebhooksIntegration({ webhookName: 'opsbot', body: { customHeaders: 'not json' } }),
      );
      expect(bad.code).toBe(400);
    } finally {
      await new Promise<void>((r) => sink.close(() => r()));
    }
  });
});
