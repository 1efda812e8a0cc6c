import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  type ReceiveMessageCommandInput,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedSqs } from '../../src/sandbox/sqs.js';
import { parseSqsQueueUrl } from '../../src/security/config.js';
import { startMoto, warnMotoMissing } from '../helpers/moto.js';

/**
 * The simulated SQS (src/sandbox/sqs.ts) held to moto, an independent SQS: the same scenarios
 * through the real `@aws-sdk/client-sqs` (JSON protocol) against both, comparing what the events
 * queue's consumer relies on: bodies and their MD5, receive counts, visibility, long polls, the
 * redrive to a dead-letter queue, and the errors' names. What moto does not do (bounds, signatures)
 * is tested on the sandbox alone, below.
 */

const REGION = 'us-east-1';
/** moto and the sandbox take any key; made at run time all the same. */
const CREDENTIALS = {
  accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
  secretAccessKey: randomBytes(30).toString('base64'),
};

const sandbox = new SimulatedSqs();
const sandboxUrl = (await sandbox.start()).url;
const moto = await startMoto();
if (!moto) warnMotoMissing('sandbox-sqs');
afterAll(async () => {
  await sandbox.stop();
  await moto?.stop();
});

const targets = [
  { target: 'sandbox' as const, url: sandboxUrl, skip: false },
  { target: 'moto' as const, url: moto?.url ?? '', skip: !moto },
];

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
const unique = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  const e = (await p.then(
    () => undefined,
    (error: unknown) => error,
  )) as (Error & { $metadata?: { httpStatusCode?: number } }) | undefined;
  if (!e) throw new Error('expected the call to fail');
  return { name: e.name, status: e.$metadata?.httpStatusCode };
}

/** A body as compared and printed: a long one by its length and digest. */
const shown = (body: string | undefined) =>
  body !== undefined && body.length > 80 ? `${body.length} bytes, md5 ${md5(body)}` : body;
/** What a test compares of a received message (ids and handles differ between the two). */
const seen = (m: Message) => ({
  body: shown(m.Body),
  md5: m.MD5OfBody,
  count: m.Attributes?.ApproximateReceiveCount,
});

