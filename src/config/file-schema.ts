import { z } from 'zod';
import { parseDuration, ROLE_ARN } from './parsers.js';

/**
 * The schema of the YAML configuration file (`OPSBOT_CONFIG`): access policy, integration mappings,
 * alert routes and dev-environment templates. Unknown keys are errors: a typo must not silently
 * turn into "deny everything".
 */

const userId = z.string().regex(/^[UW][A-Z0-9]{2,20}$/, 'expected a Slack user id such as U0123ABCD');
const channelId = z.string().regex(/^[CGD][A-Z0-9]{2,20}$/, 'expected a Slack channel id such as C0123ABCD');
const usergroupId = z.string().regex(/^S[A-Z0-9]{2,20}$/, 'expected a Slack user-group id such as S0123ABCD');

/** A command name: `gh`, `devenv`. */
const COMMAND_NAME = /^[a-z][a-z0-9-]{0,30}$/;
/** A subcommand as actions name it: words of `[a-z0-9-]` (not starting with `-`), one space apart. */
const SUBCOMMAND = /^[a-z0-9][a-z0-9-]*( [a-z0-9][a-z0-9-]*)*$/;
const MAX_SUBCOMMAND_PATTERN = 41;

/**
 * Whether an `actions` pattern of an access rule is well formed: `*` (everything), a command
 * (`gh`, same as `gh:*`), or `command:subcommand` where `*` in the subcommand matches any run of
 * characters (`gh:pr *`, `gh:*list`, `devenv:up`). A pattern is accepted only when it can match
 * some action, so a trailing or doubled space, a dot, upper case or a word starting with `-` is
 * refused rather than silently never matching. A `*` command (`*:x`) is refused too: name the
 * command, so that a command added later is not granted by accident.
 *
 * Every `*` may stand for one letter, and a letter is valid anywhere in an action, so a pattern
 * can match some action exactly when it does with every `*` replaced by a letter.
 */
export function isActionPattern(pattern: string): boolean {
  if (pattern === '*') return true;
  const colon = pattern.indexOf(':');
  const command = colon === -1 ? pattern : pattern.slice(0, colon);
  if (!COMMAND_NAME.test(command)) return false;
  if (colon === -1) return true;
  const sub = pattern.slice(colon + 1);
  return sub.length <= MAX_SUBCOMMAND_PATTERN && SUBCOMMAND.test(sub.replace(/\*/g, 'a'));
}

const actionPattern = z.string().refine(isActionPattern, {
  error: (issue) =>
    `${JSON.stringify(String(issue.input).slice(0, 60))} cannot match any action: a pattern is command:subcommand, with * for any run of characters, such as "gh:*", "gh:pr *" or "devenv:up" (lower case, one space between words, no space at either end), or "*" for everything`,
});

const duration = z.string().transform((text, ctx) => {
  const parsed = parseDuration(text, { maxMs: 30 * 86_400_000 });
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: `expected ${parsed.expected}` });
    return z.NEVER;
  }
  return parsed.value;
});

const rule = z
  .strictObject({
    actions: z.array(actionPattern).min(1, 'a rule needs at least one action'),
    users: z.array(userId).optional(),
    usergroups: z.array(usergroupId).optional(),
    channels: z.array(channelId).optional(),
    description: z.string().max(200).optional(),
  })
  .refine((r) => !(r.users && r.users.length === 0 && r.usergroups && r.usergroups.length === 0), {
    message: 'users and usergroups are both empty: this rule can never match; remove it or add someone',
  });

const access = z.strictObject({
  admins: z.array(userId).default([]),
  rules: z.array(rule).max(500).default([]),
});

const priority = z.enum(['P1', 'P2', 'P3', 'P4', 'P5']);

const route = z.strictObject({
  match: z.strictObject({
    tags: z.array(z.string().min(1).max(200)).optional(),
    priority: z.array(priority).optional(),
    monitorIds: z.array(z.union([z.number().int().positive(), z.string().regex(/^\d+$/)])).optional(),
  }),
  channel: channelId,
});

const template = z
  .strictObject({
    launchTemplate: z
      .string()
      .regex(
        /^(lt-[0-9a-f]{1,17}|[A-Za-z0-9()./_-]{3,128})$/,
        'expected a launch template id (lt-…) or name',
      ),
    instanceType: z
      .string()
      .regex(/^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$/, 'expected an EC2 instance type'),
    defaultTtl: duration,
    maxTtl: duration,
  })
  .refine((t) => t.defaultTtl <= t.maxTtl, {
    message: 'defaultTtl must not exceed maxTtl',
    path: ['defaultTtl'],
  });

export const fileSchema = z.strictObject({
  access: access.default({ admins: [], rules: [] }),
  github: z
    .strictObject({
      users: z
        .record(userId, z.string().regex(/^[A-Za-z0-9-]{1,39}$/, 'expected a GitHub login'))
        .default({}),
    })
    .default({ users: {} }),
  jira: z
    .strictObject({
      defaultProject: z
        .string()
        .regex(/^[A-Z][A-Z0-9_]{1,9}$/, 'expected a Jira project key such as OPS')
        .optional(),
      /** The board `/jira sprint` shows when no board is given. */
      defaultBoard: z.number().int().positive().optional(),
      users: z.record(userId, z.string().min(1).max(128)).default({}),
    })
    .default({ users: {} }),
  alerts: z
    .strictObject({
      defaultChannel: channelId.optional(),
      routes: z.array(route).max(200).default([]),
    })
    .default({ routes: [] }),
  devenv: z
    .strictObject({
      roleArn: z.string().regex(ROLE_ARN, 'expected an IAM role ARN').optional(),
      maxPerUser: z.number().int().min(1).max(50).default(2),
      templates: z
        .record(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'expected a short lower-case name'), template)
        .default({}),
    })
    .default({ maxPerUser: 2, templates: {} }),
});

export type OpsbotFile = z.output<typeof fileSchema>;

/** What an empty configuration file means: nobody may run anything but help and whoami. */
export const EMPTY_FILE: OpsbotFile = fileSchema.parse({});
