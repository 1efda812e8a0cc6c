import { plainFromSlack } from './command-text.js';

/** The longest reason kept (it goes into the audit record and the security channel). */
export const MAX_BREAK_GLASS_REASON = 200;

export type BreakGlassResult = { ok: true; text: string; reason?: string } | { ok: false; problem: string };

/**
 * `--break-glass` followed by its reason, at a word boundary: quoted (`"…"`, `'…'`, “…”, ‘…’) or
 * one word; `--break-glass=…` too. Only the first; a second is refused. A `=` with no readable
 * reason after it (`--break-glass=`, an unterminated quote) is the flag without a reason.
 */
const FLAG =
  /(^|[ \t\n\r\u00a0])--break-glass(?:(?:=|[ \t\n\r\u00a0]+)(?:"([^"]*)"|'([^']*)'|\u201c([^\u201d]*)\u201d|\u2018([^\u2019]*)\u2019|([^ \t\n\r\u00a0"'\u201c\u2018]+)))?(?=$|[ \t\n\r\u00a0=])/;

/**
 * Takes `--break-glass "<reason>"` out of a slash command's text, whatever the command: the rest is
 * routed and parsed as usual, and the reason is plain text (Slack's entities decoded, at most
 * {@link MAX_BREAK_GLASS_REASON} characters). Without the flag the text comes back as it was.
 *
 * @example
 * takeBreakGlass('up large --break-glass "prod is down" --ttl 2h');
 * // { ok: true, text: 'up large --ttl 2h', reason: 'prod is down' }
 */
export function takeBreakGlass(text: string): BreakGlassResult {
  const found = FLAG.exec(text);
  if (!found) return { ok: true, text };
  const raw = found.slice(2).find((group) => group !== undefined);
  const reason = raw === undefined ? '' : plainFromSlack(raw).trim();
  if (reason === '' || raw?.startsWith('--'))
    return { ok: false, problem: 'Say why with the flag: `--break-glass "what is broken"`.' };
  if (reason.length > MAX_BREAK_GLASS_REASON)
    return {
      ok: false,
      problem: `The break-glass reason is too long: at most ${MAX_BREAK_GLASS_REASON} characters.`,
    };
  const rest = `${text.slice(0, found.index)}${found[1] ?? ''}${text.slice(found.index + found[0].length)}`
    .replace(/[ \t]{2,}/g, ' ')
    .trim();
  if (FLAG.test(rest)) return { ok: false, problem: '`--break-glass` is given twice.' };
  return { ok: true, text: rest, reason };
}