describe.each(targets)('SQS over the JSON protocol: $target', ({ target, url, skip }) => {
  let sqs: SQSClient;
  let dlqUrl = '';
  let dlqArn = '';

  async function queue(name: string, attributes: Record<string, string> = {}): Promise<string> {
    return (
      (await sqs.send(new CreateQueueCommand({ QueueName: unique(name), Attributes: attributes })))
        .QueueUrl ?? ''
    );
  }
  async function receive(
    queueUrl: string,
    input: Partial<ReceiveMessageCommandInput> = {},
  ): Promise<Message[]> {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        ...input,
      }),
    );
    return out.Messages ?? [];
  }
  const send = (queueUrl: string, body: string) =>
    sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));

  beforeAll(async () => {
    if (skip) return;
    sqs = new SQSClient({ region: REGION, endpoint: url, credentials: CREDENTIALS, maxAttempts: 1 });
    dlqUrl = await queue('opsbot-events-dlq');
    dlqArn =
      (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] })))
        .Attributes?.QueueArn ?? '';
  });
  afterAll(() => sqs?.destroy());

  it.skipIf(skip)(
    'creates queues with the URL and ARN the bot accepts; the same request again is the same queue',
    async () => {
      const name = unique('opsbot-events');
      const attributes = {
        VisibilityTimeout: '1',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }),
      };
      const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      expect(created.QueueUrl).toBe(`${url}/123456789012/${name}`);
      expect(parseSqsQueueUrl(created.QueueUrl ?? '')).toMatchObject({ ok: true });
      const again = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      expect(again.QueueUrl).toBe(created.QueueUrl);
      expect((await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl).toBe(created.QueueUrl);

      const read = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: created.QueueUrl,
          AttributeNames: ['QueueArn', 'VisibilityTimeout', 'RedrivePolicy'],
        }),
      );
      expect(Object.keys(read.Attributes ?? {}).sort()).toEqual([
        'QueueArn',
        'RedrivePolicy',
        'VisibilityTimeout',
      ]);
      expect(read.Attributes?.QueueArn).toBe(`arn:aws:sqs:${REGION}:123456789012:${name}`);
      expect(read.Attributes?.VisibilityTimeout).toBe('1');
      expect(JSON.parse(read.Attributes?.RedrivePolicy ?? '{}')).toEqual({
        deadLetterTargetArn: dlqArn,
        maxReceiveCount: 2,
      });
      // What the consumer checks at start: a queue without a redrive policy says so by its absence.
      const dlq = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['RedrivePolicy'] }),
      );
      expect(dlq.Attributes?.RedrivePolicy).toBeUndefined();
      const none = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl }));
      expect(none.Attributes).toBeUndefined();
      const all = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['All'] }),
      );
      expect(all.Attributes).toMatchObject({
        ApproximateNumberOfMessages: '0',
        ApproximateNumberOfMessagesNotVisible: '0',
        VisibilityTimeout: '30',
        QueueArn: dlqArn,
        MaximumMessageSize: '1048576',
      });
    },
  );

  it.skipIf(skip)(
    'sends and receives: bodies and MD5s, counts, hidden while in flight, counted in the attributes',
    async () => {
      const q = await queue('receive', { VisibilityTimeout: '30' });
      const bodies = ['{"detail-type":"AWS API Call via CloudTrail"}', 'é ünïcode ✓', 'x'.repeat(300_000)];
      for (const body of bodies) {
        const sent = await send(q, body);
        expect(sent.MD5OfMessageBody).toBe(md5(body));
        expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
      }
      const first = await receive(q);
      const byBody = (a: { body?: string }, b: { body?: string }) =>
        String(a.body).localeCompare(String(b.body));
      expect(first.map(seen).sort(byBody)).toEqual(
        bodies.map((body) => ({ body: shown(body), md5: md5(body), count: '1' })).sort(byBody),
      );
      expect(new Set(first.map((m) => m.ReceiptHandle)).size).toBe(3);
      expect(await receive(q)).toEqual([]);
      const counts = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: q,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      expect(counts.Attributes).toEqual({
        ApproximateNumberOfMessages: '0',
        ApproximateNumberOfMessagesNotVisible: '3',
      });

      // MaxNumberOfMessages bounds a receive; without attribute names a message carries none.
      const few = await queue('few');
      for (let i = 0; i < 4; i++) await send(few, `m${i}`);
      const one = await sqs.send(new ReceiveMessageCommand({ QueueUrl: few }));
      expect(one.Messages).toHaveLength(1);
      expect(one.Messages?.[0]?.Attributes).toBeUndefined();
      expect((await receive(few, { MaxNumberOfMessages: 2 })).length).toBeLessThanOrEqual(2);
    },
  );

  it.skipIf(skip)(
    'deletes by receipt handle; a visibility change brings a message back with its count',
    async () => {
      const q = await queue('visibility', { VisibilityTimeout: '30' });
      await send(q, 'keep');
      await send(q, 'delete');
      const got = await receive(q);
      const byBody = (body: string) => got.find((m) => m.Body === body)?.ReceiptHandle ?? '';
      await sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: byBody('delete') }));
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: q,
          ReceiptHandle: byBody('keep'),
          VisibilityTimeout: 0,
        }),
      );
      const back = await receive(q);
      expect(back.map(seen)).toEqual([{ body: 'keep', md5: md5('keep'), count: '2' }]);
      // The consumer's retry: invisible for a while (here 1 s), then received again.
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: q,
          ReceiptHandle: back[0]?.ReceiptHandle,
          VisibilityTimeout: 1,
        }),
      );
      expect(await receive(q)).toEqual([]);
      await new Promise((r) => setTimeout(r, 1_300));
      expect((await receive(q)).map(seen)).toEqual([{ body: 'keep', md5: md5('keep'), count: '3' }]);

      // The queue's VisibilityTimeout, or the receive's own.
      const short = await queue('short', { VisibilityTimeout: '1' });
      await send(short, 'again');
      expect((await receive(short)).map(seen)).toEqual([{ body: 'again', md5: md5('again'), count: '1' }]);
      expect(await receive(short)).toEqual([]);
      await new Promise((r) => setTimeout(r, 1_300));
      expect(
        (await receive(short, { VisibilityTimeout: 0 })).map((m) => m.Attributes?.ApproximateReceiveCount),
      ).toEqual(['2']);
      expect((await receive(short)).map((m) => m.Attributes?.ApproximateReceiveCount)).toEqual(['3']);
    },
  );

  it.skipIf(skip)(
    'moves a message received maxReceiveCount times to the dead-letter queue at the next receive',
    async () => {
      const dlq = await queue('redrive-dlq');
      const arn =
        (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] })))
          .Attributes?.QueueArn ?? '';
      const q = await queue('redrive', {
        VisibilityTimeout: '30',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: 2 }),
      });
      await send(q, 'not an event');
      await send(q, 'an event');
      for (const count of ['1', '2']) {
        const got = await receive(q);
        expect(got.map((m) => m.Attributes?.ApproximateReceiveCount)).toEqual([count, count]);
        // The consumer deletes what it took and leaves the poison message; here it comes back at once.
        const event = got.find((m) => m.Body === 'an event');
        const poison = got.find((m) => m.Body === 'not an event');
        if (count === '2')
          await sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: event?.ReceiptHandle }));
        else
          await sqs.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: q,
              ReceiptHandle: event?.ReceiptHandle,
              VisibilityTimeout: 0,
            }),
          );
        await sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: q,
            ReceiptHandle: poison?.ReceiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
      expect(await receive(q)).toEqual([]);
      const dead = await receive(dlq, { MessageSystemAttributeNames: ['All'] });
      expect(dead.map((m) => ({ body: m.Body, md5: m.MD5OfBody }))).toEqual([
        { body: 'not an event', md5: md5('not an event') },
      ]);
      expect(Number(dead[0]?.Attributes?.ApproximateReceiveCount)).toBeGreaterThanOrEqual(1);
      expect(Number(dead[0]?.Attributes?.SentTimestamp)).toBeGreaterThan(Date.now() - 60_000);
    },
  );

  it.skipIf(skip)(
    'long-polls: a send wakes a waiting receive; an empty one answers after WaitTimeSeconds',
    async () => {
      const q = await queue('long-poll');
      const started = Date.now();
      const waiting = receive(q, { WaitTimeSeconds: 5 });
      await new Promise((r) => setTimeout(r, 400));
      await send(q, 'woken');
      const got = await waiting;
      expect(got.map((m) => m.Body)).toEqual(['woken']);
      expect(Date.now() - started).toBeLessThan(4_000);

      const empty = Date.now();
      expect(await receive(q, { WaitTimeSeconds: 1 })).toEqual([]);
      expect(Date.now() - empty).toBeGreaterThanOrEqual(900);
    },
  );

  it.skipIf(skip)('refuses in SQS’s own error names', async () => {
    const missing = `${url}/123456789012/${unique('missing')}`;
    expect(await failure(sqs.send(new GetQueueUrlCommand({ QueueName: unique('missing') })))).toEqual({
      name: 'QueueDoesNotExist',
      status: 400,
    });
    for (const call of [
      () => sqs.send(new SendMessageCommand({ QueueUrl: missing, MessageBody: 'x' })),
      () => sqs.send(new ReceiveMessageCommand({ QueueUrl: missing })),
      () => sqs.send(new GetQueueAttributesCommand({ QueueUrl: missing, AttributeNames: ['All'] })),
    ])
      expect(await failure(call())).toEqual({ name: 'QueueDoesNotExist', status: 400 });
    const q = await queue('errors');
    const bogus = randomBytes(32).toString('base64url');
    expect(await failure(sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: bogus })))).toEqual({
      name: 'ReceiptHandleIsInvalid',
      status: 400,
    });
    expect(
      await failure(
        sqs.send(
          new ChangeMessageVisibilityCommand({ QueueUrl: q, ReceiptHandle: bogus, VisibilityTimeout: 5 }),
        ),
      ),
    ).toEqual({ name: 'ReceiptHandleIsInvalid', status: 400 });
    await send(q, 'in flight');
    const [held] = await receive(q);
    expect(
      await failure(
        sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: q,
            ReceiptHandle: held?.ReceiptHandle,
            VisibilityTimeout: 43_201,
          }),
        ),
      ),
    ).toEqual({ name: 'InvalidParameterValue', status: 400 });
    for (const input of [{ MaxNumberOfMessages: 11 }, { MaxNumberOfMessages: 0 }, { WaitTimeSeconds: 21 }])
      expect(await failure(receive(q, input))).toEqual({ name: 'InvalidParameterValue', status: 400 });
    expect(await failure(send(q, 'x'.repeat(1_048_577)))).toEqual({
      name: 'InvalidParameterValue',
      status: 400,
    });
    expect(await failure(sqs.send(new CreateQueueCommand({ QueueName: 'not a name!' })))).toEqual({
      name: 'InvalidParameterValue',
      status: 400,
    });
    const name = unique('exists');
    await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '1' } }));
    expect(
      await failure(
        sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '5' } })),
      ),
    ).toEqual({ name: 'QueueNameExists', status: 400 });
    if (target === 'sandbox') expect(sandbox.calls.ReceiveMessage).toBeGreaterThan(0);
  });
});

