import { MAX_FIELD, objectOf, type SecretCall, text } from './secret-call.js';

/** What EventBridge names a CloudTrail-recorded API call. */
export const CLOUDTRAIL_API_CALL = 'AWS API Call via CloudTrail';
const SECRETS_MANAGER_SOURCE = 'aws.secretsmanager';
const SECRETS_MANAGER_EVENT_SOURCE = 'secretsmanager.amazonaws.com';

/** The EventBridge envelope (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`, `resources`, `detail`). */
export interface EventBridgeEvent {
  id: string;
  detailType: string;
  source: string;
  time: string;
  detail: Record<string, unknown>;
}

export type EnvelopeParse = { ok: true; event: EventBridgeEvent } | { ok: false; problem: string };

/** An EventBridge event id: EventBridge's are UUIDs; anything printable and short is taken. */
const EVENT_ID = /^[\w.:-]{1,128}$/;

/**
 * Checks the EventBridge envelope. Never throws, and a problem names the field, never its content.
 *
 * @example
 * const parsed = parseEventBridgeEvent(JSON.parse(body));
 * if (!parsed.ok) return refuse(res, 400, { error: 'invalid_payload', message: parsed.problem });
 */
export function parseEventBridgeEvent(body: unknown): EnvelopeParse {
  const event = objectOf(body);
  if (!event) return { ok: false, problem: 'expected a JSON object (an EventBridge event)' };
  const id = event.id;
  if (typeof id !== 'string' || !EVENT_ID.test(id))
    return { ok: false, problem: 'id: expected the EventBridge event id' };
  const detailType = text(event['detail-type']);
  if (!detailType) return { ok: false, problem: 'detail-type: expected a string' };
  const source = text(event.source);
  if (!source) return { ok: false, problem: 'source: expected a string' };
  const time = text(event.time);
  if (!time || Number.isNaN(Date.parse(time)))
    return { ok: false, problem: 'time: expected an ISO 8601 time' };
  const detail = objectOf(event.detail);
  if (!detail) return { ok: false, problem: 'detail: expected an object' };
  return { ok: true, event: { id, detailType: detailType.slice(0, 200), source, time, detail } };
}

/**
 * The Secrets Manager call a CloudTrail event records, or undefined when the event is not one
 * (another service, a service event such as `RotationSucceeded`, or no `secretId`).
 */
export function secretCallOf(event: EventBridgeEvent): SecretCall | undefined {
  const { detail } = event;
  if (event.source !== SECRETS_MANAGER_SOURCE || event.detailType !== CLOUDTRAIL_API_CALL) return undefined;
  if (detail.eventSource !== SECRETS_MANAGER_EVENT_SOURCE) return undefined;
  const eventName = text(detail.eventName);
  const secretId = text(objectOf(detail.requestParameters)?.secretId);
  if (!eventName || !secretId) return undefined;
  const identity = objectOf(detail.userIdentity) ?? {};
  const sessionIssuer = text(objectOf(objectOf(identity.sessionContext)?.sessionIssuer)?.arn);
  const invokedBy = text(identity.invokedBy);
  const eventTime = text(detail.eventTime);
  const sourceIp = text(detail.sourceIPAddress);
  return {
    via: 'cloudtrail',
    id: event.id,
    eventId: (text(detail.eventID) ?? event.id).slice(0, 128),
    eventName: eventName.slice(0, 128),
    secretId,
    principal: principalOf(identity, invokedBy),
    ...(sessionIssuer ? { sessionIssuer } : {}),
    ...(invokedBy ? { invokedBy: invokedBy.slice(0, 256) } : {}),
    ...(sourceIp ? { sourceIp: sourceIp.slice(0, 256) } : {}),
    at: eventTime && !Number.isNaN(Date.parse(eventTime)) ? eventTime : event.time,
  };
}

/**
 * Who made the call: the identity's ARN (an `assumed-role` session, an IAM user, root); for an AWS
 * service acting itself (`type: AWSService`), the service (`invokedBy`); else its principal id.
 */
function principalOf(identity: Record<string, unknown>, invokedBy: string | undefined): string {
  const arn = text(identity.arn);
  if (arn) return arn;
  if (invokedBy) return invokedBy;
  return (text(identity.principalId) ?? 'unknown').slice(0, MAX_FIELD);
}
