import { z } from 'zod';
import { channelId, usergroupId, userId } from '../config/fields.js';
import { actionPattern } from '../config/file-schema.js';
import { formatDuration, parseDuration } from '../config/parsers.js';
import { defineConfigSection } from '../config/section.js';

/** How long a request stays open: at least a minute (someone must have time to see it), at most a week. */
export const MIN_EXPIRES_MS = 60_000;
export const MAX_EXPIRES_MS = 7 * 86_400_000;
export const DEFAULT_EXPIRES = '15m';

/** An argument or flag name as commands declare them: `template`, `repo`, `dry-run`. */
const ARG_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const MAX_RULES = 100;
const MAX_ARGS = 10;
const MAX_VALUES = 50;
const MAX_VALUE_LENGTH = 200;
const MAX_APPROVERS = 100;

/**
 * `expires`: a duration within the bounds, in milliseconds. Its own parse rather than `duration`
 * from fields.ts, so that the message names these bounds and not the file's general 30 days.
 */
const expires = z.string().transform((text, ctx) => {
  const parsed = parseDuration(text, { minMs: MIN_EXPIRES_MS, maxMs: MAX_EXPIRES_MS });
  if (!parsed.ok) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration from ${formatDuration(MIN_EXPIRES_MS)} to ${formatDuration(MAX_EXPIRES_MS)}, such as 15m, 4h or 1d (units d, h, m, s)`,
    });
    return z.NEVER;
  }
  return parsed.value;
});

/**
 * One value an argument must have: text, or a YAML number or boolean read as its text
 * (`id: [12345]` is "12345", `force: [true]` is "true"), compared trimmed.
 */
const argValue = z
  .union([z.string(), z.number(), z.boolean()], {
    error: 'expected a value such as large or acme/prod (text, a number or true/false)',
  })
  .transform((value) => String(value).trim())
  .pipe(
    z
      .string()
      .min(1, 'expected a value such as large or acme/prod, not an empty one')
      .max(MAX_VALUE_LENGTH, `expected a value of at most ${MAX_VALUE_LENGTH} characters`),
  );

/**
 * The conditions, by argument name. The names are checked here rather than as the record's key
 * schema, whose refusal would read "Invalid key in record" instead of what a name looks like.
 */
const args = z
  .record(
    z.string(),
    z
      .array(argValue)
      .min(1, 'list at least one value, such as [large]')
      .max(MAX_VALUES, `at most ${MAX_VALUES} values`),
  )
  .superRefine((record, ctx) => {
    const names = Object.keys(record);
    if (names.length < 1 || names.length > MAX_ARGS)
      ctx.addIssue({
        code: 'custom',
        message: `name 1 to ${MAX_ARGS} arguments with their values, such as { template: [large] }, or leave args out to hold every use of the action`,
      });
    for (const name of names.filter((n) => !ARG_NAME.test(n)))
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: 'expected an argument or flag name such as template or repo (lower case, digits, -)',
      });
  });

const approvers = z
  .strictObject({
    users: z.array(userId).max(MAX_APPROVERS, `at most ${MAX_APPROVERS} users`).optional(),
    usergroups: z.array(usergroupId).max(MAX_APPROVERS, `at most ${MAX_APPROVERS} usergroups`).optional(),
  })
  .refine((a) => (a.users?.length ?? 0) + (a.usergroups?.length ?? 0) > 0, {
    message:
      'names nobody who may approve: add users (such as [U0LEAD]) or usergroups (such as [S0LEADS]); the requester never approves their own request',
  });

const rule = z.strictObject({
  /** Which actions need a second person (the access rules' pattern syntax). */
  actions: z
    .array(actionPattern)
    .min(1, 'a rule needs at least one action, such as ["devenv:up"]')
    .max(50, 'at most 50 actions in one rule'),
  /** Only when every named argument (or flag) has one of its listed values; absent: every use. */
  args: args.optional(),
  /** Who may decide (never the requester): Slack users, members of Slack user groups. */
  approvers,
  /** How long a request stays open, in milliseconds. */
  expires: expires.prefault(DEFAULT_EXPIRES),
  /** Where the request is posted; absent: the channel it was asked in. */
  channel: channelId.optional(),
});

/**
 * `approvals:` of the configuration file: the actions (optionally only with certain argument
 * values) that run only once a second person approves, who may approve, and how long a request
 * stays open. A list of rules; the first that holds an action applies (src/approvals/rules.ts).
 * Approval adds to the access policy, never replaces it.
 */
const approvalsSchema = z.array(rule).max(MAX_RULES, `at most ${MAX_RULES} approval rules`);

export type ApprovalsConfig = z.output<typeof approvalsSchema>;

declare module '../config/section.js' {
  interface ConfigSections {
    approvals: ApprovalsConfig;
  }
}

export const approvalsConfig = defineConfigSection('approvals', approvalsSchema, { default: [] });
