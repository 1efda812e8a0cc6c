import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DatadogWebhookSender } from '../../src/sandbox/datadog-webhook-sender.js';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import { createStateTable } from '../../src/store/dynamodb-table.js';
import { bareCanary, canary } from './canary.js';
import { cleanEnv, freePort, startMain, waitFor, waitForStatus } from './process.js';

/**
 * Replicas of the built server sharing one DynamoDB table (moto, or a proxy in front of it) behind
 * one simulated Slack and one Datadog webhook secret: for the scale-out tests and `bench -- scale`.
 */

/** Two alert channels: payments alerts to one, the rest to the default. */
export const ALERT_CHANNELS = ['C0ALERTS', 'C0PAYMENTS'] as const;
export const ALERTS_CONFIG = `access:
  admins: [U0ADMIN]
alerts:
  defaultChannel: C0ALERTS
  routes:
    - match: { tags: ["team:payments"] }
      channel: C0PAYMENTS
`;

/** Fake credentials for the emulator (never real ones). */
export const EMULATOR_AWS_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
};

/** A DynamoDB client for the emulator at `endpoint`, with its fake credentials. */
export function emulatorClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: EMULATOR_AWS_ENV.AWS_REGION,
    credentials: {
      accessKeyId: EMULATOR_AWS_ENV.AWS_ACCESS_KEY_ID,
      secretAccessKey: EMULATOR_AWS_ENV.AWS_SECRET_ACCESS_KEY,
    },
  });
}

/** A fresh state table (as the CDK app creates it) at `endpoint`. */
export async function newStateTable(endpoint: string, prefix = 'opsbot'): Promise<string> {
  const table = `${prefix}-${randomBytes(4).toString('hex')}`;
  const client = emulatorClient(endpoint);
  try {
    await createStateTable(client, table);
  } finally {
    client.destroy();
  }
  return table;
}

export interface ReplicaWorkspace {
  slack: SimulatedSlack;
  secrets: {
    slack: { botToken: string; signingSecret: string };
    datadog: { apiKey: string; appKey: string; webhookSecret: string };
  };
}

/** A simulated Slack with the users and channels the replica tests use, posting limited as Slack does. */
export async function newReplicaWorkspace(channels: readonly string[]): Promise<ReplicaWorkspace> {
  const slack = new SimulatedSlack();
  await slack.start();
  const botToken = canary('xoxb');
  slack.addBotToken(botToken);
  slack.addUser({ id: 'U0ADMIN', name: 'ada' });
  slack.addUser({ id: 'U0DEV', name: 'dev' });
  for (const id of channels) slack.addChannel({ id, name: id.toLowerCase() });
  slack.limitPostsPerChannel({ perSecond: 1, burst: 3 });
  return {
    slack,
    secrets: {
      slack: { botToken, signingSecret: canary('sign') },
      datadog: { apiKey: bareCanary(16), appKey: bareCanary(20), webhookSecret: canary('hook') },
    },
  };
}

export interface Replica {
  child: ChildProcess;
  port: number;
  base: string;
  webhooks: DatadogWebhookSender;
  output: () => { stdout: string; stderr: string };
}

export interface ReplicaOptions {
  /** The built server's entry (`<out>/src/main.js`). */
  entry: string;
  /** A directory holding `opsbot.yaml`. */
  dir: string;
  /** Where the replicas reach DynamoDB. */
  dynamodbUrl: string;
  table: string;
  extraEnv?: Record<string, string>;
}

/** Starts one replica and waits until /readyz answers 200 (throws with its stderr otherwise). */
export async function startReplica(ws: ReplicaWorkspace, o: ReplicaOptions): Promise<Replica> {
  const port = await freePort();
  const started = startMain(
    cleanEnv({
      ...EMULATOR_AWS_ENV,
      AWS_ENDPOINT_URL_DYNAMODB: o.dynamodbUrl,
      OPSBOT_SECRET_SOURCE: 'env',
      OPSBOT_SECRET_SLACK: JSON.stringify(ws.secrets.slack),
      OPSBOT_SECRET_DATADOG: JSON.stringify(ws.secrets.datadog),
      OPSBOT_SLACK_API_URL: ws.slack.apiUrl,
      // Nothing listens here: alert delivery must not need the Datadog API.
      OPSBOT_DATADOG_API_URL: 'http://127.0.0.1:9/',
      OPSBOT_CONFIG: join(o.dir, 'opsbot.yaml'),
      OPSBOT_STATE: `dynamodb:${o.table}`,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...o.extraEnv,
    }),
    { entry: o.entry, cwd: o.dir },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/healthz`, 20_000).catch((error: Error) => {
    started.child.kill('SIGKILL');
    throw new Error(
      `replica did not start: ${error.message}; stderr: ${started.output().stderr.slice(-2_000)}`,
    );
  });
  const ready = await waitForStatus(`${base}/readyz`, 200, 30_000);
  if (ready.status !== 200) {
    started.child.kill('SIGKILL');
    throw new Error(`replica not ready (${ready.status}); stderr: ${started.output().stderr.slice(-2_000)}`);
  }
  return {
    ...started,
    port,
    base,
    webhooks: new DatadogWebhookSender({
      url: `${base}/webhooks/datadog`,
      secret: ws.secrets.datadog.webhookSecret,
    }),
  };
}

/** A slash command delivered to one replica (Slack's request URL pointed at it); the first answer's text. */
export async function commandOn(
  ws: ReplicaWorkspace,
  replica: Replica,
  userId: string,
  text: string,
  channelId = 'C0DEV',
): Promise<{ text: string; ackMs: number }> {
  ws.slack.configureApp({
    requestUrl: `${replica.base}/slack/events`,
    signingSecret: ws.secrets.slack.signingSecret,
  });
  const [name = '', ...rest] = text.split(' ');
  const delivery = await ws.slack.sendSlashCommand({
    command: name,
    text: rest.join(' '),
    userId,
    channelId,
  });
  if (delivery.status !== 200)
    throw new Error(`${text}: HTTP ${delivery.status} ${delivery.body.slice(0, 200)}`);
  const [answer] = await ws.slack.waitForResponse(delivery.responseUrl, { timeoutMs: 15_000 });
  return { text: answer?.text ?? '', ackMs: delivery.ackMs };
}
