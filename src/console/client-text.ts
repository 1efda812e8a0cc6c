import type { Names } from './render-blocks.js';

/**
 * What a Slack client sends for a slash command whose app asked for escaping (`should_escape` in
 * the manifest): `&`, `<` and `>` as entities, then `@name` of a workspace user as `<@U…|name>`,
 * `#name` of a channel as `<#C…|name>`, `@handle` of a user group as `<!subteam^S…|@handle>`,
 * `@here`/`@channel`/`@everyone` as `<!here>`…, and links as `<https://…>`. Names the workspace
 * does not know stay as typed, as in Slack.
 *
 * @example
 * asSlackSends('audit --user @dev', { users: { U0DEV: 'dev' } }) // 'audit --user <@U0DEV|dev>'
 */
export function asSlackSends(text: string, names: Names): string {
  const users = byName(names.users);
  const channels = byName(names.channels);
  const groups = byName(names.usergroups);
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(MENTION, (whole, before: string, sigil: string, word: string) => {
      const { name, after } = known(word, sigil === '#' ? [channels] : [users, groups, BROADCASTS]);
      if (name === undefined) return whole;
      const key = name.toLowerCase();
      let entity: string;
      const id = (sigil === '#' ? channels : users.has(key) ? users : groups).get(key) ?? '';
      if (sigil === '#') entity = `<#${id}|${names.channels?.[id]}>`;
      else if (users.has(key)) entity = `<@${id}|${names.users?.[id]}>`;
      else if (groups.has(key)) entity = `<!subteam^${id}|@${names.usergroups?.[id]}>`;
      else entity = `<!${key}>`;
      return `${before}${entity}${after}`;
    })
    .replace(/(^|[\s(])(https?:\/\/[^\s<>"]+?)([.,;:!?)]*)(?=$|\s)/g, '$1<$2>$3');
}

/** `@word` or `#word` at the start or after a space or punctuation (not `a@b.c`, not `repo#42`). */
const MENTION = /(^|[^\w@#/&;.-])([@#])([\w.-]+)/g;

/**
 * The `@names` in `text` that are no user, user group or broadcast of the workspace: Slack sends
 * them as plain text, which a command expecting a user refuses. Each once, in order.
 */
export function unknownMentions(text: string, names: Names): string[] {
  const maps = [byName(names.users), byName(names.usergroups), BROADCASTS];
  const unknown = new Set<string>();
  for (const [, , sigil, word] of text.matchAll(MENTION)) {
    if (sigil !== '@' || !word) continue;
    if (known(word, maps).name === undefined) unknown.add(`@${word.replace(/[.-]+$/, '')}`);
  }
  return [...unknown];
}

/** A note for the `@names` Slack would send as text, naming who is in the workspace; or undefined. */
export function unknownMentionsNote(text: string, names: Names): string | undefined {
  const unknown = unknownMentions(text, names);
  if (unknown.length === 0) return undefined;
  const known = [...Object.values(names.users ?? {}), ...Object.values(names.usergroups ?? {})].map(
    (n) => `@${n}`,
  );
  const one = unknown.length === 1;
  const shown = unknown.slice(0, 5).map((n) => n.slice(0, 40));
  const choices = known.length > 1 ? `${known.slice(0, -1).join(', ')} or ${known.at(-1)}` : known.join('');
  return `(${shown.join(', ')} ${one ? 'is' : 'are'} no one in this workspace, so Slack sends ${one ? 'it' : 'them'} as text${choices ? `; try ${choices}` : ''})`;
}

const BROADCASTS = new Map(['here', 'channel', 'everyone'].map((b) => [b, b]));

/** id → name as name (lower case) → id. */
function byName(ids: Record<string, string> | undefined): Map<string, string> {
  return new Map(Object.entries(ids ?? {}).map(([id, name]) => [name.toLowerCase(), id]));
}

/** The word, or the word less trailing dots and dashes (`@dev.`), if one of the maps knows it. */
function known(word: string, maps: Map<string, string>[]): { name?: string; after: string } {
  for (const name of [word, word.replace(/[.-]+$/, '')]) {
    if (name && maps.some((m) => m.has(name.toLowerCase()))) return { name, after: word.slice(name.length) };
  }
  return { after: '' };
}
