import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Clock, Random } from '../../clock.js';
import type { Component } from '../../component.js';
import { LogThrottle } from '../../http/log-throttle.js';
import type { Logger } from '../../log.js';
import { Counter, type Registry } from '../../metrics.js';
import {
  type BackoffPolicy,
  cappedExponentialDelay,
  DEFAULT_BACKOFF,
  fullJitterDelay,
} from '../../time/backoff.js';
import { finishedWithin } from '../../time/deadline.js';
import type { Detection, SecurityReporter } from '../detection.js';
import type { SecretCallStore, TakeOutcome } from './store-calls.js';

/** SQS's longest long poll: one ReceiveMessage waits this long for a message before answering empty. */
export const EVENTS_QUEUE_WAIT_SECONDS = 20;
/** SQS's most messages per ReceiveMessage. */
export const EVENTS_QUEUE_BATCH = 10;
/**
 * How long a message whose store failed stays invisible, by its receive count: 30 s, doubling, at
 * most 15 minutes. With the stack's maxReceiveCount of 5 an event is dead-lettered after about
 * 7.5 minutes of failed stores; the loop also waits before its next receive (below), so the other
 * messages are not received (and counted) while the store is down.
 */
export const STORE_RETRY_VISIBILITY: BackoffPolicy = { baseMs: 30_000, capMs: 15 * 60_000 };
/** The detection rule of a message that is not an EventBridge event (README, "Security reviews and detections"). */
export const POISON_RULE = 'eventsQueuePoison';
/** Poison message ids remembered to report each once from this replica (the reporter dedupes across replicas). */
const POISON_REMEMBERED = 1_000;

export interface EventsQueueDeps {
  /** SQS under the task role (ReceiveMessage, DeleteMessage, ChangeMessageVisibility, GetQueueAttributes). */
  sqs: Pick<SQSClient, 'send'> & { destroy?(): void };
  /** `OPSBOT_EVENTS_QUEUE_URL`. */
  queueUrl: string;
  /** The store `POST /webhooks/aws-events` uses: one dedupe, one audit path. */
  calls: Pick<SecretCallStore, 'take' | 'settled'>;
  /** Where a poison message is reported (the security feature's reporter). */
  reporter: SecurityReporter;
  clock: Clock;
  random: Random;
  log: Logger;
  metrics: Registry;
  /** The wait after a failed SQS call or a failed store before the next receive (default 1 s doubling to 60 s, jittered). */
  backoff?: BackoffPolicy;
  /** How long a message whose store failed stays invisible (default {@link STORE_RETRY_VISIBILITY}). */
  retryVisibility?: BackoffPolicy;
  /** The long poll (default {@link EVENTS_QUEUE_WAIT_SECONDS}; tests shorten it). */
  waitSeconds?: number;
}

type MessageOutcome = 'taken' | 'store_failed' | 'poison';

/**
 * The events queue (README, "Security reviews and detections"): in Socket Mode nothing can call
 * `POST /webhooks/aws-events`, so the stack's EventBridge rule puts the same CloudTrail events on
 * an SQS queue and the bot long-polls it. Each message body is one EventBridge event, taken by the
 * endpoint's own {@link SecretCallStore}:
 *
 * - taken (what the endpoint answers 202: stored, a duplicate, or about something else): deleted;
 * - its store failed (503): left on the queue, invisible for a backoff that grows with its receive
 *   count, and the loop waits before receiving again;
 * - poison (400/413: not JSON, not an event, too large): never deleted, so the queue's redrive
 *   policy moves it to the dead-letter queue; logged without its body, counted, and reported once.
 *
 * One receive at a time, at most {@link EVENTS_QUEUE_BATCH} messages, handled before the next;
 * SQS errors back off. `stop` aborts the long poll and lets the messages in hand finish.
 */
export class EventsQueueConsumer implements Component {
  readonly name = 'aws-events-queue';
  readonly #d: EventsQueueDeps;
  readonly #log: Logger;
  readonly #throttle: LogThrottle;
  readonly #abort = new AbortController();
  readonly #messages: Counter<'outcome'>;
  readonly #poison: Counter<'reason'>;
  readonly #errors: Counter<'operation'>;
  readonly #reported = new Set<string>();
  readonly #reporting = new Set<Promise<void>>();
  #loop: Promise<void> | undefined;
  #receiveFailures = 0;

