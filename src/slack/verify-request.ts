import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

/** Slack's replay window: requests more than five minutes old (or ahead) are refused. */
export const SLACK_REQUEST_WINDOW_SECONDS = 300;

export interface SlackRequestToVerify {
  /** `X-Slack-Request-Timestamp`: seconds since the epoch, as Slack sent it. */
  timestamp: string | undefined;
  /** `X-Slack-Signature`: `v0=` and a hex HMAC-SHA256. */
  signature: string | undefined;
  /** The body exactly as received: the signature covers these bytes. */
  rawBody: Buffer;
}

export type SlackVerification =
  | { ok: true; secretIndex: number }
  | { ok: false; reason: 'missing_headers' | 'malformed_headers' | 'stale' | 'bad_signature' | 'no_secret' };

/**
 * Verifies a request from Slack (v0 signing: HMAC-SHA256 over `v0:timestamp:body`) against every
 * candidate signing secret — current, then pending and previous during a rotation — in constant
 * time, with the clock injected. All candidates are compared, so timing says nothing about which
 * matched.
 *
 * @example
 * const result = verifySlackRequest(request, inboundSecrets(provider, 'slack'), clock.now());
 * if (!result.ok) return sendJson(res, 401, { error: 'invalid_signature' });
 */
export function verifySlackRequest(
  request: SlackRequestToVerify,
  signingSecrets: readonly string[],
  nowMs: number,
  windowSeconds = SLACK_REQUEST_WINDOW_SECONDS,
): SlackVerification {
  const { timestamp, signature, rawBody } = request;
  const headers = checkSlackHeaders(timestamp, signature, nowMs, windowSeconds);
  if (!headers.ok) return headers;
  if (!timestamp || !signature) return { ok: false, reason: 'missing_headers' };
  if (signingSecrets.length === 0) return { ok: false, reason: 'no_secret' };
  const presented = Buffer.from(signature.slice(3), 'hex');
  let matched = -1;
  signingSecrets.forEach((secret, index) => {
    const expected = slackSignatureBytes(secret, timestamp, rawBody);
    if (timingSafeEqual(expected, presented) && matched === -1) matched = index;
  });
  return matched === -1 ? { ok: false, reason: 'bad_signature' } : { ok: true, secretIndex: matched };
}

export type SlackHeaderCheck =
  | { ok: true }
  | { ok: false; reason: 'missing_headers' | 'malformed_headers' | 'stale' };

/**
 * What the headers alone say: present, well-formed (`v0=` and 64 lower-case hex; a timestamp of
 * digits) and within the five-minute window. Run before reading the body, so a request that cannot
 * be from Slack costs nothing to refuse; {@link verifySlackRequest} runs the same check first.
 */
export function checkSlackHeaders(
  timestamp: string | undefined,
  signature: string | undefined,
  nowMs: number,
  windowSeconds = SLACK_REQUEST_WINDOW_SECONDS,
): SlackHeaderCheck {
  if (!timestamp || !signature) return { ok: false, reason: 'missing_headers' };
  if (!/^\d{1,12}$/.test(timestamp) || !/^v0=[0-9a-f]{64}$/.test(signature)) {
    return { ok: false, reason: 'malformed_headers' };
  }
  if (Math.abs(nowMs / 1_000 - Number(timestamp)) > windowSeconds) return { ok: false, reason: 'stale' };
  return { ok: true };
}

/** Signing secrets seen lately, as HMAC keys: importing a string key on every request costs more than the HMAC. */
const signingKeys = new Map<string, KeyObject>();
/** More than the current, pending and previous secrets of a rotation; past it the cache starts over. */
const MAX_SIGNING_KEYS = 8;

function signingKey(secret: string): KeyObject {
  let key = signingKeys.get(secret);
  if (!key) {
    if (signingKeys.size >= MAX_SIGNING_KEYS) signingKeys.clear();
    key = createSecretKey(secret, 'utf8');
    signingKeys.set(secret, key);
  }
  return key;
}

function slackSignatureBytes(secret: string, timestamp: string, rawBody: Buffer): Buffer {
  return createHmac('sha256', signingKey(secret)).update(`v0:${timestamp}:`).update(rawBody).digest();
}

/** The `X-Slack-Signature` Slack would send: used by the simulated Slack and tests. */
export function signSlackRequest(secret: string, timestamp: string, rawBody: Buffer | string): string {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody) : rawBody;
  return `v0=${slackSignatureBytes(secret, timestamp, body).toString('hex')}`;
}
