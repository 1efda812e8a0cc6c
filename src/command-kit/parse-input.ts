import { parseDuration, parseEnum, parseInteger } from '../config/parsers.js';
import { inlineCode } from '../text/escape.js';
import type { ArgSpec, ArgValue, FlagSpec, ParsedInput, Subcommand } from './command-spec.js';
import { type Token, tokenize, tokenText } from './command-text.js';

export type InputResult = { ok: true; input: ParsedInput } | { ok: false; problem: string };

export interface InputContext {
  /** The caller's ids: `me` means the caller, `here` means this channel. */
  userId: string;
  channelId: string;
  /**
   * Every policy action (`gh:pr list`): a flag value that is one, space included, needs no quotes
   * (`--command gh:pr list`).
   */
  actions?: readonly string[];
}

/**
 * Matches the tokens after a subcommand against its grammar: positional arguments in order (the
 * last may take the rest), `--flag value`, `--flag=value` and `flag=value` for declared flags.
 * - A flag value followed by a word that together make a known action takes that word too:
 *   `--command gh:pr list` (see {@link InputContext.actions}).
 * - Quoted text that does not fit an optional argument with a pattern passes it over to the next
 *   argument: `/jira create "Summary"` leaves out the optional project. So does any word that does
 *   not fit it when the next argument takes free words: `/jira create fix the login page`.
 * - Free text (`rest`, and `wordsUnlessQuoted` unquoted) is plain text: `<!here>` is `@here`, a
 *   mention `@name`, a link `label (url)` (see `tokenText`); elsewhere a broadcast is refused.
 * Every problem is one sentence naming the argument and what it expects; user text is escaped.
 */
export function parseInput(sub: Subcommand, tokens: readonly Token[], ctx: InputContext): InputResult {
  const args: ParsedInput['args'] = {};
  const flags: ParsedInput['flags'] = {};
  const positional = sub.args ?? [];
  const flagSpecs = sub.flags ?? [];
  const rest: string[] = [];
  let next = 0;
  /** The argument taking the free words from here on. */
  let collecting: ArgSpec | undefined;

  for (let i = 0; i < tokens.length; i++) {
    let token = tokens[i] as Token;
    // In free text, `x=y` that names none of the options is just text (`/jira comment OPS-1 set x=y`).
    if (token.kind === 'pair') {
      const key = token.key.toLowerCase();
      if (!flagSpecs.some((f) => f.name === key) && (collecting ?? positional[next])?.rest)
        token = { kind: 'text', value: tokenText(token), quoted: false };
    }
    if (token.kind === 'flag' || token.kind === 'pair') {
      const name = token.kind === 'flag' ? token.name : token.key.toLowerCase();
      const spec = flagSpecs.find((f) => f.name === name);
      if (!spec) {
        const known = flagSpecs.map((f) => `\`--${f.name}\``).join(', ');
        return fail(
          `${inlineCode(tokenText(token))} is not an option of \`${sub.name}\`${known ? `; its options are ${known}` : ''}.`,
        );
      }
      if (flags[spec.name] !== undefined) return fail(`\`--${spec.name}\` is given twice.`);
      const given = token.kind === 'pair' ? token.value : token.value;
      let raw: Token | undefined = given === undefined ? undefined : valueToken(given);
      if (!raw && spec.kind === 'boolean') {
        flags[spec.name] = true;
        continue;
      }
      if (!raw) {
        const following = tokens[i + 1];
        if (!following || following.kind === 'flag' || following.kind === 'pair') {
          return fail(`\`--${spec.name}\` needs a value: ${describe(spec)}.`);
        }
        raw = following;
        i++;
      }
      const action = actionWithSpace(raw, tokens[i + 1], ctx);
      if (action) {
        raw = action;
        i++;
      }
      const value = convert(spec, `--${spec.name}`, raw, ctx);
      if (!value.ok) return value;
      flags[spec.name] = value.value;
      continue;
    }
    if (!collecting) {
      while (passesOver(positional[next], positional[next + 1], token)) next++;
      const spec = positional[next];
      if (!spec) return fail(`I didn't expect ${inlineCode(tokenText(token))} there.`);
      const quoted = token.kind === 'text' && token.quoted;
      if (spec.rest || (spec.wordsUnlessQuoted && !quoted)) collecting = spec;
      else {
        const value = convert(spec, `<${spec.name}>`, token, ctx);
        if (!value.ok) return value;
        args[spec.name] = value.value;
        next++;
        continue;
      }
    }
    // Free text: flags were read above, so every other token is words (plain text).
    rest.push(tokenText(token));
  }

  if (collecting) {
    const text = rest.join(' ');
    if (collecting.maxLength !== undefined && text.length > collecting.maxLength)
      return fail(`<${collecting.name}> is too long: at most ${collecting.maxLength} characters.`);
    args[collecting.name] = text;
    next++;
  }
  const missing = positional.slice(next).find((a) => !a.optional && args[a.name] === undefined);
  if (missing) return fail(`Missing <${missing.hint ?? missing.name}>: ${describe(missing)}.`);
  return { ok: true, input: { args, flags } };
}

/** `gh:pr` then `list` → `gh:pr list`, when that is a known action. */
function actionWithSpace(value: Token, next: Token | undefined, ctx: InputContext): Token | undefined {
  if (value.kind !== 'text' || !value.value.includes(':')) return undefined;
  if (next?.kind !== 'text' || next.quoted) return undefined;
  const joined = `${value.value} ${next.value}`;
  return ctx.actions?.includes(joined.toLowerCase())
    ? { kind: 'text', value: joined, quoted: true }
    : undefined;
}

