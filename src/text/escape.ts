/**
 * Escaping user text for Slack output. Slack reads `<…>` as mentions, channels and links, and
 * `&` as the start of an entity, so user text is escaped before it is echoed: `<!channel>` typed
 * by a user comes back as text and pings nobody. Bare `@here` (which some clients link) gets a
 * zero-width space after the `@`.
 */
const ZWSP = '\u200b';

export function escapeText(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/@(channel|here|everyone)\b/gi, `@${ZWSP}$1`);
}

/** At most `max` UTF-16 units including the trailing `…`; never splits a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let cut = Math.max(0, max - 1);
  const code = text.charCodeAt(cut - 1);
  if (cut > 0 && code >= 0xd800 && code <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: line breaks and control characters are what it removes
const BREAKS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/**
 * Text from anyone (a user, GitHub, Jira) as inline code that nothing can break out of: a backtick
 * becomes `ˋ` (U+02CB), line breaks and control characters a space, `&`, `<`, `>` are escaped,
 * `@here` defused, and empty text a no-break space (Slack shows "``" literally). At most `max`
 * characters of the text are kept.
 *
 * @example
 * inlineCode('feat/`rm -rf`'); // "`feat/ˋrm -rfˋ`"
 */
export function inlineCode(text: string, max = 80): string {
  const oneLine = truncate(String(text).replace(/`/g, '\u02cb').replace(BREAKS, ' '), max);
  return `\`${oneLine.trim() === '' ? '\u00a0' : escapeText(oneLine)}\``;
}

export function userMention(id: string): string {
  if (!/^[UW][A-Z0-9]{2,20}$/.test(id)) throw new TypeError('not a Slack user id');
  return `<@${id}>`;
}

export function channelMention(id: string): string {
  if (!/^[CGD][A-Z0-9]{2,20}$/.test(id)) throw new TypeError('not a Slack channel id');
  return `<#${id}>`;
}

export function usergroupMention(id: string): string {
  if (!/^S[A-Z0-9]{2,20}$/.test(id)) throw new TypeError('not a Slack user-group id');
  return `<!subteam^${id}>`;
}
