import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { type LoopbackServer, startLoopbackServer } from './loopback-server.js';

/** The operations the simulated SQS answers (what the events queue's consumer and its tests send). */
export const SQS_OPERATIONS = [
  'CreateQueue',
  'GetQueueUrl',
  'GetQueueAttributes',
  'SendMessage',
  'ReceiveMessage',
  'DeleteMessage',
  'ChangeMessageVisibility',
] as const;
export type SqsOperation = (typeof SQS_OPERATIONS)[number];

/** SQS's own limits, as its API reference states them. */
const LIMITS = {
  /** The largest message body (1 MiB). */
  messageBytes: 1_048_576,
  maxMessages: 10,
  maxWaitSeconds: 20,
  maxVisibilitySeconds: 43_200,
  maxDelaySeconds: 900,
  maxReceiveCount: 1_000,
} as const;

/** The sandbox's own bounds, so that a runaway test cannot grow it without end. */
const BOUNDS = {
  /** A request body: the largest message JSON-escaped, and then some. */
  requestBytes: 3 * 1_048_576,
  queues: 100,
  messagesPerQueue: 10_000,
  /** Long polls waiting at once; more are answered at once (empty), as a short poll. */
  waiters: 100,
  /** A long poll looks again at least this often (a clock moved forward makes messages visible). */
  recheckMs: 250,
} as const;

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const JSON_TYPE = 'application/x-amz-json-1.0';

/** The system attributes a received message can carry (`MessageSystemAttributeNames`). */
const MESSAGE_ATTRIBUTES = [
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
] as const;
type MessageAttribute = (typeof MESSAGE_ATTRIBUTES)[number];

/** The queue attributes a queue reports (`GetQueueAttributes`), and those `CreateQueue` may set. */
const QUEUE_ATTRIBUTES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesDelayed',
  'ApproximateNumberOfMessagesNotVisible',
  'CreatedTimestamp',
  'DelaySeconds',
  'LastModifiedTimestamp',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'QueueArn',
  'ReceiveMessageWaitTimeSeconds',
  'RedrivePolicy',
  'VisibilityTimeout',
  'SqsManagedSseEnabled',
] as const;
const SETTABLE = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'RedrivePolicy',
  'VisibilityTimeout',
  'SqsManagedSseEnabled',
] as const;
type Settable = (typeof SETTABLE)[number];

/** An SQS error as the JSON protocol carries it: its `__type`, and the query-compatible code. */
export class SqsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    /** `x-amzn-query-error`'s code (the older query protocol's name), when it differs from `type`. */
    readonly queryCode: string = type,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

const invalid = (message: string) => new SqsError('InvalidParameterValue', message);
const noQueue = () =>
  new SqsError(
    'QueueDoesNotExist',
    'The specified queue does not exist.',
    'AWS.SimpleQueueService.NonExistentQueue',
  );
const badHandle = () => new SqsError('ReceiptHandleIsInvalid', 'The input receipt handle is invalid.');

interface StoredMessage {
  id: string;
  body: string;
  md5: string;
  sentAt: number;
  receiveCount: number;
  firstReceiveAt?: number;
  /** Epoch ms from which a receive may take it (delay, then visibility timeout). */
  visibleAt: number;
  /** Received at least once and not visible: in flight. */
  inFlight: boolean;
}

interface Queue {
  name: string;
  url: string;
  arn: string;
  attributes: Record<Settable, string | undefined>;
  createdAt: number;
  /** In the order sent: a receive takes the oldest visible ones first. */
  messages: Map<string, StoredMessage>;
  /** Receipt handle → message id. Cleared of a message's handles when it leaves the queue. */
  handles: Map<string, string>;
}

/** What a test sees of a message on a queue (never a receipt handle). */
export interface QueuedMessage {
  id: string;
  body: string;
  receiveCount: number;
  visible: boolean;
}

const DEFAULTS: Record<Settable, string | undefined> = {
  DelaySeconds: '0',
  MaximumMessageSize: String(LIMITS.messageBytes),
  MessageRetentionPeriod: '345600',
  ReceiveMessageWaitTimeSeconds: '0',
  RedrivePolicy: undefined,
  VisibilityTimeout: '30',
  SqsManagedSseEnabled: 'true',
};

