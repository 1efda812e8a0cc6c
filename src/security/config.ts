import { z } from 'zod';
import { channelId, duration } from '../config/fields.js';
import type { Parsed } from '../config/parsers.js';
import { defineConfigSection } from '../config/section.js';

/**
 * An IAM role or user ARN (a role covers its assumed-role sessions: CloudTrail's sessionIssuer), or
 * `vault:role/<name>`: tokens Vault issued at login to that auth role (with the `vault` source).
 */
const principalArn = z
  .string()
  .regex(
    /^(arn:aws[a-z-]*:(iam::\d{12}:(role|user)\/[\w+=,.@/-]{1,512}|sts::\d{12}:assumed-role\/[\w+=,.@-]{1,64}\/[\w+=,.@-]{1,64})|vault:role\/[\w.@-]{1,128})$/,
    'expected an IAM role or user ARN such as arn:aws:iam::111122223333:role/opsbot-task, or vault:role/<name>',
  );

const off = z.boolean().default(false);
const count = (fallback: number) => z.number().int().min(1).max(100_000).default(fallback);

/**
 * The detections on the audit stream and their thresholds (README, "Security reviews and
 * detections"); every rule has defaults and can be turned off with `off: true`.
 */
const detectionsSchema = z.strictObject({
  /** One person refused `count` times within `within`. */
  denials: z.strictObject({ count: count(5), within: duration.prefault('10m'), off }).prefault({}),
  /**
   * A person's first use of an action with side effects (learned from the trail's last `learnDays`),
   * once that person has `minHistory` records: a newcomer's first steps are not news.
   */
  firstUse: z
    .strictObject({ learnDays: z.number().int().min(1).max(365).default(90), minHistory: count(20), off })
    .prefault({}),
  /** An admin action at an hour of the day that admin has never acted at (once they have `minHistory` actions). */
  offHours: z.strictObject({ minHistory: count(20), off }).prefault({}),
  /** `count` destructive actions (any person) within `within`. */
  massDestructive: z
    .strictObject({
      count: count(5),
      within: duration.prefault('5m'),
      actions: z.array(z.string().min(1).max(100)).min(1).max(50).default(['devenv:down', 'dd:mute']),
      off,
    })
    .prefault({}),
  /** Every `every`, the newest `records` of the chain are verified: a gap or a break is reported. */
  chain: z.strictObject({ every: duration.prefault('10m'), records: count(1_000), off }).prefault({}),
  /** A secret version change that no rotation started (a value written by hand or by someone else). */
  unexpectedSecretVersion: z.strictObject({ off }).prefault({}),
  /** Requests failing signature or secret checks: `count` within `within` (someone probing). */
  signatureFailures: z.strictObject({ count: count(20), within: duration.prefault('1m'), off }).prefault({}),
  /** CloudTrail (or Vault audit) calls on opsbot's secrets by a principal not in `expectedPrincipals`. */
  secretAccess: z.strictObject({ off }).prefault({}),
});

/**
 * `security:` of the configuration file: where opsbot reports security events, the scheduled
 * access review, who may read opsbot's secrets, the leak scan, and the detections. One section for
 * every security setting, owned here.
 */
const securitySchema = z.strictObject({
  /** The channel that gets security reports; without it, each admin gets them by DM. */
  channel: channelId.optional(),
  /** The scheduled access review: how often, and the usage window (days) it reads. */
  review: z
    .strictObject({
      every: duration.prefault('30d'),
      days: z.number().int().min(1).max(365).default(90),
      off,
    })
    .prefault({}),
  /** Principals expected to read opsbot's secrets (the task role; a rotation function's role). */
  expectedPrincipals: z.array(principalArn).max(100).default([]),
  /** Scan messages in channels opsbot is a member of for credentials. */
  leakScan: z.boolean().default(true),
  detections: detectionsSchema.prefault({}),
});

export type SecurityConfig = z.output<typeof securitySchema>;
export type DetectionsConfig = SecurityConfig['detections'];

/** What the security feature reads from the environment: `config.security`. */
export interface SecuritySettings {
  /**
   * `OPSBOT_EVENTS_QUEUE_URL`: the SQS queue the CDK stack routes CloudTrail's calls on opsbot's
   * secrets to in Socket Mode (nothing can call the bot there); set, the bot long-polls it.
   */
  eventsQueueUrl?: string;
}

declare module '../config/section.js' {
  interface ConfigSections {
    security: SecurityConfig;
  }
  interface EnvSettings {
    security: SecuritySettings;
  }
}

/** SQS's endpoints: `sqs.<region>.amazonaws.com` (FIPS, China), and the legacy `<region>.queue.amazonaws.com`. */
const SQS_HOST =
  /^(sqs(-fips)?\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com(\.cn)?|[a-z]{2}(-[a-z]+)+-\d\.queue\.amazonaws\.com(\.cn)?)$/;
/** `/<account>/<queue name>`: SQS's names are at most 80 letters, digits, `-` and `_` (`.fifo` ends a FIFO queue's). */
const QUEUE_PATH = /^\/\d{12}\/[A-Za-z0-9_-]{1,80}(\.fifo)?$/;

/**
 * An SQS queue URL (`https://sqs.eu-west-1.amazonaws.com/111122223333/opsbot-events`), or the same
 * path on `http://127.0.0.1:<port>` (moto or the sandbox's queue, for tests and the console). The
 * consumer's SDK client sends its requests to this URL's host, so no other host is taken.
 */
export function parseSqsQueueUrl(text: string): Parsed<string> {
  const expected =
    'an SQS queue URL such as https://sqs.eu-west-1.amazonaws.com/111122223333/opsbot-events (http://127.0.0.1:<port>/… only for tests)';
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, expected };
  }
  const local = url.protocol === 'http:' && url.hostname === '127.0.0.1';
  const aws = url.protocol === 'https:' && SQS_HOST.test(url.hostname) && url.port === '';
  if (
    (!local && !aws) ||
    url.username ||
    url.password ||
    url.search ||
    url.hash ||
    !QUEUE_PATH.test(url.pathname)
  )
    return { ok: false, expected };
  return { ok: true, value: url.toString() };
}

export const securityConfig = defineConfigSection('security', securitySchema, {
  env: { eventsQueueUrl: { name: 'OPSBOT_EVENTS_QUEUE_URL', deploy: 'stack', parse: parseSqsQueueUrl } },
});
