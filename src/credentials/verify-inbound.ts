import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Credential, CredentialProvider } from './provider.js';

export type InboundMatch = { ok: true; versionId: string } | { ok: false };

/** A per-process key: both sides are hashed first, so the comparison is constant-time whatever the lengths. */
const COMPARE_KEY = randomBytes(32);

function digest(text: string | Buffer): Buffer {
  return createHmac('sha256', COMPARE_KEY).update(text).digest();
}

/** Constant-time equality of two strings of any length. */
export function constantTimeEquals(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The inbound secrets a request may be checked against, in order: CURRENT, PENDING, then PREVIOUS
 * for OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS after a change (so senders that have not picked up a
 * rotation yet are not refused); CURRENT alone once it carries OPSBOT_EMERGENCY.
 */
export function inboundSecrets(
  provider: Pick<CredentialProvider, 'inboundCandidates' | 'inboundField'>,
  integration: string,
): string[] {
  const field = inboundFieldOf(provider, integration);
  return provider
    .inboundCandidates(integration)
    .map((credential: Credential) => (credential.value.reveal() as Record<string, unknown>)[field])
    .filter((value): value is string => typeof value === 'string');
}

/**
 * Checks a presented shared secret (e.g. the Datadog webhook header) in constant time against every
 * candidate: all are compared, whichever matches, so timing tells nothing about which did.
 *
 * @example
 * const match = verifyInboundSecret(provider, 'datadog', req.headers['x-opsbot-webhook-secret']);
 * if (!match.ok) return sendJson(res, 401, { error: 'bad webhook secret' });
 */
export function verifyInboundSecret(
  provider: Pick<CredentialProvider, 'inboundCandidates' | 'inboundField'>,
  integration: string,
  presented: string | undefined,
): InboundMatch {
  if (typeof presented !== 'string' || presented.length === 0 || presented.length > 4_096)
    return { ok: false };
  const field = inboundFieldOf(provider, integration);
  const candidates = provider.inboundCandidates(integration);
  let matched: string | undefined;
  for (const credential of candidates) {
    const value = (credential.value.reveal() as Record<string, unknown>)[field];
    if (typeof value === 'string' && constantTimeEquals(value, presented) && matched === undefined) {
      matched = credential.versionId;
    }
  }
  return matched === undefined ? { ok: false } : { ok: true, versionId: matched };
}

function inboundFieldOf(provider: Pick<CredentialProvider, 'inboundField'>, integration: string): string {
  const field = provider.inboundField(integration);
  if (!field) throw new Error(`the ${integration} secret declares no inbound field`);
  return field;
}