const attributeMap = z.record(z.string().max(256), z.string().max(10_240)).optional();
const queueUrl = z.string().min(1).max(2_048);
const receiptHandle = z.string().min(1).max(1_024);
const INPUTS = {
  CreateQueue: z.object({ QueueName: z.string().max(256), Attributes: attributeMap }),
  GetQueueUrl: z.object({ QueueName: z.string().max(256) }),
  GetQueueAttributes: z.object({
    QueueUrl: queueUrl,
    AttributeNames: z.array(z.string().max(64)).max(50).optional(),
  }),
  SendMessage: z.object({
    QueueUrl: queueUrl,
    MessageBody: z.string(),
    DelaySeconds: z.number().int().optional(),
  }),
  ReceiveMessage: z.object({
    QueueUrl: queueUrl,
    MaxNumberOfMessages: z.number().int().optional(),
    WaitTimeSeconds: z.number().int().optional(),
    VisibilityTimeout: z.number().int().optional(),
    AttributeNames: z.array(z.string().max(64)).max(50).optional(),
    MessageSystemAttributeNames: z.array(z.string().max(64)).max(50).optional(),
  }),
  DeleteMessage: z.object({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }),
  ChangeMessageVisibility: z.object({
    QueueUrl: queueUrl,
    ReceiptHandle: receiptHandle,
    VisibilityTimeout: z.number().int(),
  }),
} satisfies Record<SqsOperation, z.ZodType>;

/**
 * A simulated Amazon SQS on 127.0.0.1 (standard queues), speaking the JSON protocol as
 * `@aws-sdk/client-sqs` sends it (`X-Amz-Target: AmazonSQS.<Operation>`,
 * `application/x-amz-json-1.0`), for what opsbot's events queue uses: CreateQueue, GetQueueUrl,
 * GetQueueAttributes, SendMessage, ReceiveMessage (long polls, at most 10, a visibility timeout,
 * `ApproximateReceiveCount`, `MD5OfBody`), DeleteMessage and ChangeMessageVisibility, with a redrive
 * policy that moves a message received `maxReceiveCount` times to its dead-letter queue at the
 * next receive. Errors come in SQS's JSON shape (`__type`, `message`, `x-amzn-query-error`).
 * SigV4 signatures must be present, not checked. Times are on `now` (the sandbox clock), so
 * `:time` makes invisible messages visible. test/integration/sandbox-sqs.test.ts holds it to moto.
 */
export class SimulatedSqs {
  /** Calls received, by operation. */
  readonly calls: Partial<Record<SqsOperation, number>> = {};
  readonly #now: () => number;
  readonly #queues = new Map<string, Queue>();
  /** Long polls waiting for a message: woken by a send or a visibility change. */
  readonly #waiters = new Set<() => void>();
  readonly #closing = new AbortController();
  #server: LoopbackServer | undefined;
  #url = '';

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** http://127.0.0.1:PORT, once started. */
  get url(): string {
    return this.#url;
  }

