import { randomUUID } from 'node:crypto';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SandboxBot } from '../sandbox/sandbox-bot.js';
import { SECRETS_MANAGER_CALLS } from '../security/aws-events/secret-call.js';

/** The calls `:event` can send, as CloudTrail names them. */
export const CONSOLE_EVENT_NAMES = SECRETS_MANAGER_CALLS;

/** Who calls when `:event` names no one: a person outside `security.expectedPrincipals`. */
export const CONSOLE_DEFAULT_PRINCIPAL = 'arn:aws:iam::123456789012:user/mallory';
const ACCOUNT = '123456789012';

/**
 * `:event <GetSecretValue|PutSecretValue|…> [principal-arn] [secret]`: the arguments, or a problem to
 * show. The principal is an IAM user, a role (its session is made up) or an assumed-role session
 * ARN; the secret defaults to `opsbot/slack`.
 */
export function parseEventArgs(
  arg: string,
): { eventName: string; principal: string; secret: string } | { problem: string } {
  const [name = '', principal = CONSOLE_DEFAULT_PRINCIPAL, secret = 'opsbot/slack'] = arg.trim().split(/\s+/);
  const eventName = CONSOLE_EVENT_NAMES.find((n) => n.toLowerCase() === name.toLowerCase());
  if (!eventName)
    return { problem: `usage: :event <${CONSOLE_EVENT_NAMES.join('|')}> [principal-arn] [secret]` };
  if (!/^arn:aws:(iam|sts)::\d{12}:(user|role|assumed-role)\/[\w+=,.@/-]{1,512}$/.test(principal))
    return { problem: `${principal.slice(0, 80)} is not an IAM user, role or assumed-role ARN` };
  return { eventName, principal, secret: secret.slice(0, 200) };
}

/**
 * An "AWS API Call via CloudTrail" event as EventBridge sends it (the documented shape): a role ARN
 * calls through a session of it, with `sessionContext.sessionIssuer` naming the role.
 */
export function cloudTrailEvent(spec: {
  eventName: string;
  principal: string;
  secret: string;
  at: Date;
}): object {
  const time = spec.at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const role = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(spec.principal);
  const userIdentity = role
    ? {
        type: 'AssumedRole',
        principalId: 'AROACONSOLEEXAMPLE01:console',
        arn: `arn:aws:sts::${role[1]}:assumed-role/${role[2]}/console`,
        accountId: role[1],
        sessionContext: {
          sessionIssuer: {
            type: 'Role',
            principalId: 'AROACONSOLEEXAMPLE01',
            arn: spec.principal,
            accountId: role[1],
            userName: role[2],
          },
          attributes: { creationDate: time, mfaAuthenticated: 'false' },
        },
      }
    : spec.principal.includes(':assumed-role/')
      ? {
          type: 'AssumedRole',
          principalId: 'AROACONSOLEEXAMPLE01:console',
          arn: spec.principal,
          accountId: ACCOUNT,
        }
      : { type: 'IAMUser', principalId: 'AIDACONSOLEEXAMPLE01', arn: spec.principal, accountId: ACCOUNT };
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.secretsmanager',
    account: ACCOUNT,
    time,
    region: 'us-east-1',
    resources: [],
    detail: {
      eventVersion: '1.09',
      userIdentity,
      eventTime: time,
      eventSource: 'secretsmanager.amazonaws.com',
      eventName: spec.eventName,
      awsRegion: 'us-east-1',
      sourceIPAddress: '203.0.113.10',
      userAgent: 'opsbot-console',
      requestParameters: {
        secretId: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:${spec.secret}-Cn5Ole`,
      },
      responseElements: null,
      requestID: randomUUID(),
      eventID: randomUUID(),
      readOnly: spec.eventName === 'GetSecretValue',
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: ACCOUNT,
      eventCategory: 'Management',
    },
  };
}

/**
 * Sends the event to the bot's `POST /webhooks/aws-events` with the `events` secret's key, as
 * EventBridge's API destination would. The answer's status, or a sentence saying why it was not sent.
 */
export async function sendAwsEvent(
  bot: SandboxBot,
  event: object,
): Promise<{ status: number } | { problem: string }> {
  const stored = bot.secretsManager.valueOf('opsbot/events');
  const apiKey = stored ? (JSON.parse(stored) as { apiKey?: unknown }).apiKey : undefined;
  if (typeof apiKey !== 'string')
    return { problem: 'the sandbox has no opsbot/events secret, so EventBridge would have no key to send.' };
  const response = await fetch(`${bot.base}/webhooks/aws-events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-opsbot-events-key': apiKey },
    body: JSON.stringify(event),
  });
  await response.arrayBuffer();
  return { status: response.status };
}

/**
 * Puts the event on the bot's events queue as EventBridge's SQS target would (SendMessage, the
 * event as the body), for the bot in Socket Mode to long-poll. The message id, or a sentence saying
 * why it was not sent.
 */
export async function queueAwsEvent(
  bot: SandboxBot,
  event: object,
): Promise<{ messageId: string; queue: string } | { problem: string }> {
  if (!bot.sqs) return { problem: 'the sandbox has no events queue (run the console with --socket-mode).' };
  // The simulated SQS takes any signature: these are not credentials.
  const sqs = new SQSClient({
    region: 'us-east-1',
    endpoint: bot.sqs.server.url,
    credentials: { accessKeyId: 'SANDBOX', secretAccessKey: 'sandbox' },
    maxAttempts: 1,
  });
  try {
    const out = await sqs.send(
      new SendMessageCommand({ QueueUrl: bot.sqs.queueUrl, MessageBody: JSON.stringify(event) }),
    );
    return { messageId: out.MessageId ?? '', queue: bot.sqs.queueUrl.split('/').at(-1) ?? '' };
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    return { problem: `the events queue refused the message (${name.slice(0, 60)}).` };
  } finally {
    sqs.destroy();
  }
}
