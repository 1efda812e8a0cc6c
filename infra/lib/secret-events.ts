import { ArnFormat, Duration, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AWS_EVENTS_KEY_HEADER_NAME } from '../../src/security/aws-events/events-secret.js';
import { SECRETS_MANAGER_CALLS } from '../../src/security/aws-events/secret-call.js';

/** The bot's endpoint for EventBridge (README.md, "HTTP endpoints": `POST /webhooks/aws-events`). */
export const AWS_EVENTS_PATH = '/webhooks/aws-events';
/** The header the bot reads the `events` key from (src/security/aws-events/endpoint.ts). */
export const EVENTS_KEY_HEADER = AWS_EVENTS_KEY_HEADER_NAME;
/** The Secrets Manager calls on opsbot's secrets that the bot turns into detections when someone unexpected makes them. */
export const WATCHED_SECRET_CALLS = SECRETS_MANAGER_CALLS;
/** Requests a second EventBridge sends the bot at most; the rest wait and are retried. */
export const EVENTS_RATE_LIMIT_PER_SECOND = 10;
/** How long EventBridge keeps retrying an event the bot did not take (its maximum). */
export const EVENTS_MAX_AGE = Duration.hours(24);
/** EventBridge's maximum: it retries with backoff until the event is {@link EVENTS_MAX_AGE} old. */
export const EVENTS_RETRY_ATTEMPTS = 185;
/** What the dead-letter queue keeps of an event never delivered (SQS's maximum). */
export const DEAD_LETTER_RETENTION = Duration.days(14);
/**
 * Socket Mode: how often the bot may receive an events-queue message without taking it (a store
 * that failed each time, or a body that is no event) before SQS moves it to the dead-letter queue.
 */
export const EVENTS_QUEUE_MAX_RECEIVES = 5;
/** Socket Mode: the events queue keeps an event this long while the bot is away (shorter than the dead-letter queue, which counts from the same enqueue time). */
export const EVENTS_QUEUE_RETENTION = Duration.days(4);
/**
 * Socket Mode: a message received and neither deleted nor given a backoff of its own comes back
 * after this (the bot takes a message in well under a second; a failed store sets its own wait).
 */
export const EVENTS_QUEUE_VISIBILITY = Duration.seconds(60);
/** What the task role may do on the events queue: consume it (src/security/aws-events/queue-consumer.ts), nothing else. */
export const EVENTS_QUEUE_TASK_ACTIONS = [
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:GetQueueAttributes',
] as const;
/**
 * The rule's state. `ENABLED` alone leaves out CloudTrail's read-only management events, and
 * GetSecretValue is one (EventBridge user guide, "Receiving read-only management events from AWS
 * services"): this state receives them too.
 */
export const RULE_STATE = 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';

/**
 * CloudTrail's "AWS API Call via CloudTrail" events for {@link WATCHED_SECRET_CALLS} whose
 * `requestParameters.secretId` names one of opsbot's secrets: callers give a name
 * (`opsbot/slack`) or an ARN (complete or partial), hence one prefix of each.
 */
export function secretEventPattern(namePrefix: string, arnPrefix: string): events.EventPattern {
  return {
    source: ['aws.secretsmanager'],
    detailType: ['AWS API Call via CloudTrail'],
    detail: {
      eventSource: ['secretsmanager.amazonaws.com'],
      eventName: [...WATCHED_SECRET_CALLS],
      requestParameters: { secretId: [{ prefix: namePrefix }, { prefix: arnPrefix }] },
    },
  };
}

/** The rule both modes use: CloudTrail's watched calls on `<prefix>*`, read-only calls included. */
function secretEventsRule(
  scope: Construct,
  secretPrefix: string,
  to: string,
  target: events.IRuleTarget,
): events.Rule {
  const stack = Stack.of(scope);
  const arnPrefix = stack.formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: secretPrefix,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  const rule = new events.Rule(scope, 'Rule', {
    description: `opsbot: Secrets Manager calls on ${secretPrefix}* (CloudTrail, read-only calls included) to ${to}`,
    eventPattern: secretEventPattern(secretPrefix, arnPrefix),
    targets: [target],
  });
  (rule.node.defaultChild as events.CfnRule).state = RULE_STATE;
  return rule;
}

/**
 * The dead-letter queue of what the bot never took (kept {@link DEAD_LETTER_RETENTION}), encrypted
 * by SQS, TLS only.
 */
function deadLetterQueue(scope: Construct, reason: string): sqs.Queue {
  const queue = new sqs.Queue(scope, 'DeadLetters', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: DEAD_LETTER_RETENTION,
    // Marks it as a dead-letter queue for Control Tower's CT.SQS.PR.1 (which otherwise wants it to
    // have one of its own). allowAll is what SQS does for a queue without this policy; EventBridge
    // is no source queue, so byQueue could name nothing (and the events queue naming it while it
    // names the events queue would be a cycle).
    redriveAllowPolicy: { redrivePermission: sqs.RedrivePermission.ALLOW_ALL },
  });
  Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason });
  return queue;
}

export interface SecretEventsProps {
  /** `<prefix>`: every secret opsbot has is named `<prefix><name>`. */
  secretPrefix: string;
  /** The `events` secret: its `apiKey` is the header's value. */
  eventsSecret: secretsmanager.ISecret;
  /** The host EventBridge calls: context `domainName`, else the load balancer's DNS name. */
  host: string;
}

