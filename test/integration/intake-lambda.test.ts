import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { alertDedupeKey, parseAlert } from '../../src/alerts/payload.js';
import { INTAKE_TOPIC } from '../../src/alerts/routes.js';
import { createIntakeHandler, type HttpApiResult, type IntakeHandler } from '../../src/intake/lambda.js';
import {
  alertCycle,
  type DatadogWebhookBody,
  datadogWebhookBody,
} from '../../src/sandbox/datadog-webhook-sender.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import type { SimMessage } from '../../src/sandbox/slack-workspace.js';
import { type DynamoState, openDynamoState } from '../../src/store/dynamodb.js';
import { assertNoCanary, bareCanary, canary } from '../helpers/canary.js';
import { type DynamoProxy, startDynamoProxy } from '../helpers/dynamodb-proxy.js';
import { eventually } from '../helpers/eventually.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';
import { ALERTS_CONFIG, EMULATOR_AWS_ENV, emulatorClient, newStateTable } from '../helpers/replicas.js';

/**
 * The intake function (src/intake/lambda.ts) as Lambda runs it: HTTP API events in, answers out,
 * against moto's DynamoDB (through a proxy that passes one call at a time, as atomic as DynamoDB)
 * and Secrets Manager, reached through the SDK's own variables (AWS_ENDPOINT_URL_*) exactly as in
 * production. Then the real bot on the same table delivers what the intake stored.
 */

const moto: Moto | undefined = await startMoto();
if (!moto) warnMotoMissing('the intake function (test/integration/intake-lambda.test.ts)');

let dynamo: DynamoProxy;
const handlers: IntakeHandler[] = [];
const logs: string[] = [];
const responses: HttpApiResult[] = [];

/** The process's AWS variables, as the Lambda runtime sets them (fake credentials for the emulator). */
function awsEnv(secretsManagerUrl: string, dynamodbUrl = dynamo.url): void {
  for (const [name, value] of Object.entries(EMULATOR_AWS_ENV)) vi.stubEnv(name, value);
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', dynamodbUrl);
  vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', secretsManagerUrl);
}

function intake(table: string, env: Record<string, string> = {}): IntakeHandler {
  const handler = createIntakeHandler({
    env: { ...process.env, OPSBOT_STATE: `dynamodb:${table}`, OPSBOT_SECRET_SOURCE: 'aws', ...env },
    logDestination: new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  });
  handlers.push(handler);
  return handler;
}

/** A function URL's event for a webhook (header names in lower case, as Lambda gives them). */
function event(
  body: string | DatadogWebhookBody,
  options: { secret?: string; path?: string; method?: string; base64?: boolean; header?: string } = {},
) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    version: '2.0',
    rawPath: options.path ?? '/webhooks/datadog',
    headers: {
      'content-type': 'application/json',
      ...(options.secret ? { [options.header ?? 'x-opsbot-webhook-secret']: options.secret } : {}),
    },
    body: options.base64 ? Buffer.from(text).toString('base64') : text,
    isBase64Encoded: options.base64 === true,
    requestContext: { http: { method: options.method ?? 'POST', path: options.path ?? '/webhooks/datadog' } },
  };
}

async function send(handler: IntakeHandler, e: unknown): Promise<HttpApiResult> {
  const result = await handler.handle(e);
  responses.push(result);
  return result;
}

const status = (result: HttpApiResult) => JSON.parse(result.body) as Record<string, string>;

beforeAll(async () => {
  if (moto) dynamo = await startDynamoProxy(moto.url);
});
afterAll(async () => {
  await Promise.all(handlers.map((h) => h.close()));
  vi.unstubAllEnvs();
  await dynamo?.stop();
  await moto?.stop();
}, 60_000);