  async start(): Promise<{ url: string }> {
    this.#server = await startLoopbackServer((req, res) => void this.#handle(req, res));
    this.#url = this.#server.url;
    return { url: this.#url };
  }

  /** Ends every long poll, then the listener. */
  async stop(): Promise<void> {
    this.#closing.abort();
    this.#wake();
    await this.#server?.stop();
  }

  /**
   * Creates a queue as CreateQueue does (the same attributes again: the same queue) and returns its
   * URL, `http://127.0.0.1:PORT/123456789012/<name>`.
   */
  createQueue(name: string, attributes: Record<string, string> = {}): string {
    if (!QUEUE_NAME.test(name))
      throw invalid('Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length');
    const settings = this.#settings(attributes);
    const existing = this.#queues.get(name);
    if (existing) {
      const same = SETTABLE.every((k) => (existing.attributes[k] ?? '') === (settings[k] ?? ''));
      if (!same)
        throw new SqsError('QueueNameExists', 'The specified queue already exists.', 'QueueAlreadyExists');
      return existing.url;
    }
    if (this.#queues.size >= BOUNDS.queues)
      throw new SqsError('OverLimit', `At most ${BOUNDS.queues} queues.`);
    const queue: Queue = {
      name,
      url: `${this.#url}/${ACCOUNT}/${name}`,
      arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`,
      attributes: settings,
      createdAt: this.#now(),
      messages: new Map(),
      handles: new Map(),
    };
    this.#queues.set(name, queue);
    return queue.url;
  }

  /** The queue's ARN (what a redrive policy names), by its URL. */
  arnOf(url: string): string {
    return this.#queue(url).arn;
  }

  /** The queue's messages as they stand (tests look at the dead-letter queue). */
  messages(url: string): QueuedMessage[] {
    const queue = this.#queue(url);
    const now = this.#now();
    return [...queue.messages.values()].map((m) => ({
      id: m.id,
      body: m.body,
      receiveCount: m.receiveCount,
      visible: m.visibleAt <= now,
    }));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = SQS_OPERATIONS.find((op) => target === `AmazonSQS.${op}`);
    try {
      if (req.method !== 'POST' || !operation)
        throw new SqsError(
          'UnknownOperationException',
          `Unknown operation ${target.slice(0, 80)}`,
          'InvalidAction',
        );
      if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256'))
        throw new SqsError(
          'MissingAuthenticationToken',
          'Request is missing Authentication Token',
          undefined,
          403,
        );
      this.calls[operation] = (this.calls[operation] ?? 0) + 1;
      const input = await readJson(req);
      const output = await this.#operate(operation, input, res);
      send(res, 200, output);
    } catch (error) {
      const e =
        error instanceof SqsError
          ? error
          : new SqsError(
              'InternalError',
              'We encountered an internal error. Please try again.',
              undefined,
              500,
            );
      send(res, e.status, { __type: `com.amazonaws.sqs#${e.type}`, message: e.message }, e);
    }
  }

  async #operate(operation: SqsOperation, raw: unknown, res: ServerResponse): Promise<object> {
    switch (operation) {
      case 'CreateQueue': {
        const input = parse(INPUTS.CreateQueue, raw);
        return { QueueUrl: this.createQueue(input.QueueName, input.Attributes ?? {}) };
      }
      case 'GetQueueUrl': {
        const queue = this.#queues.get(parse(INPUTS.GetQueueUrl, raw).QueueName);
        if (!queue) throw noQueue();
        return { QueueUrl: queue.url };
      }
      case 'GetQueueAttributes': {
        const input = parse(INPUTS.GetQueueAttributes, raw);
        const attributes = this.#queueAttributes(this.#queue(input.QueueUrl), input.AttributeNames ?? []);
        return Object.keys(attributes).length > 0 ? { Attributes: attributes } : {};
      }
      case 'SendMessage':
        return this.#send(parse(INPUTS.SendMessage, raw));
      case 'ReceiveMessage':
        return this.#receive(parse(INPUTS.ReceiveMessage, raw), res);
      case 'DeleteMessage': {
        const input = parse(INPUTS.DeleteMessage, raw);
        const queue = this.#queue(input.QueueUrl);
        const id = queue.handles.get(input.ReceiptHandle);
        if (id === undefined) throw badHandle();
        this.#remove(queue, id);
        return {};
      }
      case 'ChangeMessageVisibility': {
        const input = parse(INPUTS.ChangeMessageVisibility, raw);
        const queue = this.#queue(input.QueueUrl);
        const seconds = input.VisibilityTimeout;
        if (seconds < 0 || seconds > LIMITS.maxVisibilitySeconds)
          throw invalid(`Invalid request, maximum visibility timeout is ${LIMITS.maxVisibilitySeconds}`);
        const id = queue.handles.get(input.ReceiptHandle);
        const message = id === undefined ? undefined : queue.messages.get(id);
        if (!message) throw badHandle();
        message.visibleAt = this.#now() + seconds * 1_000;
        if (seconds === 0) this.#wake();
        return {};
      }
    }
  }

  #send(input: z.output<(typeof INPUTS)['SendMessage']>): object {
    const queue = this.#queue(input.QueueUrl);
    const bytes = Buffer.byteLength(input.MessageBody, 'utf8');
    const max = Number(queue.attributes.MaximumMessageSize);
    if (bytes > max)
      throw invalid(`One or more parameters are invalid. Reason: Message must be shorter than ${max} bytes.`);
    const delay = input.DelaySeconds ?? Number(queue.attributes.DelaySeconds);
    if (delay < 0 || delay > LIMITS.maxDelaySeconds)
      throw invalid(
        `Value ${delay} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.`,
      );
    if (queue.messages.size >= BOUNDS.messagesPerQueue)
      throw new SqsError(
        'OverLimit',
        `The sandbox keeps at most ${BOUNDS.messagesPerQueue} messages a queue.`,
      );
    const now = this.#now();
    const message: StoredMessage = {
      id: randomUUID(),
      body: input.MessageBody,
      md5: md5(input.MessageBody),
      sentAt: now,
      receiveCount: 0,
      visibleAt: now + delay * 1_000,
      inFlight: false,
    };
    queue.messages.set(message.id, message);
    this.#wake();
    return { MD5OfMessageBody: message.md5, MessageId: message.id };
  }

