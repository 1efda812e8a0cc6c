import { UserFacingError } from '../errors.js';
import { inlineCode } from '../text/escape.js';

/** An EC2 instance id as EC2 shapes it: `i-` and 8 (older) or 17 lowercase hex digits. */
export const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
/** A dev environment's name (`up --name`): lower case, digits and dashes; never read as an id (`i-…`). */
export const ENV_NAME = /^(?!i-)[a-z][a-z0-9-]{0,40}$/;
/** An id and a name to show in help and errors. */
export const EXAMPLE_ID = 'i-0abc1234def567890';

/** What a user's `<id|name>` names: an instance by its id, or a dev environment by its name. */
export type EnvRef = { kind: 'id'; id: string } | { kind: 'name'; name: string };

export function isInstanceId(text: string): boolean {
  return INSTANCE_ID.test(text);
}

/**
 * Reads `/devenv extend|down <id|name>`: an id exactly as EC2 shapes it, or a name that cannot be
 * read as one. Anything else is refused with what an id looks like, before any AWS call.
 *
 * @example
 * parseEnvRef('i-0abc1234def567890'); // { kind: 'id', id: 'i-0abc1234def567890' }
 * parseEnvRef('web-1'); // { kind: 'name', name: 'web-1' }
 * parseEnvRef('i-zzz'); // throws UserFacingError
 */
export function parseEnvRef(text: string): EnvRef {
  if (INSTANCE_ID.test(text)) return { kind: 'id', id: text };
  if (ENV_NAME.test(text)) return { kind: 'name', name: text };
  if (/^i-/i.test(text))
    throw new UserFacingError(
      `${inlineCode(text)} is not an EC2 instance id: an id is \`i-\` and 8 or 17 hex digits, like \`${EXAMPLE_ID}\`. You can also use the name it was started with (\`--name\`); \`/devenv list\` shows both.`,
    );
  throw new UserFacingError(
    `${inlineCode(text)} is neither an instance id (like \`${EXAMPLE_ID}\`) nor a dev-environment name (lower case letters, digits and dashes, like \`web-1\`). \`/devenv list\` shows yours.`,
  );
}

/** Refuses a `--name` that could not be used later: one that reads as an instance id. */
export function checkEnvName(name: string): string {
  if (ENV_NAME.test(name)) return name;
  if (/^i-/i.test(name))
    throw new UserFacingError(
      `A dev environment cannot be named ${inlineCode(name)}: names starting with \`i-\` read as instance ids. Pick another \`--name\`, like \`web-1\`.`,
    );
  throw new UserFacingError(
    `A dev environment cannot be named ${inlineCode(name)}: use lower case letters, digits and dashes, starting with a letter (at most 41 characters), like \`web-1\`.`,
  );
}
