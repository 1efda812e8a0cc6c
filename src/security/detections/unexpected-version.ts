import type { Detection } from '../detection.js';
import { type AuditRule, type TrailRecord, timeOf } from './rule.js';

const HOUR = 3_600_000;
/** A scheduled rotation whose LastRotatedDate is this close to the change explains it. */
export const SCHEDULED_SLACK_MS = 15 * 60_000;
const ROTATE = 'opsbot:rotate';
const CHANGED = 'secret.version_changed';

/** An `opsbot:rotate` that started or finished: the secret it names explains a version change. */
const isRotation = (r: Pick<TrailRecord, 'action' | 'outcome'>) =>
  r.action === ROTATE && (r.outcome === 'intent' || r.outcome === 'success');
/** The provider's record of a new version of one of opsbot's secrets. */
const isVersionChange = (r: Pick<TrailRecord, 'action' | 'actor'>) =>
  r.action === CHANGED && r.actor === 'opsbot';

/** The secret an `opsbot:rotate` record names: `details.secret`, or its arguments (`secret=audit`, a button's `value=audit`). */
export function rotatedSecret(record: TrailRecord): string | undefined {
  if (typeof record.details?.secret === 'string') return record.details.secret;
  const args = record.details?.args;
  if (typeof args !== 'string') return undefined;
  return /(?:^|\s)(?:secret|value)=([a-z][a-z0-9-]{0,40})(?:\s|$)/.exec(args)?.[1];
}

/**
 * `unexpectedSecretVersion`: the provider saw a new version of one of opsbot's secrets
 * (`secret.version_changed`), but no `opsbot:rotate` (intent or outcome, anyone's) named that
 * secret within the hour before, and Secrets Manager's own schedule does not explain it
 * (`lastRotatedAt`: its LastRotatedDate within 15 minutes of the change). Someone wrote a value by
 * hand, or someone else can write opsbot's secrets. Only with the `aws` source (the caller leaves
 * the rule out otherwise: Vault, file and env versions are always written by a person).
 * It reads rotations and version changes whole (the secret they name is in their details).
 */
export function unexpectedVersionRule(options: {
  lastRotatedAt: (secret: string) => Promise<number | undefined>;
}): AuditRule {
  const rotations = new Map<string, number>();
  const note = (record: TrailRecord) => {
    if (!isRotation(record)) return;
    const secret = rotatedSecret(record);
    if (secret) rotations.set(secret, Math.max(rotations.get(secret) ?? 0, timeOf(record)));
  };
  /** A version change: explained by a rotation of opsbot's, or by Secrets Manager's schedule? */
  const judge = async (record: TrailRecord): Promise<Detection[]> => {
    const secret = record.details?.integration;
    if (typeof secret !== 'string') return [];
    const at = timeOf(record);
    const rotated = rotations.get(secret);
    if (rotated !== undefined && rotated >= at - HOUR && rotated <= at) return [];
    const scheduled = await options.lastRotatedAt(secret).catch(() => undefined);
    if (scheduled !== undefined && Math.abs(scheduled - at) <= SCHEDULED_SLACK_MS) return [];
    const version = typeof record.details?.versionId === 'string' ? record.details.versionId : '?';
    return [
      {
        rule: 'unexpectedSecretVersion',
        key: `unexpectedSecretVersion:${secret}:${version}`,
        title: `A new version of opsbot's ${secret} secret appeared that no rotation of opsbot's started`,
        actor: 'opsbot',
        at: record.at,
        evidence: [record.seq],
        details: {
          secret,
          version: version.slice(0, 8),
          ...(typeof record.details?.previousVersionId === 'string'
            ? { previous: record.details.previousVersionId.slice(0, 8) }
            : {}),
        },
      },
    ];
  };
  return {
    name: 'unexpectedSecretVersion',
    wants: (brief) => isRotation(brief) || isVersionChange(brief),
    learn: note,
    // Synchronous but for a version change (it may ask Secrets Manager's schedule).
    check(record): Detection[] | Promise<Detection[]> {
      note(record);
      return isVersionChange(record) ? judge(record) : [];
    },
  };
}
