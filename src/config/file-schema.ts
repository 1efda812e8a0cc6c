import { z } from 'zod';
import { channelId, usergroupId, userId } from './fields.js';
import type { ConfigSection, ConfigSections } from './section.js';

/**
 * The schema of the YAML configuration file (`OPSBOT_CONFIG`): the access policy, which is core,
 * and one section per registered integration or feature that contributes one (`github`, `jira`,
 * `alerts`, `devenv`: see {@link ConfigSection}). Unknown keys are errors: a typo must not silently
 * turn into "deny everything".
 */

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

/** An `actions` pattern ({@link isActionPattern}), refused with what a valid one looks like. */
export const actionPattern = z.string().refine(isActionPattern, {
  error: (issue) =>
    `${JSON.stringify(String(issue.input).slice(0, 60))} cannot match any action: a pattern is command:subcommand, with * for any run of characters, such as "gh:*", "gh:pr *" or "devenv:up" (lower case, one space between words, no space at either end), or "*" for everything`,
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

/** The core of the file: what opsbot reads whatever is registered. */
const coreShape = {
  access: access.default({ admins: [], rules: [] }),
};

/** The file as code reads it: `access`, and every section its owner declared in {@link ConfigSections}. */
export type OpsbotFile = { access: z.output<typeof access> } & ConfigSections;

/**
 * The file schema for these sections: `access` plus each section that has a schema under its key,
 * an absent section read as its default, any other top-level key refused.
 *
 * @throws Error when two sections share a key or one is named after a core key (a wiring mistake,
 *   found at start-up).
 */
export function fileSchemaOf(sections: readonly ConfigSection[]): z.ZodType<OpsbotFile> {
  const shape: Record<string, z.ZodType> = { ...coreShape };
  for (const section of sections) {
    // A section of environment variables only (Datadog's site) has no key in the file.
    if (!section.schema) continue;
    if (Object.hasOwn(coreShape, section.key))
      throw new Error(
        `the configuration section "${section.key}" is opsbot's own: name the section otherwise`,
      );
    if (Object.hasOwn(shape, section.key))
      throw new Error(
        `two configuration sections are named "${section.key}": each top-level key of the file has one owner`,
      );
    shape[section.key] = section.schema.prefault(section.default ?? {});
  }
  return z.strictObject(shape) as unknown as z.ZodType<OpsbotFile>;
}

/** What an empty configuration file means with these sections: nobody may run anything but help and whoami. */
export function emptyFileOf(sections: readonly ConfigSection[]): OpsbotFile {
  return fileSchemaOf(sections).parse({});
}
