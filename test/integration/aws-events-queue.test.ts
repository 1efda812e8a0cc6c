import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { createMetrics } from '../../src/metrics.js';
import { SAMPLE_POLICY, type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { AWS_EVENTS_KEY_HEADER, AWS_EVENTS_PATH } from '../../src/security/aws-events/endpoint.js';
import { EventsQueueConsumer, POISON_RULE } from '../../src/security/aws-events/queue-consumer.js';
import { parseSqsQueueUrl } from '../../src/security/config.js';
import type { State } from '../../src/store/state.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { eventually } from '../helpers/eventually.js';
import { captureLogs } from '../helpers/log-capture.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';
import { REPO_ROOT } from '../helpers/source-tree.js';

const TASK_ROLE = 'arn:aws:iam::111122223333:role/opsbot-task';
const CONFIG = SAMPLE_POLICY.replace(
  'security:\n  channel: C0SECURITY\n',
  `security:\n  channel: C0SECURITY\n  expectedPrincipals: ["${TASK_ROLE}"]\n`,
);
const REGION = 'us-east-1';
/** moto takes any key; these are made at run time, like every secret in the tests. */
const CREDENTIALS = { accessKeyId: `AKIA${randomUUID().slice(0, 12)}`, secretAccessKey: canary('sqs') };

/** A CloudTrail fixture as a fresh event: its own EventBridge id (the dedupe key) and CloudTrail eventID. */
function freshEvent(name: string): { body: string; eventId: string } {
  const event = JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/cloudtrail', name), 'utf8')) as {
    id: string;
    detail: { eventID: string };
  };
  event.id = randomUUID();
  event.detail.eventID = randomUUID();
  return { body: JSON.stringify(event), eventId: event.detail.eventID };
}

/** The State the bot runs on, whose next `failures.appends` audit appends fail as an unreachable store would. */
function withFailingAppends(state: State, failures: { appends: number }): State {
  const audit = Object.assign(Object.create(Object.getPrototypeOf(state.audit)), state.audit, {
    append: (event: Parameters<State['audit']['append']>[0]) => {
      if (failures.appends > 0 && event.action === 'security:secret_access') {
        failures.appends -= 1;
        return Promise.reject(new Error('the state store is unavailable'));
      }
      return state.audit.append(event);
    },
  }) as State['audit'];
  return Object.assign(Object.create(Object.getPrototypeOf(state)), state, { audit }) as State;
}

/**
 * The events queue against moto's SQS, as production wires it: the sandbox bot with
 * `OPSBOT_EVENTS_QUEUE_URL` set runs the security feature's consumer next to
 * `POST /webhooks/aws-events`, both taking bodies through one store. The queue has moto's redrive
 * to a dead-letter queue after 2 receives and a 1-second visibility timeout.
 */