describe('the simulated SQS alone', () => {
  it('wants a SigV4 signature, bounds the request body, and names an unknown operation', async () => {
    const post = (target: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${sandboxUrl}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target, ...headers },
        body,
      });
    const unsigned = await post('AmazonSQS.GetQueueUrl', '{"QueueName":"x"}');
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toMatchObject({ __type: 'com.amazonaws.sqs#MissingAuthenticationToken' });
    const signed = { authorization: 'AWS4-HMAC-SHA256 Credential=sandbox' };
    const big = await post('AmazonSQS.SendMessage', 'x'.repeat(3 * 1_048_576 + 1), signed);
    expect(big.status).toBe(413);
    await big.arrayBuffer();
    const unknown = await post('AmazonSQS.PurgeQueue', '{}', signed);
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('x-amzn-query-error')).toBe('InvalidAction;Sender');
    const missing = await post(
      'AmazonSQS.SendMessage',
      '{"QueueUrl":"http://127.0.0.1/123456789012/q"}',
      signed,
    );
    expect(await missing.json()).toMatchObject({ __type: 'com.amazonaws.sqs#MissingParameter' });
  });

  it('lets a message through only once its visibility passes on the given clock; :time moves it', async () => {
    let offset = 0;
    const sim = new SimulatedSqs({ now: () => Date.now() + offset });
    await sim.start();
    try {
      const sqs = new SQSClient({
        region: REGION,
        endpoint: sim.url,
        credentials: CREDENTIALS,
        maxAttempts: 1,
      });
      const q = sim.createQueue('clocked', { VisibilityTimeout: '600' });
      await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'later' }));
      await sqs.send(new ReceiveMessageCommand({ QueueUrl: q }));
      expect(sim.messages(q)).toEqual([
        expect.objectContaining({ body: 'later', receiveCount: 1, visible: false }),
      ]);
      offset = 601_000;
      const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q, WaitTimeSeconds: 1 }));
      expect(again.Messages?.map((m) => m.Body)).toEqual(['later']);
      sqs.destroy();
    } finally {
      await sim.stop();
    }
  });

  it('ends a long poll when it stops', async () => {
    const sim = new SimulatedSqs();
    await sim.start();
    const sqs = new SQSClient({
      region: REGION,
      endpoint: sim.url,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    const q = sim.createQueue('stopping');
    const started = Date.now();
    const waiting = sqs
      .send(new ReceiveMessageCommand({ QueueUrl: q, WaitTimeSeconds: 20 }))
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    await sim.stop();
    await waiting;
    expect(Date.now() - started).toBeLessThan(5_000);
    sqs.destroy();
  });
});
