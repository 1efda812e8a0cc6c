import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createIntakeHandler, type IntakeHandler } from '../../src/intake/lambda.js';
import { datadogWebhookBody } from '../../src/sandbox/datadog-webhook-sender.js';
import { startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { bareCanary, canary } from '../helpers/canary.js';
import { startDynamoProxy } from '../helpers/dynamodb-proxy.js';
import { startMoto } from '../helpers/moto.js';
import { ALERTS_CONFIG, EMULATOR_AWS_ENV, newStateTable } from '../helpers/replicas.js';

const WEBHOOKS = Number(process.env.BENCH_INTAKE_WEBHOOKS ?? 200);
const IDLE_ALERTS = Number(process.env.BENCH_INTAKE_IDLE_ALERTS ?? 3);
/** How long the bot idles before each alert: past its watcher's longest back-off (30 s). */
const IDLE_MS = Number(process.env.BENCH_INTAKE_IDLE_SECONDS ?? 35) * 1_000;

const quiet = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

const event = (secret: string, body = datadogWebhookBody()) => ({
  rawPath: '/webhooks/datadog',
  headers: { 'content-type': 'application/json', 'x-opsbot-webhook-secret': secret },
  body: JSON.stringify(body),
  isBase64Encoded: false,
  requestContext: { http: { method: 'POST' } },
});

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/**
 * `npm run bench -- intake`: the intake function against moto's DynamoDB (through the one-call-at-
 * a-time proxy) and Secrets Manager: its cold start, then the handler's latency per webhook (p50,
 * p99) and its DynamoDB calls per webhook; then, with the real bot idle on the same table (default
 * dispatcher pacing), the time from the intake's 202 to the alert in the simulated Slack. Figures
 * only: moto is far slower than DynamoDB, and the idle wait depends on where the watcher's
 * back-off stands.
 */
export async function benchIntake(): Promise<void> {
  const moto = await startMoto();
  if (!moto) {
    console.log('intake: skipped (moto_server not found)');
    return;
  }
  const saved = { ...process.env };
  const proxy = await startDynamoProxy(moto.url);
  const handlers: IntakeHandler[] = [];
  Object.assign(process.env, EMULATOR_AWS_ENV, {
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL_DYNAMODB: proxy.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.url,
  });
  try {
    const table = await newStateTable(proxy.url, 'bench-intake');
    const secret = canary('hook');
    const sm = new SecretsManagerClient({
      endpoint: moto.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const prefix = `bench-${randomBytes(3).toString('hex')}/`;
    await sm.send(
      new CreateSecretCommand({
        Name: `${prefix}datadog`,
        SecretString: JSON.stringify({
          apiKey: bareCanary(16),
          appKey: bareCanary(20),
          webhookSecret: secret,
        }),
      }),
    );
    await sm.send(
      new CreateSecretCommand({
        Name: `${prefix}audit`,
        SecretString: JSON.stringify({ chainKey: randomBytes(32).toString('base64') }),
      }),
    );
    sm.destroy();
    const handler = createIntakeHandler({
      env: { ...process.env, OPSBOT_STATE: `dynamodb:${table}`, OPSBOT_SECRET_PREFIX: prefix },
      logDestination: quiet(),
    });
    handlers.push(handler);
    let started = performance.now();
    const first = await handler.handle(event(secret));
    if (first.statusCode !== 202) throw new Error(`the first webhook got ${first.statusCode}: ${first.body}`);
    console.log(`intake.cold_start_first_webhook: ${(performance.now() - started).toFixed(1)} ms`);
    proxy.reset();
    const times: number[] = [];
    for (let i = 0; i < WEBHOOKS; i++) {
      started = performance.now();
      const answer = await handler.handle(event(secret));
      times.push(performance.now() - started);
      if (answer.statusCode !== 202) throw new Error(`webhook ${i} got ${answer.statusCode}: ${answer.body}`);
    }
    times.sort((a, b) => a - b);
    console.log(`intake.handler_latency_p50: ${percentile(times, 50).toFixed(1)} ms`);
    console.log(`intake.handler_latency_p99: ${percentile(times, 99).toFixed(1)} ms`);
    for (const [op, n] of Object.entries(proxy.counts()).sort())
      console.log(`intake.dynamodb_calls_per_webhook.${op}: ${(n / WEBHOOKS).toFixed(2)}`);

    // The bot idle on a table of its own, the intake reading the bot's secrets (one audit key).
    const botTable = await newStateTable(proxy.url, 'bench-intake-bot');
    const bot = await startSandboxBot({
      configYaml: ALERTS_CONFIG,
      pollSeconds: 60,
      logLevel: 'warn',
      extraEnv: { OPSBOT_STATE: `dynamodb:${botTable}` },
    });
    try {
      process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = bot.secretsManagerUrl;
      const toBot = createIntakeHandler({
        env: { ...process.env, OPSBOT_STATE: `dynamodb:${botTable}` },
        logDestination: quiet(),
      });
      handlers.push(toBot);
      const botSecret = (bot.provider.current('datadog').value.reveal() as { webhookSecret: string })
        .webhookSecret;
      const delays: number[] = [];
      for (let i = 0; i < IDLE_ALERTS; i++) {
        await new Promise((r) => setTimeout(r, IDLE_MS));
        const body = datadogWebhookBody({ name: `Idle ${i}` });
        const answer = await toBot.handle(event(botSecret, body));
        if (answer.statusCode !== 202) throw new Error(`idle alert ${i} got ${answer.statusCode}`);
        started = performance.now();
        const until = Date.now() + 120_000;
        while (!bot.slack.messages('C0ALERTS').some((m) => (m.text ?? '').includes(`Idle ${i}`))) {
          if (Date.now() > until) throw new Error(`idle alert ${i} never reached Slack`);
          await new Promise((r) => setTimeout(r, 20));
        }
        delays.push(performance.now() - started);
        console.log(`intake.idle_bot.accepted_to_slack.alert_${i}: ${delays[i]?.toFixed(0)} ms`);
      }
      const mean = delays.reduce((a, b) => a + b, 0) / Math.max(1, delays.length);
      console.log(`intake.idle_bot.accepted_to_slack.mean: ${mean.toFixed(0)} ms`);
    } finally {
      await bot.stop();
    }
  } finally {
    await Promise.all(handlers.map((h) => h.close()));
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
    await proxy.stop();
    await moto.stop();
  }
}