describe('the events queue on moto', () => {
  let moto: Moto | undefined;
  let sqs: SQSClient;
  let bot: SandboxBot;
  let queueUrl: string;
  let deadLetterUrl: string;
  let apiKey: string;
  const failures = { appends: 0 };

  beforeAll(async () => {
    moto = await startMoto();
    if (!moto) {
      warnMotoMissing('aws-events-queue');
      return;
    }
    sqs = new SQSClient({ region: REGION, endpoint: moto.url, credentials: CREDENTIALS });
    deadLetterUrl =
      (await sqs.send(new CreateQueueCommand({ QueueName: 'opsbot-events-dlq' }))).QueueUrl ?? '';
    const dlqArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deadLetterUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes?.QueueArn;
    queueUrl =
      (
        await sqs.send(
          new CreateQueueCommand({
            QueueName: 'opsbot-events',
            Attributes: {
              VisibilityTimeout: '1',
              RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }),
            },
          }),
        )
      ).QueueUrl ?? '';
    expect(parseSqsQueueUrl(queueUrl)).toMatchObject({ ok: true });
    bot = await startSandboxBot({
      configYaml: CONFIG,
      security: {
        eventsQueue: {
          client: { endpoint: moto.url, credentials: CREDENTIALS },
          backoff: { baseMs: 100, capMs: 500 },
          retryVisibility: { baseMs: 1_000, capMs: 1_000 },
        },
      },
      extraEnv: { OPSBOT_EVENTS_QUEUE_URL: queueUrl },
      wrapState: (state) => withFailingAppends(state, failures),
    });
    await eventually(() => bot.provider.isLoaded('events'), 'the events secret to load');
    apiKey = (JSON.parse(bot.secretsManager.valueOf('opsbot/events') ?? '{}') as { apiKey: string }).apiKey;
  }, 60_000);

  afterAll(async () => {
    await bot?.stop();
    sqs?.destroy();
    await moto?.stop();
  });

  const send = (body: string) => sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  const recordsOf = async (eventId: string) =>
    (await bot.state.audit.readAfter(0, 5_000)).filter(
      (r) => r.action === 'security:secret_access' && r.details.eventID === eventId,
    );
  /** Nothing on the queue, visible or in flight: every message was deleted (or dead-lettered). */
  const drained = async () => {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Attributes?.ApproximateNumberOfMessages === '0' &&
      Attributes?.ApproximateNumberOfMessagesNotVisible === '0'
    );
  };
  /** Whether `body` is in the dead-letter queue (looked at without hiding anything there). */
  const deadLettered = async (body: string) => {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 0,
      }),
    );
    return (out.Messages ?? []).some((m) => m.Body === body);
  };
  const metric = async (name: string, labels: Record<string, string>) => {
    const values = (await bot.metrics.getSingleMetric(name)?.get())?.values ?? [];
    const found = values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
    return found?.value ?? 0;
  };

  it('audits a CloudTrail event sent to the queue once, then deletes it', async (ctx) => {
    if (!moto) return ctx.skip();
    const duplicates = await metric('opsbot_aws_events_received_total', { outcome: 'duplicate' });
    const { body, eventId } = freshEvent('get-secret-value.json');
    await send(body);
    const [record] = await eventually(
      async () => (await recordsOf(eventId)).at(0) && recordsOf(eventId),
      'the record',
    );
    expect(record).toMatchObject({
      actor: 'arn:aws:sts::111122223333:assumed-role/opsbot-task/3f4d1c2b9a8e4d6f',
      details: { eventName: 'GetSecretValue', secret: 'opsbot/slack', expected: true, via: 'cloudtrail' },
    });
    await eventually(drained, 'the message to be deleted');
    // Past the visibility timeout: a message not deleted would be back, a duplicate, then dead-lettered.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await recordsOf(eventId)).toHaveLength(1);
    expect(await metric('opsbot_aws_events_received_total', { outcome: 'duplicate' })).toBe(duplicates);
    expect(await deadLettered(body)).toBe(false);
  });

  it('stores an event once, sent twice to the queue and once to POST /webhooks/aws-events, and reports it once', async (ctx) => {
    if (!moto) return ctx.skip();
    const { body, eventId } = freshEvent('put-secret-value.json');
    await send(body);
    await send(body);
    const posted = await fetch(`${bot.base}${AWS_EVENTS_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [AWS_EVENTS_KEY_HEADER]: apiKey },
      body,
    });
    expect(posted.status).toBe(202);
    await eventually(drained, 'both messages to be deleted');
    expect(await recordsOf(eventId)).toHaveLength(1);
    expect(await deadLettered(body)).toBe(false);
    const reports = await eventually(
      () => {
        const found = bot.slack.messages('C0SECURITY').filter((m) => String(m.text).includes('mallory'));
        return found.length > 0 && found;
      },
      'the secretAccess report',
      15_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(bot.slack.messages('C0SECURITY').filter((m) => String(m.text).includes('mallory'))).toHaveLength(
      reports.length,
    );
    expect(reports).toHaveLength(1);
  });

  it('leaves a message whose store failed on the queue, and stores it on a later receive', async (ctx) => {
    if (!moto) return ctx.skip();
    const before = await metric('opsbot_aws_events_queue_messages_total', { outcome: 'store_failed' });
    const { body, eventId } = freshEvent('get-secret-value.json');
    failures.appends = 1;
    await send(body);
    await eventually(
      async () =>
        (await metric('opsbot_aws_events_queue_messages_total', { outcome: 'store_failed' })) > before,
      'the failed store',
    );
    expect(await recordsOf(eventId)).toEqual([]);
    const records = await eventually(
      async () => ((await recordsOf(eventId)).length > 0 ? recordsOf(eventId) : undefined),
      'the record, on a later receive',
      15_000,
    );
    expect(records).toHaveLength(1);
    expect(failures.appends).toBe(0);
    await eventually(drained, 'the message to be deleted once stored');
    expect(bot.logLines.join('\n')).toMatch(
      /could not store a call on an opsbot secret from the events queue/,
    );
    // Never dead-lettered: it was received twice (maxReceiveCount 2) and deleted the second time.
    expect(await deadLettered(body)).toBe(false);
  });

  it("leaves a poison message for moto's redrive to the dead-letter queue, and reports it once", async (ctx) => {
    if (!moto) return ctx.skip();
    const poison = `not an event: ${canary('poison')}`;
    const { MessageId } = await send(poison);
    const dead = await eventually(
      async () => {
        const out = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: deadLetterUrl, WaitTimeSeconds: 1, VisibilityTimeout: 30 }),
        );
        return out.Messages?.find((m) => m.MessageId === MessageId);
      },
      'the poison message in the dead-letter queue',
      20_000,
    );
    expect(dead.Body).toBe(poison);
    expect(await metric('opsbot_aws_events_queue_poison_total', { reason: 'invalid_json' })).toBe(2);
    const reports = await eventually(
      () => {
        const found = bot.slack.messages('C0SECURITY').filter((m) => String(m.text).includes('events queue'));
        return found.length > 0 && found;
      },
      'the poison report',
      15_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(reports).toHaveLength(1);
    expect(
      bot.slack.messages('C0SECURITY').filter((m) => String(m.text).includes('events queue')),
    ).toHaveLength(1);
    const detected = (await bot.state.audit.readAfter(0, 5_000)).filter(
      (r) => r.action === 'security:detected' && r.details.rule === POISON_RULE,
    );
    expect(detected).toHaveLength(1);
    const lines = bot.logLines.filter((line) => line.includes('not an EventBridge event'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.join('\n')).toContain(String(MessageId));
  });

  it('stop() aborts a long poll at once', async (ctx) => {
    if (!moto) return ctx.skip();
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'opsbot-events-idle' }));
    const consumer = new EventsQueueConsumer({
      sqs: new SQSClient({ region: REGION, endpoint: moto.url, credentials: CREDENTIALS }),
      queueUrl: QueueUrl ?? '',
      calls: {
        take: async () => ({ kind: 'taken', status: 'ignored', stored: 0 }),
        settled: async () => true,
      },
      reporter: { report: async () => {} },
      clock: systemClock,
      random: Math.random,
      log: captureLogs().log,
      metrics: createMetrics({ defaultMetrics: false }),
    });
    await consumer.start();
    // Well into a 20-second ReceiveMessage on an empty queue.
    await new Promise((r) => setTimeout(r, 1_000));
    const started = Date.now();
    expect(await consumer.stop(Date.now() + 5_000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('leaks no canary into logs, audit records or Slack', async (ctx) => {
    if (!moto) return ctx.skip();
    assertNoCanary(
      {
        logs: bot.logLines.join('\n'),
        audit: await bot.state.audit.readAfter(0, 5_000),
        slack: bot.slack.calls,
      },
      [...bot.secrets(), apiKey, CREDENTIALS.secretAccessKey],
    );
  });
});
