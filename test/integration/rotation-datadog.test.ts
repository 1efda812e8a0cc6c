import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SecretSpec } from '../../src/credentials/secret-spec.js';
import type { DatadogSecret } from '../../src/integrations/datadog.js';
import {
  DATADOG_BOT_SCOPES,
  DATADOG_ROTATION_SCOPES,
  DatadogRotationError,
  datadogKeyName,
  datadogRotation,
} from '../../src/rotation/datadog.js';
import { type RotationContext, RotationTestError } from '../../src/rotation/kind.js';
import { SimulatedDatadog } from '../../src/sandbox/datadog.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';
import { failure } from './rotation-rig.js';

// The Datadog rotation kind's steps, called directly (the step engine is not under test here),
// against the simulated Datadog over real sockets: its key APIs, validate and Webhooks integration.

const datadog = new SimulatedDatadog();
let url = '';
let rotationKeys: { apiKey: string; appKey: string } | undefined;
let logs: LogCapture;
/** Every key value seen in the test: none may reach a log or an error. */
const seen: string[] = [];
/** What the webhook endpoint received last (the header Datadog sends). */
let receivedSecret: string | undefined;
let sink: Server;
let sinkUrl = '';

function ctx(overrides: Partial<RotationContext> = {}): RotationContext {
  return {
    name: 'datadog',
    token: randomUUID(),
    emergency: false,
    endpoints: { datadogSite: 'datadoghq.com', datadogApiUrl: url },
    log: logs.log,
    now: () => Date.now(),
    readSecret: async <T>(spec: SecretSpec<T>) =>
      spec.name === 'datadog-rotation' ? (rotationKeys as T | undefined) : undefined,
    ...overrides,
  };
}

/** A person-made `datadog` secret whose keys the simulated Datadog accepts. */
function personMade(): DatadogSecret {
  const value = { apiKey: canary('dd'), appKey: canary('dd'), webhookSecret: canary('whs') };
  datadog.addKeys(value.apiKey, value.appKey);
  seen.push(value.apiKey, value.appKey, value.webhookSecret);
  return value;
}

function remember(secret: DatadogSecret): DatadogSecret {
  seen.push(secret.apiKey, secret.appKey, secret.webhookSecret);
  return secret;
}

/** An authenticated read with these keys, as the bot makes it: the HTTP status. */
async function monitorsWith(keys: { apiKey: string; appKey: string }): Promise<number> {
  const response = await fetch(`${url}/api/v1/monitor`, {
    headers: { 'dd-api-key': keys.apiKey, 'dd-application-key': keys.appKey },
  });
  await response.body?.cancel();
  return response.status;
}

