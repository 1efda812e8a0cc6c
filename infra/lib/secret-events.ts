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
/** The header the connection sends the events key in; the bot compares it in constant time. */
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

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: DEAD_LETTER_RETENTION,
      // Marks it as a dead-letter queue for Control Tower's CT.SQS.PR.1 (which otherwise wants it to
      // have one of its own). allowAll is what SQS does for a queue without this policy; EventBridge
      // is no source queue, so byQueue could name nothing.
      redriveAllowPolicy: { redrivePermission: sqs.RedrivePermission.ALLOW_ALL },
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: the EventBridge rule target’s, for the CloudTrail events the bot did not take (cdk-nag recognises only queues named in another queue’s redrive policy), and its redrive allow policy says so',
    });

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

    const arnPrefix = stack.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: props.secretPrefix,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.rule = new events.Rule(this, 'Rule', {
      description: `opsbot: Secrets Manager calls on ${props.secretPrefix}* (CloudTrail, read-only calls included) to ${AWS_EVENTS_PATH}`,
      eventPattern: secretEventPattern(props.secretPrefix, arnPrefix),
      targets: [
        // Adds events:InvokeApiDestination on this destination to the role, its only permission.
        new targets.ApiDestination(this.destination, {
          eventRole: this.role,
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: EVENTS_RETRY_ATTEMPTS,
          maxEventAge: EVENTS_MAX_AGE,
        }),
      ],
    });
    (this.rule.node.defaultChild as events.CfnRule).state = RULE_STATE;
  }
}