  /** Takes what is visible now; else waits (a long poll) for a send, a visibility change or the deadline. */
  async #receive(input: z.output<(typeof INPUTS)['ReceiveMessage']>, res: ServerResponse): Promise<object> {
    const queue = this.#queue(input.QueueUrl);
    const max = input.MaxNumberOfMessages ?? 1;
    if (max < 1 || max > LIMITS.maxMessages)
      throw invalid(
        `Value ${max} for parameter MaxNumberOfMessages is invalid. Reason: must be between 1 and 10, if provided.`,
      );
    const wait = input.WaitTimeSeconds ?? Number(queue.attributes.ReceiveMessageWaitTimeSeconds);
    if (wait < 0 || wait > LIMITS.maxWaitSeconds)
      throw invalid(
        `Value ${wait} for parameter WaitTimeSeconds is invalid. Reason: must be between 0 and 20.`,
      );
    const visibility = input.VisibilityTimeout ?? Number(queue.attributes.VisibilityTimeout);
    if (visibility < 0 || visibility > LIMITS.maxVisibilitySeconds)
      throw invalid(`Invalid request, maximum visibility timeout is ${LIMITS.maxVisibilitySeconds}`);
    const wanted = wantedAttributes([
      ...(input.AttributeNames ?? []),
      ...(input.MessageSystemAttributeNames ?? []),
    ]);
    // The long poll ends with the client (an aborted SDK call: the response closes before it is
    // written), the server, or the wait.
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    const end = Date.now() + wait * 1_000;
    for (;;) {
      const taken = this.#take(queue, max, visibility);
      if (taken.length > 0)
        return { Messages: taken.map(({ message, handle }) => received(message, handle, wanted)) };
      const left = end - Date.now();
      if (left <= 0 || gone.signal.aborted || this.#closing.signal.aborted) return {};
      if (this.#waiters.size >= BOUNDS.waiters) return {};
      await this.#pause(Math.min(left, BOUNDS.recheckMs), gone.signal);
    }
  }

  /**
   * Up to `max` visible messages, oldest first, each made invisible for `visibility` seconds with a
   * new receipt handle. One already received `maxReceiveCount` times goes to the dead-letter queue
   * instead, as SQS moves it when a receive would exceed the count.
   */
  #take(queue: Queue, max: number, visibility: number): { message: StoredMessage; handle: string }[] {
    const now = this.#now();
    const redrive = redrivePolicy(queue.attributes.RedrivePolicy);
    const target = redrive
      ? [...this.#queues.values()].find((q) => q.arn === redrive.deadLetterTargetArn)
      : undefined;
    const out: { message: StoredMessage; handle: string }[] = [];
    for (const message of [...queue.messages.values()]) {
      if (out.length >= max) break;
      if (message.visibleAt > now) continue;
      if (redrive && target && message.receiveCount >= redrive.maxReceiveCount) {
        this.#remove(queue, message.id);
        // It keeps its id, body, sent time and count; a receive on the dead-letter queue counts on.
        target.messages.set(message.id, { ...message, visibleAt: now, inFlight: false });
        continue;
      }
      message.receiveCount += 1;
      message.firstReceiveAt ??= now;
      message.visibleAt = now + visibility * 1_000;
      message.inFlight = true;
      const handle = randomBytes(48).toString('base64url');
      queue.handles.set(handle, message.id);
      out.push({ message, handle });
    }
    return out;
  }

  #remove(queue: Queue, id: string): void {
    queue.messages.delete(id);
    for (const [handle, of] of queue.handles) if (of === id) queue.handles.delete(handle);
  }