/**
 * A token that does not fit an optional argument with a pattern goes to the next argument when it
 * is quoted text, or when the next argument takes free words.
 */
function passesOver(spec: ArgSpec | undefined, following: ArgSpec | undefined, token: Token): boolean {
  if (!spec?.optional || spec.rest || !spec.pattern || !following) return false;
  if (convert(spec, spec.name, token, { userId: 'U0', channelId: 'C0' }).ok) return false;
  if (token.kind === 'text' && token.quoted) return true;
  return following.rest === true || following.wordsUnlessQuoted === true;
}

/** Whether a token would be a valid value of an argument (for routing: is this word an argument?). */
export function fitsArgument(spec: ArgSpec, token: Token): boolean {
  if (spec.rest) return token.kind !== 'flag' && token.kind !== 'pair';
  return convert(spec, spec.name, token, { userId: 'U0', channelId: 'C0' }).ok;
}

const SLACK_USER_VALUE = /^<@([UW][A-Z0-9]{2,20})(?:\|([\s\S]*))?>$/;

/**
 * The Slack user given for an `orSlackUser` argument (`--author @dev`), or undefined when a plain
 * value was (`octocat`): angle brackets are in no other value.
 */
export function slackUserIn(value: string): { id: string; label?: string } | undefined {
  const m = SLACK_USER_VALUE.exec(value);
  if (!m) return undefined;
  return { id: m[1] as string, ...(m[2] ? { label: m[2] } : {}) };
}

/** A `--flag=value` value: an entity (`<@U1|al>`) is read as one, anything else is text. */
function valueToken(value: string): Token {
  if (value.startsWith('<') && value.endsWith('>')) {
    const parsed = tokenize(value);
    if (parsed.ok && parsed.tokens.length === 1) return parsed.tokens[0] as Token;
  }
  return { kind: 'text', value, quoted: true };
}

type Converted = { ok: true; value: ArgValue } | { ok: false; problem: string };

function fail(problem: string): { ok: false; problem: string } {
  return { ok: false, problem };
}

function describe(spec: ArgSpec | FlagSpec): string {
  if (spec.accepts) return spec.accepts;
  if (spec.choices) return `one of ${spec.choices.map((c) => `\`${c}\``).join(', ')}`;
  switch (spec.kind) {
    case 'user':
      return 'a user, like @alice or `me`';
    case 'channel':
      return 'a channel, like #dev or `here`';
    case 'number':
      return `a whole number from ${spec.min ?? 1} to ${spec.max ?? 1000}`;
    case 'duration':
      return 'a duration such as 30m, 4h or 1d';
    default:
      return spec.hint ? `like \`${spec.hint}\`` : 'some text';
  }
}

function convert(spec: ArgSpec | FlagSpec, label: string, token: Token, ctx: InputContext): Converted {
  const bad = () => fail(`${label} must be ${describe(spec)}; got ${inlineCode(tokenText(token))}.`);
  const kind = spec.choices ? 'choice' : (spec.kind ?? 'text');
  if (kind === 'user') {
    if (token.kind === 'user') return { ok: true, value: token.id };
    if (token.kind === 'text' && token.value.toLowerCase() === 'me') return { ok: true, value: ctx.userId };
    if (token.kind === 'text' && /^[UW][A-Z0-9]{2,20}$/.test(token.value))
      return { ok: true, value: token.value };
    return bad();
  }
  if (kind === 'channel') {
    if (token.kind === 'channel') return { ok: true, value: token.id };
    if (token.kind === 'text' && token.value.toLowerCase() === 'here')
      return { ok: true, value: ctx.channelId };
    if (token.kind === 'text' && /^[CGD][A-Z0-9]{2,20}$/.test(token.value))
      return { ok: true, value: token.value };
    return bad();
  }
  if (spec.orSlackUser && kind === 'text' && token.kind === 'user')
    return { ok: true, value: `<@${token.id}${token.label ? `|${token.label}` : ''}>` };
  if (token.kind !== 'text' && !(token.kind === 'link' && kind === 'text')) return bad();
  const typed = token.kind === 'text' ? token.value : token.url;
  const text = spec.upperCase ? typed.toUpperCase() : typed;
  switch (kind) {
    case 'number': {
      const parsed = parseInteger(text, { min: spec.min ?? 1, max: spec.max ?? 1_000 });
      return parsed.ok ? { ok: true, value: parsed.value } : bad();
    }
    case 'duration': {
      const parsed = parseDuration(text, {
        ...(spec.min !== undefined ? { minMs: spec.min } : {}),
        ...(spec.max !== undefined ? { maxMs: spec.max } : {}),
      });
      return parsed.ok ? { ok: true, value: parsed.value } : fail(`${label} must be ${parsed.expected}.`);
    }
    case 'choice': {
      const parsed = parseEnum(text, spec.choices ?? []);
      return parsed.ok ? { ok: true, value: parsed.value } : bad();
    }
    case 'boolean':
      return /^(true|yes|on)$/i.test(text) ? { ok: true, value: true } : bad();
    default: {
      if (spec.maxLength !== undefined && text.length > spec.maxLength)
        return fail(`${label} is too long: at most ${spec.maxLength} characters.`);
      if (spec.pattern && !spec.pattern.test(text)) return bad();
      return { ok: true, value: text };
    }
  }
}