beforeAll(async () => {
  ({ url } = await datadog.start());
  sink = createServer((req, res) => {
    receivedSecret = req.headers['x-opsbot-webhook-secret'] as string | undefined;
    req.resume();
    res.writeHead(202).end();
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/webhooks/datadog`;
});
afterAll(async () => {
  await datadog.stop();
  await new Promise<void>((resolve) => sink.close(() => resolve()));
});

beforeEach(() => {
  logs = captureLogs();
  rotationKeys = { apiKey: canary('ddrot'), appKey: canary('ddrot') };
  seen.push(rotationKeys.apiKey, rotationKeys.appKey);
  datadog.addKeys(rotationKeys.apiKey, rotationKeys.appKey, { scopes: [...DATADOG_ROTATION_SCOPES] });
});
afterEach(async () => {
  await datadog.reachable();
  assertNoCanary({ logs: logs.text() }, seen);
});

describe('datadogRotation', () => {
  it('rotates end to end: new scoped keys, the webhook sends the new secret, the old keys stop working', async () => {
    const current = personMade();
    datadog.addWebhook({
      name: 'opsbot',
      url: sinkUrl,
      customHeaders: { 'X-Opsbot-Webhook-Secret': current.webhookSecret, 'X-Other': 'kept' },
    });
    const sender = datadog.webhookSender('opsbot');
    const c = ctx();
    expect(datadogRotation().automatic(current)).toBe(true);

    const pending = remember((await datadogRotation().create?.(current, c)) as DatadogSecret);
    expect(pending.apiKey).not.toBe(current.apiKey);
    expect(pending.appKey).not.toBe(current.appKey);
    expect(pending.webhookSecret).not.toBe(current.webhookSecret);
    expect(Buffer.from(pending.webhookSecret, 'base64url')).toHaveLength(32);
    expect(datadog.keys.apiKey(pending.apiKey)?.name).toBe(datadogKeyName(c.token));
    expect(datadog.keys.appKey(pending.appKey)?.scopes).toEqual([...DATADOG_BOT_SCOPES]);
    expect(pending.apiKeyId).toBe(datadog.keys.apiKey(pending.apiKey)?.id);

    await sender.send('{}');
    expect(receivedSecret).toBe(current.webhookSecret);
    await datadogRotation().set?.(pending, current, c);
    await sender.send('{}');
    expect(receivedSecret).toBe(pending.webhookSecret);
    expect(JSON.parse(datadog.keys.webhooks.get('opsbot')?.custom_headers ?? '{}')['X-Other']).toBe('kept');
    await datadogRotation().set?.(pending, current, c); // again: the same outcome
    expect(JSON.parse(datadog.keys.webhooks.get('opsbot')?.custom_headers ?? '{}')).toEqual({
      'X-Other': 'kept',
      'X-Opsbot-Webhook-Secret': pending.webhookSecret,
    });

    await datadogRotation().test(pending, c);
    expect(await monitorsWith(pending)).toBe(200);

    // The first keys were made by a person: the API key is found by its value and revoked; the
    // application key cannot be found (Datadog shows it at creation only), and the log says so.
    await datadogRotation().retire?.(current, pending, c);
    expect(datadog.keys.apiKey(current.apiKey)).toBeUndefined();
    expect(await monitorsWith(current)).toBe(403);
    expect(await monitorsWith(pending)).toBe(200);
    expect(logs.text()).toContain('revoke it in Datadog');

    // The next rotation revokes what the previous one made, by id, and nothing else.
    const next = remember((await datadogRotation().create?.(pending, ctx())) as DatadogSecret);
    await datadogRotation().retire?.(pending, next, ctx());
    expect(datadog.keys.apiKeys.has(pending.apiKeyId ?? '')).toBe(false);
    expect(datadog.keys.appKeys.has(pending.appKeyId ?? '')).toBe(false);
    expect(await monitorsWith(next)).toBe(200);
    expect(await monitorsWith(rotationKeys as { apiKey: string; appKey: string })).toBe(403); // scoped: no monitors
    expect(datadog.keys.apiKey(rotationKeys?.apiKey ?? '')).toBeDefined();
  });

  it('run again for the same token, createSecret leaves one key pair, not two', async () => {
    const current = personMade();
    const c = ctx();
    const first = remember((await datadogRotation().create?.(current, c)) as DatadogSecret);
    const second = remember((await datadogRotation().create?.(current, c)) as DatadogSecret);
    const name = datadogKeyName(c.token);
    expect([...datadog.keys.apiKeys.values()].filter((k) => k.name === name)).toHaveLength(1);
    expect([...datadog.keys.appKeys.values()].filter((k) => k.name === name)).toHaveLength(1);
    expect(await monitorsWith(first)).toBe(403);
    expect(await monitorsWith(second)).toBe(200);
    expect(await monitorsWith(current)).toBe(200);
  });

  it('an emergency retire revokes the previous keys at once: a call with them is then a 403', async () => {
    const current = personMade();
    const made = remember((await datadogRotation().create?.(current, ctx())) as DatadogSecret);
    const next = remember((await datadogRotation().create?.(made, ctx())) as DatadogSecret);
    expect(await monitorsWith(made)).toBe(200);
    await datadogRotation().retire?.(made, next, ctx({ emergency: true }));
    expect(await monitorsWith(made)).toBe(403);
    expect(await monitorsWith({ apiKey: next.apiKey, appKey: made.appKey })).toBe(403);
    expect(await monitorsWith(next)).toBe(200);
    await datadogRotation().retire?.(made, next, ctx({ emergency: true })); // again: nothing left, no error

    // A person-made application key cannot be found: the emergency says so, after revoking the API key.
    const error = await failure(
      datadogRotation().retire?.(current, next, ctx({ emergency: true })) ?? Promise.resolve(),
    );
    expect(error).toBeInstanceOf(DatadogRotationError);
    expect(error.message).toMatch(/revoke it in Datadog/);
    expect(await monitorsWith(current)).toBe(403);
    assertNoCanary({ error }, seen);
  });

  it('without the datadog-rotation secret, says what to create and with which scopes', async () => {
    rotationKeys = undefined;
    const error = await failure(datadogRotation().create?.(personMade(), ctx()) ?? Promise.resolve());
    expect(error).toBeInstanceOf(DatadogRotationError);
    expect(error.message).toContain('<prefix>datadog-rotation');
    expect(error.message).toContain(DATADOG_ROTATION_SCOPES.join(', '));
  });

  it('a Datadog failure at each step says why and what to do, and carries no key', async () => {
    const current = personMade();
    datadog.addWebhook({
      name: 'opsbot',
      url: sinkUrl,
      customHeaders: { 'X-Opsbot-Webhook-Secret': current.webhookSecret },
    });
    const pending = remember((await datadogRotation().create?.(current, ctx())) as DatadogSecret);

    // create: the rotation key lacks a scope.
    rotationKeys = { apiKey: canary('ddrot'), appKey: canary('ddrot') };
    datadog.addKeys(rotationKeys.apiKey, rotationKeys.appKey, { scopes: ['api_keys_read'] });
    seen.push(rotationKeys.apiKey, rotationKeys.appKey);
    const scoped = await failure(datadogRotation().create?.(current, ctx()) ?? Promise.resolve());
    expect(scoped).toBeInstanceOf(DatadogRotationError);
    expect(scoped.message).toMatch(/could not create the new keys: Datadog refused to .*HTTP 403.*scopes/);

    // The rotation keys with their scopes again.
    rotationKeys = { apiKey: canary('ddrot'), appKey: canary('ddrot') };
    seen.push(rotationKeys.apiKey, rotationKeys.appKey);
    datadog.addKeys(rotationKeys.apiKey, rotationKeys.appKey, { scopes: [...DATADOG_ROTATION_SCOPES] });

    // set: no such webhook.
    const missing = await failure(
      datadogRotation().set?.({ ...pending, webhookName: 'alerts-hook' }, current, ctx()) ??
        Promise.resolve(),
    );
    expect(missing.message).toMatch(/no webhook named alerts-hook.*webhookName/);

    // test: keys Datadog does not accept, and a webhook that still sends the old secret.
    const bad = await failure(datadogRotation().test({ ...pending, apiKey: canary('dd') }, ctx()));
    expect(bad).toBeInstanceOf(RotationTestError);
    expect(bad.message).toMatch(/new Datadog keys do not work: .*HTTP 403.*AWSCURRENT keeps serving/);
    const notSet = await failure(datadogRotation().test(pending, ctx()));
    expect(notSet.message).toMatch(/does not send the new secret yet/);

    // Every step, Datadog unreachable.
    await datadog.unreachable();
    const errors = [
      await failure(datadogRotation().create?.(current, ctx()) ?? Promise.resolve()),
      await failure(datadogRotation().set?.(pending, current, ctx()) ?? Promise.resolve()),
      await failure(datadogRotation().test(pending, ctx())),
      await failure(datadogRotation().retire?.(current, pending, ctx()) ?? Promise.resolve()),
    ];
    for (const e of errors) expect(e.message).toMatch(/could not .* at Datadog: no answer \(/);
    expect(errors[0]?.message).toMatch(/check that the rotation function can reach Datadog/);
    assertNoCanary({ scoped, missing, bad, notSet, errors }, seen);
  });
});