  constructor(deps: EventsQueueDeps) {
    this.#d = deps;
    this.#log = deps.log.child({ component: this.name });
    this.#throttle = new LogThrottle(this.#log);
    this.#messages = new Counter({
      name: 'opsbot_aws_events_queue_messages_total',
      help: 'Messages received from the events queue, by outcome (taken, store_failed, poison)',
      labelNames: ['outcome'],
      registers: [deps.metrics],
    });
    this.#poison = new Counter({
      name: 'opsbot_aws_events_queue_poison_total',
      help: 'Receives of events-queue messages that are not EventBridge events (left for the dead-letter queue), by reason',
      labelNames: ['reason'],
      registers: [deps.metrics],
    });
    this.#errors = new Counter({
      name: 'opsbot_aws_events_queue_errors_total',
      help: 'SQS calls on the events queue that failed, by operation',
      labelNames: ['operation'],
      registers: [deps.metrics],
    });
  }

  async start(): Promise<void> {
    this.#loop = this.#run();
  }

  /** Receives fail: the bot runs, but CloudTrail's calls on its secrets wait on the queue. */
  degraded(): readonly string[] {
    return this.#receiveFailures > 0 ? ['events queue: ReceiveMessage is failing (retrying)'] : [];
  }

  /** Aborts the long poll; the messages in hand and their reports finish by `deadline` (epoch ms). */
  async stop(deadline: number): Promise<boolean> {
    this.#abort.abort();
    const { clock } = this.#d;
    const loop = this.#loop ?? Promise.resolve();
    const finished = await finishedWithin(clock, loop, Math.max(0, deadline - clock.now()));
    const reported = await finishedWithin(
      clock,
      Promise.all([...this.#reporting]),
      Math.max(0, deadline - clock.now()),
    );
    const settled = await this.#d.calls.settled(deadline);
    // Its sockets are this consumer's alone; one still in use by a cut-short call goes with it.
    this.#d.sqs.destroy?.();
    return finished && reported && settled;
  }

  async #run(): Promise<void> {
    const backoff = this.#d.backoff ?? DEFAULT_BACKOFF;
    await this.#checkRedrive();
    let storeFailures = 0;
    while (!this.#abort.signal.aborted) {
      let received: Message[];
      try {
        received = await this.#receive();
        this.#receiveFailures = 0;
      } catch (error) {
        if (this.#abort.signal.aborted) break;
        this.#sqsFailed('ReceiveMessage', error);
        await this.#pause(fullJitterDelay(this.#receiveFailures++, backoff, this.#d.random));
        continue;
      }
      // Handled before the next receive: at most one batch in hand, and stop() waits for it.
      const outcomes = await Promise.all(received.map((message) => this.#handle(message)));
      if (outcomes.includes('store_failed')) {
        await this.#pause(fullJitterDelay(storeFailures++, backoff, this.#d.random));
      } else if (outcomes.length > 0) {
        storeFailures = 0;
      }
    }
  }

  async #receive(): Promise<Message[]> {
    const out = await this.#d.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#d.queueUrl,
        MaxNumberOfMessages: EVENTS_QUEUE_BATCH,
        WaitTimeSeconds: this.#d.waitSeconds ?? EVENTS_QUEUE_WAIT_SECONDS,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
      { abortSignal: this.#abort.signal },
    );
    return (out.Messages ?? []).slice(0, EVENTS_QUEUE_BATCH);
  }

  async #handle(message: Message): Promise<MessageOutcome> {
    const id = (message.MessageId ?? 'unknown').slice(0, 100);
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? '1') || 1;
    const outcome: TakeOutcome = await this.#d.calls.take(message.Body ?? '');
    switch (outcome.kind) {
      case 'taken':
        this.#messages.inc({ outcome: 'taken' });
        await this.#delete(message);
        return 'taken';
      case 'store_failed':
        this.#messages.inc({ outcome: 'store_failed' });
        this.#log.error(
          { err: outcome.error, messageId: id, receiveCount, stored: outcome.stored },
          'could not store a call on an opsbot secret from the events queue; the message stays on the queue and is taken again later',
        );
        await this.#retryLater(message, receiveCount);
        return 'store_failed';
      case 'invalid':
        this.#messages.inc({ outcome: 'poison' });
        this.#poisoned(id, outcome.error, outcome.problem, receiveCount);
        return 'poison';
    }
  }

  async #delete(message: Message): Promise<void> {
    if (!message.ReceiptHandle) return;
    try {
      // Not the stop signal: a message taken during stop() is still deleted.
      await this.#d.sqs.send(
        new DeleteMessageCommand({ QueueUrl: this.#d.queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    } catch (error) {
      // It comes back after its visibility timeout and is then a duplicate: deleted then.
      this.#sqsFailed('DeleteMessage', error);
    }
  }

  async #retryLater(message: Message, receiveCount: number): Promise<void> {
    if (!message.ReceiptHandle) return;
    const policy = this.#d.retryVisibility ?? STORE_RETRY_VISIBILITY;
    const seconds = Math.min(43_200, Math.ceil(cappedExponentialDelay(receiveCount - 1, policy) / 1_000));
    try {
      await this.#d.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.#d.queueUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    } catch (error) {
      // The queue's own visibility timeout applies instead.
      this.#sqsFailed('ChangeMessageVisibility', error);
    }
  }

  /** Never its body: the reason is one of a few words and the problem names a field, not its content. */
  #poisoned(id: string, reason: string, problem: string, receiveCount: number): void {
    this.#poison.inc({ reason });
    this.#log.error(
      { messageId: id, reason, problem, receiveCount },
      "a message on the events queue is not an EventBridge event; it is left for the queue's dead-letter queue",
    );
    if (this.#reported.has(id)) return;
    if (this.#reported.size >= POISON_REMEMBERED) this.#reported.clear();
    this.#reported.add(id);
    const detection: Detection = {
      rule: POISON_RULE,
      key: `${POISON_RULE}:${id}`,
      title: `A message on the events queue is not an EventBridge event (${reason}); the queue's dead-letter queue will keep it for 14 days`,
      at: new Date(this.#d.clock.now()).toISOString(),
      evidence: [],
      details: { messageId: id, reason, problem: problem.slice(0, 200), queue: queueName(this.#d.queueUrl) },
    };
    const reported = this.#d.reporter.report(detection).catch((error: unknown) => {
      this.#log.error(
        { err: error, key: detection.key },
        'could not report a poison message of the events queue',
      );
    });
    this.#reporting.add(reported);
    void reported.finally(() => this.#reporting.delete(reported));
  }

  /** Says once at start-up when the queue has no redrive policy: a poison message would then come back forever. */
  async #checkRedrive(): Promise<void> {
    try {
      const out = await this.#d.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: this.#d.queueUrl, AttributeNames: ['RedrivePolicy'] }),
        { abortSignal: this.#abort.signal },
      );
      if (!out.Attributes?.RedrivePolicy)
        this.#log.warn(
          { queue: queueName(this.#d.queueUrl) },
          'the events queue has no redrive policy: a message that is not an EventBridge event will be received again and again (give it a dead-letter queue, as the CDK stack does)',
        );
    } catch (error) {
      if (!this.#abort.signal.aborted) this.#sqsFailed('GetQueueAttributes', error);
    }
  }

  /** An SDK error, by name and status only (its message may quote the request). */
  #sqsFailed(operation: string, error: unknown): void {
    this.#errors.inc({ operation });
    const { name, $metadata } = (error ?? {}) as { name?: unknown; $metadata?: { httpStatusCode?: number } };
    this.#throttle.warn(
      operation,
      { operation, error: typeof name === 'string' ? name : 'Error', status: $metadata?.httpStatusCode },
      'an SQS call on the events queue failed; retrying with backoff',
    );
  }

  /** Waits `ms` on the clock, or until stop(). */
  #pause(ms: number): Promise<void> {
    const signal = this.#abort.signal;
    return new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      let cancel = () => {};
      const done = () => {
        cancel();
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      cancel = this.#d.clock.schedule(done, ms);
    });
  }
}

/** The queue's name (the URL's last segment): what logs and reports name it by. */
function queueName(queueUrl: string): string {
  return queueUrl.split('/').at(-1)?.slice(0, 80) ?? 'events';
}