  /** Waits `ms`, or until a send or a visibility change wakes every long poll, or `signal`. */
  #pause(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #queue(url: string): Queue {
    // By the URL's last segment, whatever host the caller reached it by (as SQS does).
    const name = url.split('/').at(-1) ?? '';
    const queue = this.#queues.get(name);
    if (!queue || !url.includes(`/${ACCOUNT}/`)) throw noQueue();
    return queue;
  }

  #settings(attributes: Record<string, string>): Record<Settable, string | undefined> {
    const out = { ...DEFAULTS };
    for (const [name, value] of Object.entries(attributes)) {
      const key = SETTABLE.find((k) => k === name);
      if (!key) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name.slice(0, 64)}.`);
      out[key] = value;
    }
    const numeric: [Settable, number, number][] = [
      ['VisibilityTimeout', 0, LIMITS.maxVisibilitySeconds],
      ['DelaySeconds', 0, LIMITS.maxDelaySeconds],
      ['ReceiveMessageWaitTimeSeconds', 0, LIMITS.maxWaitSeconds],
      ['MaximumMessageSize', 1_024, LIMITS.messageBytes],
      ['MessageRetentionPeriod', 60, 1_209_600],
    ];
    for (const [key, min, max] of numeric) {
      const n = Number(out[key]);
      if (!/^\d{1,10}$/.test(out[key] ?? '') || n < min || n > max)
        throw new SqsError('InvalidAttributeValue', `Invalid value for the parameter ${key}.`);
    }
    if (out.RedrivePolicy !== undefined) {
      const policy = redrivePolicy(out.RedrivePolicy);
      if (!policy)
        throw new SqsError('InvalidAttributeValue', 'Invalid value for the parameter RedrivePolicy.');
      if (![...this.#queues.values()].some((q) => q.arn === policy.deadLetterTargetArn))
        throw new SqsError(
          'InvalidAttributeValue',
          'Value for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.',
        );
      out.RedrivePolicy = JSON.stringify(policy);
    }
    return out;
  }

  #queueAttributes(queue: Queue, names: readonly string[]): Record<string, string> {
    const all = names.includes('All');
    for (const name of names)
      if (name !== 'All' && !QUEUE_ATTRIBUTES.some((a) => a === name))
        throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name.slice(0, 64)}.`);
    const now = this.#now();
    const messages = [...queue.messages.values()];
    const values: Record<(typeof QUEUE_ATTRIBUTES)[number], string | undefined> = {
      ApproximateNumberOfMessages: String(messages.filter((m) => m.visibleAt <= now).length),
      ApproximateNumberOfMessagesDelayed: String(
        messages.filter((m) => !m.inFlight && m.visibleAt > now).length,
      ),
      ApproximateNumberOfMessagesNotVisible: String(
        messages.filter((m) => m.inFlight && m.visibleAt > now).length,
      ),
      CreatedTimestamp: String(Math.floor(queue.createdAt / 1_000)),
      LastModifiedTimestamp: String(Math.floor(queue.createdAt / 1_000)),
      QueueArn: queue.arn,
      ...queue.attributes,
    };
    const out: Record<string, string> = {};
    for (const name of QUEUE_ATTRIBUTES) {
      const value = values[name];
      if (value !== undefined && (all || names.includes(name))) out[name] = value;
    }
    return out;
  }
}

const redriveSchema = z.object({
  deadLetterTargetArn: z.string().regex(/^arn:aws:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$/),
  maxReceiveCount: z.coerce.number().int().min(1).max(LIMITS.maxReceiveCount),
});

function redrivePolicy(text: string | undefined): z.output<typeof redriveSchema> | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = redriveSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The system attributes asked for (`All` is every one); SQS ignores names it does not know here. */
function wantedAttributes(names: readonly string[]): readonly MessageAttribute[] {
  if (names.includes('All')) return MESSAGE_ATTRIBUTES;
  return MESSAGE_ATTRIBUTES.filter((a) => names.includes(a));
}

function received(message: StoredMessage, handle: string, wanted: readonly MessageAttribute[]): object {
  const values: Record<MessageAttribute, string> = {
    // The sandbox's only sender: the task role's access key id, as SQS names an IAM caller.
    SenderId: 'AIDASANDBOXSENDER0001',
    SentTimestamp: String(message.sentAt),
    ApproximateReceiveCount: String(message.receiveCount),
    ApproximateFirstReceiveTimestamp: String(message.firstReceiveAt ?? message.sentAt),
  };
  const attributes = Object.fromEntries(wanted.map((a) => [a, values[a]]));
  return {
    MessageId: message.id,
    ReceiptHandle: handle,
    MD5OfBody: message.md5,
    Body: message.body,
    ...(wanted.length > 0 ? { Attributes: attributes } : {}),
  };
}

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** The input by its schema, or SQS's own words for a missing or malformed parameter. */
function parse<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = String(issue?.path[0] ?? 'input');
  if (issue?.code === 'invalid_type' && (raw as Record<string, unknown> | undefined)?.[field] === undefined)
    throw new SqsError('MissingParameter', `The request must contain the parameter ${field}.`);
  throw invalid(`Value for parameter ${field} is invalid.`);
}

function send(res: ServerResponse, status: number, body: unknown, error?: SqsError): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': JSON_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...(error ? { 'x-amzn-query-error': `${error.queryCode};Sender` } : {}),
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BOUNDS.requestBytes)
      throw new SqsError('RequestEntityTooLarge', 'The request is too large.', undefined, 413);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new SqsError('SerializationException', 'The request body is not JSON.');
  }
}