describe.skipIf(!moto)('the intake function (moto)', () => {
  const sm = () =>
    new SecretsManagerClient({
      endpoint: moto?.url ?? '',
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  const prefix = `intake-${randomBytes(3).toString('hex')}/`;
  const datadogSecret = (webhookSecret: string) =>
    JSON.stringify({ apiKey: bareCanary(16), appKey: bareCanary(20), webhookSecret });
  const first = canary('hook');
  /** The header after the rotation below (the current one from then on). */
  let rotated = first;
  const chainKey = randomBytes(32).toString('base64');
  let table: string;
  let state: DynamoState;
  let handler: IntakeHandler;

  beforeAll(async () => {
    table = await newStateTable(dynamo.url, 'intake');
    const client = sm();
    await client.send(
      new CreateSecretCommand({ Name: `${prefix}datadog`, SecretString: datadogSecret(first) }),
    );
    await client.send(
      new CreateSecretCommand({ Name: `${prefix}audit`, SecretString: JSON.stringify({ chainKey }) }),
    );
    client.destroy();
    awsEnv(moto?.url ?? '');
    state = openDynamoState({ table, client: emulatorClient(dynamo.url) });
    await state.ready();
    handler = intake(table, { OPSBOT_SECRET_PREFIX: prefix });
  });
  afterAll(() => state?.close());

  it('stores a valid alert under the intake topic, bumps its signal, audits it, answers 202; a retry is a duplicate', async () => {
    const body = datadogWebhookBody({ monitorId: 8101, tags: ['team:payments'] });
    const answer = await send(handler, event(body, { secret: first }));
    expect(answer.statusCode).toBe(202);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(status(answer)).toEqual({ status: 'accepted' });
    const parsed = parseAlert(body, Date.now());
    if (!parsed.ok) throw new Error('the fixture does not parse');
    const [item] = await state.outbox.recent(INTAKE_TOPIC, 0, 10);
    expect(item?.id).toBe(alertDedupeKey(parsed.alert));
    expect(JSON.parse(item?.payload ?? '{}')).toMatchObject({ channel: '', alert: { monitorId: '8101' } });
    const signal = (await state.signals.read()).get(INTAKE_TOPIC) ?? 0;
    expect(signal).toBeGreaterThan(0);
    // Datadog retries: the same alert, base64-encoded this time, is stored once, and signals again.
    const again = await send(handler, event(body, { secret: first, base64: true }));
    expect([again.statusCode, status(again)]).toEqual([202, { status: 'duplicate' }]);
    expect(await state.outbox.pending(INTAKE_TOPIC)).toBe(1);
    expect((await state.signals.read()).get(INTAKE_TOPIC)).toBe(signal + 1);
    const records = (await state.audit.query({ actor: 'datadog', limit: 10 })).filter(
      (r) => r.action === 'datadog:alert',
    );
    expect(records.map((r) => [r.actor, r.details.channel, r.details.duplicate])).toEqual([
      ['datadog', 'intake', true],
      ['datadog', 'intake', undefined],
    ]);
    expect(records.every((r) => r.keyVersion !== undefined)).toBe(true);
  });

  it('answers 401, 400, 413, 404 and 405 as the bot does, storing nothing', async () => {
    const before = await state.outbox.pending(INTAKE_TOPIC);
    const missing = await send(handler, event(datadogWebhookBody()));
    expect([missing.statusCode, status(missing)]).toEqual([401, { error: 'missing_secret' }]);
    const wrong = await send(handler, event(datadogWebhookBody(), { secret: `${first}x` }));
    expect([wrong.statusCode, status(wrong)]).toEqual([401, { error: 'bad_secret' }]);
    // Header names are matched whatever their case.
    const upper = await send(
      handler,
      event(datadogWebhookBody(), { secret: first, header: 'X-Opsbot-Webhook-Secret' }),
    );
    expect(upper.statusCode).toBe(202);
    const json = await send(handler, event('{"id": ', { secret: first }));
    expect([json.statusCode, status(json).error]).toEqual([400, 'invalid_json']);
    const field = await send(
      handler,
      event({ ...datadogWebhookBody(), transition: 'Exploded' }, { secret: first }),
    );
    expect([field.statusCode, status(field)]).toMatchObject([
      400,
      { error: 'invalid_payload', field: 'transition' },
    ]);
    const big = 'x'.repeat(256 * 1024 + 1);
    for (const base64 of [false, true]) {
      const large = await send(handler, event(big, { secret: first, base64 }));
      expect([large.statusCode, status(large)]).toEqual([413, { error: 'payload_too_large' }]);
    }
    const elsewhere = await send(
      handler,
      event(datadogWebhookBody(), { secret: first, path: '/webhooks/x' }),
    );
    expect([elsewhere.statusCode, elsewhere.body]).toEqual([404, 'not found\n']);
    const get = await send(handler, event('', { secret: first, method: 'GET' }));
    expect([get.statusCode, get.headers.allow]).toEqual([405, 'POST']);
    const notHttp = await send(handler, { Records: [] });
    expect([notHttp.statusCode, status(notHttp).error]).toEqual([400, 'invalid_event']);
    expect(await state.outbox.pending(INTAKE_TOPIC)).toBe(before + 1);
  });

  it('checks the source at once for a secret it has not loaded, and accepts the previous one within the grace only', async () => {
    const strict = intake(table, { OPSBOT_SECRET_PREFIX: prefix, OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS: '0' });
    expect((await send(strict, event(datadogWebhookBody(), { secret: first }))).statusCode).toBe(202);
    // A container that refused nothing yet (a refusal holds the next check back for 5 s).
    const lenient = intake(table, { OPSBOT_SECRET_PREFIX: prefix });
    expect((await send(lenient, event(datadogWebhookBody(), { secret: first }))).statusCode).toBe(202);
    // The rotation function set a new header on Datadog's webhook; neither container polled since.
    rotated = canary('hook');
    const client = sm();
    await client.send(
      new PutSecretValueCommand({ SecretId: `${prefix}datadog`, SecretString: datadogSecret(rotated) }),
    );
    client.destroy();
    for (const h of [lenient, strict])
      expect((await send(h, event(datadogWebhookBody(), { secret: rotated }))).statusCode).toBe(202);
    // Datadog may still send the old header for a while: accepted within the grace, not without one.
    expect((await send(lenient, event(datadogWebhookBody(), { secret: first }))).statusCode).toBe(202);
    expect((await send(strict, event(datadogWebhookBody(), { secret: first }))).statusCode).toBe(401);
  });

  it('answers 503 (Datadog retries) when the State or the secret source cannot be reached', async () => {
    // Nothing listens on port 9.
    const noSource = intake(table, { OPSBOT_SECRET_PREFIX: prefix });
    vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', 'http://127.0.0.1:9');
    const notLoaded = await send(noSource, event(datadogWebhookBody(), { secret: rotated }));
    expect([notLoaded.statusCode, status(notLoaded).error, notLoaded.headers['retry-after']]).toEqual([
      503,
      'not_ready',
      '5',
    ]);
    vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', moto?.url ?? '');
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', 'http://127.0.0.1:9');
    const noTable = await send(
      intake(table, { OPSBOT_SECRET_PREFIX: prefix }),
      event(datadogWebhookBody(), { secret: rotated }),
    );
    expect([noTable.statusCode, status(noTable).error]).toEqual([503, 'store_unavailable']);
    // A warm container whose table stops answering: 503, and nothing is acknowledged.
    const lost = await startDynamoProxy(moto?.url ?? '');
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', lost.url);
    const warm = intake(table, { OPSBOT_SECRET_PREFIX: prefix });
    expect((await send(warm, event(datadogWebhookBody(), { secret: rotated }))).statusCode).toBe(202);
    await lost.stop();
    const gone = await send(warm, event(datadogWebhookBody(), { secret: rotated }));
    expect([gone.statusCode, status(gone).error]).toEqual([503, 'store_unavailable']);
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', dynamo.url);
  });

  it('never writes a secret or a body to its log, its answers or the audit trail', async () => {
    const records = await state.audit.query({ limit: 200 });
    assertNoCanary({ logs: logs.join(''), responses, audit: records }, [first, rotated]);
    // Bodies are not logged either: the fixture's monitor names never appear.
    expect(logs.join('')).not.toContain('High CPU on web');
  });
});

describe.skipIf(!moto)('a bot on the same table', () => {
  let bot: SandboxBot;
  let handler: IntakeHandler;
  let secret: string;
  let table: string;

  beforeAll(async () => {
    table = await newStateTable(dynamo.url, 'intake-bot');
    awsEnv('http://127.0.0.1:9');
    bot = await startSandboxBot({
      configYaml: ALERTS_CONFIG,
      pollSeconds: 60,
      extraEnv: { OPSBOT_STATE: `dynamodb:${table}` },
      alerts: { postIntervalMs: 20, updateIntervalMs: 5, pollMs: 50, watchMs: 50, watchMaxMs: 200 },
    });
    // The intake reads the bot's own secrets (the same webhook header and audit chain key).
    vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', bot.secretsManagerUrl);
    handler = intake(table);
    secret = (bot.provider.current('datadog').value.reveal() as { webhookSecret: string }).webhookSecret;
  }, 60_000);
  afterAll(async () => {
    await bot?.stop();
  }, 60_000);

  const idsOf = (m: SimMessage) =>
    String(m.metadata?.event_payload.alert_ids ?? '')
      .split(',')
      .filter(Boolean);
  const shown = (channel: string, alertId: string) =>
    bot.slack.messages(channel).filter((m) => idsOf(m).includes(alertId));

  it('delivers an alert the intake stored to the routed channel, once', async () => {
    const body = datadogWebhookBody({ monitorId: 8201, name: 'Queue backlog', tags: ['team:payments'] });
    const answer = await send(handler, event(body, { secret }));
    expect([answer.statusCode, status(answer)]).toEqual([202, { status: 'accepted' }]);
    await eventually(() => shown('C0PAYMENTS', body.id).length > 0, 'the alert in #payments', 15_000);
    const other = datadogWebhookBody({ monitorId: 8202, name: 'Disk' });
    expect((await send(handler, event(other, { secret }))).statusCode).toBe(202);
    await eventually(() => shown('C0ALERTS', other.id).length > 0, 'the alert in #alerts', 15_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(shown('C0PAYMENTS', body.id)).toHaveLength(1);
    expect(shown('C0ALERTS', body.id)).toHaveLength(0);
    expect(shown('C0ALERTS', other.id)).toHaveLength(1);
    expect(await bot.state.outbox.pending(INTAKE_TOPIC)).toBe(0);
  });

  it('stores an alert Datadog sends to both endpoints once, whichever takes it first, and shows it once', async () => {
    const [viaIntake, viaBot] = alertCycle({ monitorId: 8301, name: 'Sent twice', tags: ['team:payments'] });
    if (!viaIntake || !viaBot) throw new Error('alertCycle gave fewer notifications');
    const intakeFirst = await send(handler, event(viaIntake, { secret }));
    const botSecond = await bot.webhooks.send(viaIntake);
    expect([status(intakeFirst).status, JSON.parse(botSecond.body).status]).toEqual([
      'accepted',
      'duplicate',
    ]);
    const botFirst = await bot.webhooks.send(viaBot);
    const intakeSecond = await send(handler, event(viaBot, { secret }));
    expect([JSON.parse(botFirst.body).status, status(intakeSecond).status]).toEqual([
      'accepted',
      'duplicate',
    ]);
    // Both at once: one of them stores it.
    const both = datadogWebhookBody({ monitorId: 8302, name: 'Raced', tags: ['team:payments'] });
    const raced = await Promise.all([send(handler, event(both, { secret })), bot.webhooks.send(both)]);
    expect(raced.map((r) => JSON.parse(r.body).status).sort()).toEqual(['accepted', 'duplicate']);
    for (const id of [viaIntake.id, viaBot.id, both.id])
      await eventually(() => shown('C0PAYMENTS', id).length > 0, `alert ${id} in #payments`, 15_000);
    await new Promise((r) => setTimeout(r, 500));
    const roots = (id: string) =>
      bot.slack.messages('C0PAYMENTS').filter((m) => !m.threadTs && idsOf(m).includes(id));
    // One root per cycle, each notification shown once. Which is the root depends on the order
    // they reached the channel: the recovery, stored by the bot straight under the channel, may
    // overtake the trigger the intake stored, which waits for the bot to route it.
    const cycle = bot.slack
      .messages('C0PAYMENTS')
      .filter((m) => !m.threadTs && [viaIntake.id, viaBot.id].some((id) => idsOf(m).includes(id)));
    expect(cycle).toHaveLength(1);
    for (const id of [viaIntake.id, viaBot.id]) {
      const replies = bot.slack.messages('C0PAYMENTS').filter((m) => m.threadTs && idsOf(m).includes(id));
      expect(replies.length).toBeLessThanOrEqual(1);
      expect(replies.length === 1 || idsOf(cycle[0] as SimMessage).includes(id)).toBe(true);
    }
    expect(roots(both.id)).toHaveLength(1);
    for (const id of [viaIntake.id, viaBot.id, both.id]) expect(shown('C0ALERTS', id)).toHaveLength(0);
    expect(await bot.state.outbox.pending(INTAKE_TOPIC)).toBe(0);
    assertNoCanary({ logs: logs.join(''), bot: bot.logLines.join('\n'), responses }, [
      ...bot.secrets(),
      secret,
    ]);
  });
});