/**
 * HTTP mode, secrets in Secrets Manager: CloudTrail's Secrets Manager calls on opsbot's secrets go
 * to the bot. A rule on the default bus (read-only calls included) targets an API destination,
 * `POST https://<host>/webhooks/aws-events`, through a connection that sends the events key in
 * `X-Opsbot-Events-Key`. What the bot does not take (an error, a 4xx, 24 hours of retries) lands
 * in an encrypted dead-letter queue. EventBridge invokes the destination with a role that may do
 * nothing else.
 *
 * EventBridge sees "AWS API Call via CloudTrail" events only while a CloudTrail trail logs
 * management events in the account and region (EventBridge user guide, "Events from AWS services":
 * "a CloudTrail trail with logging enabled is required"); for GetSecretValue the trail must log
 * read events too. The stack creates no trail: most accounts have one (AWS Control Tower's
 * organisation trail logs both), and a second one would bill every management event again.
 */
export class SecretEvents extends Construct {
  readonly rule: events.Rule;
  readonly connection: events.Connection;
  readonly destination: events.ApiDestination;
  readonly deadLetterQueue: sqs.Queue;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: SecretEventsProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.connection = new events.Connection(this, 'Connection', {
      description: `opsbot: sends the ${props.secretPrefix}events key in ${EVENTS_KEY_HEADER}`,
      authorization: events.Authorization.apiKey(
        EVENTS_KEY_HEADER,
        SecretValue.secretsManager(props.eventsSecret.secretArn, { jsonField: 'apiKey' }),
      ),
    });
    this.destination = new events.ApiDestination(this, 'Destination', {
      description: `opsbot ${AWS_EVENTS_PATH}: Secrets Manager calls on ${props.secretPrefix}* from CloudTrail`,
      connection: this.connection,
      endpoint: `https://${props.host}${AWS_EVENTS_PATH}`,
      httpMethod: events.HttpMethod.POST,
      rateLimitPerSecond: EVENTS_RATE_LIMIT_PER_SECOND,
    });

    this.deadLetterQueue = deadLetterQueue(
      this,
      'This queue is itself a dead-letter queue: the EventBridge rule target’s, for the CloudTrail events the bot did not take (cdk-nag recognises only queues named in another queue’s redrive policy), and its redrive allow policy says so',
    );

    this.role = new iam.Role(this, 'InvokeRole', {
      description:
        'EventBridge invokes the opsbot API destination with this role, and does nothing else with it',
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({ service: 'events', resource: 'rule', resourceName: '*' }),
          },
        },
      }),
    });

    this.rule = secretEventsRule(
      this,
      props.secretPrefix,
      AWS_EVENTS_PATH,
      // Adds events:InvokeApiDestination on this destination to the role, its only permission.
      new targets.ApiDestination(this.destination, {
        eventRole: this.role,
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: EVENTS_RETRY_ATTEMPTS,
        maxEventAge: EVENTS_MAX_AGE,
      }),
    );
  }
}

export interface SecretEventsQueueProps {
  /** `<prefix>`: every secret opsbot has is named `<prefix><name>`. */
  secretPrefix: string;
  /** The bot's task role: it consumes the queue ({@link EVENTS_QUEUE_TASK_ACTIONS}). */
  taskRole: iam.IRole;
}

/**
 * Socket Mode, secrets in Secrets Manager: nothing can call the bot, so the same rule as HTTP
 * mode's puts each event, as the API destination would POST it, on an SQS queue the bot
 * long-polls (`OPSBOT_EVENTS_QUEUE_URL`). A message the bot could not take
 * {@link EVENTS_QUEUE_MAX_RECEIVES} times (a body that is no event, a store failing for minutes)
 * moves to the dead-letter queue, which also takes what EventBridge could not put on the queue
 * (after 24 hours of retries).
 *
 * Both queues are encrypted by SQS (SSE-SQS), not with a KMS key: the stack's one key present in
 * every mode is the log key, whose policy admits CloudWatch Logs alone, and EventBridge can send to
 * a KMS-encrypted queue only if the key lets it. The messages carry names and ARNs, never a value
 * (CloudTrail logs no SecretString). Only this rule may send to the queue; only the task role may
 * consume it.
 */
export class SecretEventsQueue extends Construct {
  readonly rule: events.Rule;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: SecretEventsQueueProps) {
    super(scope, id);
    this.deadLetterQueue = deadLetterQueue(
      this,
      'This queue is itself a dead-letter queue: the events queue’s redrive target and the EventBridge rule target’s, for the CloudTrail events the bot did not take, and its redrive allow policy says so',
    );
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: EVENTS_QUEUE_RETENTION,
      visibilityTimeout: EVENTS_QUEUE_VISIBILITY,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: EVENTS_QUEUE_MAX_RECEIVES },
    });
    // Adds to each queue's policy: sqs:SendMessage for events.amazonaws.com from this rule only.
    this.rule = secretEventsRule(
      this,
      props.secretPrefix,
      'the bot’s events queue',
      new targets.SqsQueue(this.queue, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: EVENTS_RETRY_ATTEMPTS,
        maxEventAge: EVENTS_MAX_AGE,
      }),
    );
    // Spelled out rather than grantConsumeMessages, which adds GetQueueUrl the bot never calls.
    props.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: [...EVENTS_QUEUE_TASK_ACTIONS], resources: [this.queue.queueArn] }),
    );
  }
}
