/**
 * The tokenizer for slash-command text as Slack delivers it (with `should_escape`): `&`, `<`, `>`
 * arrive as `&amp;` `&lt;` `&gt;`, and mentions, channels and links as `<…>` entities.
 *
 * - Words split on whitespace (space, tab, newline, NBSP) outside quotes.
 * - Quotes: `"…"`, `'…'` and the smart quotes clients substitute (“…”, ‘…’); `\"` and `\\` escape
 *   inside double quotes; quoted text keeps its newlines. `a"b c"` is one word, `ab c`.
 * - `--name` and `--name=value` are flags; `key=value` is a pair; a bare `--` makes everything
 *   after it plain text.
 * - `<@U…|name>` user, `<#C…|name>` channel, `<!subteam^S…|@name>` user group, `<!here>` broadcast,
 *   `<https://…|label>` link; any other `<…>` is refused. Inside quotes, or glued to other text in
 *   one word (`<!here>,`), they are plain text as {@link plainFromSlack} writes them (`@here,`).
 * Never throws; linear in the input; refuses control characters, bidi overrides, more than
 * {@link MAX_COMMAND_TEXT} characters or {@link MAX_TOKENS} tokens with a short problem that never
 * quotes the input.
 */
export const MAX_COMMAND_TEXT = 4_000;
export const MAX_TOKENS = 100;

export type Token =
  | { kind: 'text'; value: string; quoted: boolean }
  | { kind: 'flag'; name: string; value?: string }
  | { kind: 'pair'; key: string; value: string }
  | { kind: 'user'; id: string; label?: string }
  | { kind: 'channel'; id: string; label?: string }
  | { kind: 'usergroup'; id: string; label?: string }
  | { kind: 'broadcast'; name: 'channel' | 'here' | 'everyone' }
  | { kind: 'link'; url: string; label?: string };

export type TokenizeResult = { ok: true; tokens: Token[] } | { ok: false; problem: string };

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const SPACE = /[ \t\n\r\u00a0]/;
const OPEN_QUOTES: Record<string, string> = { '"': '"', "'": "'", '\u201c': '\u201d', '\u2018': '\u2019' };
const PAIR_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,30}$/;

export function tokenize(text: string): TokenizeResult {
  if (typeof text !== 'string') return { ok: false, problem: 'The command text is missing.' };
  if (text.length > MAX_COMMAND_TEXT) {
    return { ok: false, problem: `The command text is too long: at most ${MAX_COMMAND_TEXT} characters.` };
  }
  const bad = FORBIDDEN.exec(text);
  if (bad) {
    return {
      ok: false,
      problem: `The text has a control or direction-override character at position ${bad.index + 1}; type it again without it.`,
    };
  }
  const words = splitWords(text);
  if (!words.ok) return words;
  const tokens: Token[] = [];
  let plain = false;
  for (const word of words.words) {
    if (tokens.length >= MAX_TOKENS)
      return { ok: false, problem: `The command text has too many words: at most ${MAX_TOKENS}.` };
    if (plain) {
      tokens.push({ kind: 'text', value: plainText(word), quoted: word.some((s) => s.kind === 'quoted') });
      continue;
    }
    if (word.length === 1 && word[0]?.kind === 'bare' && word[0].value === '--') {
      plain = true;
      continue;
    }
    const token = classify(word);
    if ('problem' in token) return { ok: false, problem: token.problem };
    tokens.push(token);
  }
  return { ok: true, tokens };
}

type Segment = { kind: 'bare' | 'quoted' | 'entity'; value: string };
type Word = Segment[];

function splitWords(text: string): { ok: true; words: Word[] } | { ok: false; problem: string } {
  const words: Word[] = [];
  let current: Word | undefined;
  const push = (kind: Segment['kind'], value: string) => {
    current ??= [];
    const last = current[current.length - 1];
    if (kind === 'bare' && last?.kind === 'bare') last.value += value;
    else current.push({ kind, value });
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (SPACE.test(ch)) {
      if (current) words.push(current);
      current = undefined;
      i++;
      continue;
    }
    const close = OPEN_QUOTES[ch];
    // An apostrophe inside a word (don't) is a letter, not a quote.
    const apostrophe = ch === "'" && current !== undefined && current[current.length - 1]?.kind === 'bare';
    if (close !== undefined && !apostrophe) {
      const start = i;
      i++;
      let value = '';
      let closed = false;
      while (i < text.length) {
        const c = text[i] as string;
        if (c === '\\' && ch === '"' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
          value += text[i + 1];
          i += 2;
          continue;
        }
        if (c === close || (ch === '"' && c === '\u201d') || (ch === '\u201c' && c === '"')) {
          closed = true;
          i++;
          break;
        }
        value += c;
        i++;
      }
      if (!closed) {
        return {
          ok: false,
          problem: `Unbalanced quote: the quote at character ${start + 1} is never closed.`,
        };
      }
      push('quoted', value);
      continue;
    }
    if (ch === '<') {
      const end = text.indexOf('>', i);
      const next = text.indexOf('<', i + 1);
      if (end === -1 || (next !== -1 && next < end)) {
        return { ok: false, problem: `There is a \`&lt;\` at character ${i + 1} that is never closed.` };
      }
      push('entity', text.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    push('bare', ch);
    i++;
  }
  if (current) words.push(current);
  return { ok: true, words };
}

type Classified = Token | { problem: string };

function plainText(word: Word): string {
  return word
    .map((s) => {
      if (s.kind === 'quoted') return plainFromSlack(s.value);
      if (s.kind === 'bare') return decodeEntities(s.value);
      return plainFromSlack(`<${s.value}>`);
    })
    .join('');
}

/**
 * Slack message text as plain text, for what opsbot carries to Jira or GitHub and for forms:
 * `<@U1|al>` → `@al` (`<@U1>` → `@U1`), `<#C1|dev>` → `#dev`, `<!here>` → `@here`,
 * `<!subteam^S1|@team>` → `@team`, `<https://x|label>` → `label (https://x)`, `<https://x>` →
 * `https://x`; then `&lt;` `&gt;` `&amp;` decoded. Echo the result to Slack only escaped.
 *
 * @example
 * plainFromSlack('<!channel> see <https://x.example|the doc>'); // "@channel see the doc (https://x.example)"
 */
export function plainFromSlack(text: string): string {
  return decodeEntities(
    text.replace(/<([^<>]*)>/g, (whole, inner: string) => {
      const bar = inner.indexOf('|');
      const target = bar === -1 ? inner : inner.slice(0, bar);
      const label = bar === -1 ? '' : inner.slice(bar + 1);
      const sigil = target[0];
      if (sigil === '@' || sigil === '#') return `${sigil}${label.replace(/^[@#]/, '') || target.slice(1)}`;
      if (sigil === '!') {
        if (/^!date\^/.test(target)) return label;
        const name = label.replace(/^@/, '') || target.slice(1).replace(/^subteam\^/, '');
        return `@${name}`;
      }
      if (target === '') return whole;
      return label && label !== target ? `${label} (${target})` : target;
    }),
  );
}

function classify(word: Word): Classified {
  const first = word[0] as Segment;
  if (word.length === 1 && first.kind === 'entity') return entity(first.value);
  // `--user=<@U1|al>` and `user=<@U1|al>`: the value keeps its entity form for the grammar to read.
  const second = word[1];
  if (word.length === 2 && first.kind === 'bare' && first.value.endsWith('=') && second?.kind === 'entity') {
    const parsed = entity(second.value);
    if ('problem' in parsed) return parsed;
    const name = first.value.slice(0, -1);
    const value = `<${second.value}>`;
    if (name.startsWith('--') && /^--[A-Za-z][A-Za-z0-9-]{0,30}$/.test(name))
      return { kind: 'flag', name: name.slice(2).toLowerCase(), value };
    if (PAIR_KEY.test(name)) return { kind: 'pair', key: name, value };
  }
  // An entity glued to other text (`<!here>,`, `x<@U1>`) is read, then kept as plain text.
  for (const e of word.filter((s) => s.kind === 'entity')) {
    const parsed = entity(e.value);
    if ('problem' in parsed) return parsed;
  }
  const quoted = word.some((s) => s.kind === 'quoted');
  if (first.kind === 'bare' && first.value.startsWith('--')) {
    const eq = first.value.indexOf('=');
    const name = eq === -1 ? first.value.slice(2) : first.value.slice(2, eq);
    if (eq === -1 && word.length > 1)
      return { problem: 'An option must look like `--name` or `--name=value`.' };
    if (!/^[A-Za-z][A-Za-z0-9-]{0,30}$/.test(name)) {
      return { problem: 'An option must look like `--name` or `--name=value`.' };
    }
    if (eq === -1) return { kind: 'flag', name: name.toLowerCase() };
    const value = plainText([{ kind: 'bare', value: first.value.slice(eq + 1) }, ...word.slice(1)]);
    return { kind: 'flag', name: name.toLowerCase(), value };
  }
  if (first.kind === 'bare') {
    const eq = first.value.indexOf('=');
    if (eq > 0 && PAIR_KEY.test(first.value.slice(0, eq))) {
      const value = plainText([{ kind: 'bare', value: first.value.slice(eq + 1) }, ...word.slice(1)]);
      return { kind: 'pair', key: first.value.slice(0, eq), value };
    }
  }
  return { kind: 'text', value: plainText(word), quoted };
}

function entity(inner: string): Classified {
  const bar = inner.indexOf('|');
  const target = bar === -1 ? inner : inner.slice(0, bar);
  const label = bar === -1 ? undefined : decodeEntities(inner.slice(bar + 1)).slice(0, 80);
  const labelled = label ? { label } : {};
  let m = /^@([UW][A-Z0-9]{2,20})$/.exec(target);
  if (m) return { kind: 'user', id: m[1] as string, ...labelled };
  m = /^#([CGD][A-Z0-9]{2,20})$/.exec(target);
  if (m) return { kind: 'channel', id: m[1] as string, ...labelled };
  m = /^!subteam\^(S[A-Z0-9]{2,20})$/.exec(target);
  if (m) return { kind: 'usergroup', id: m[1] as string, ...labelled };
  m = /^!(channel|here|everyone)$/.exec(target);
  if (m) return { kind: 'broadcast', name: m[1] as 'channel' | 'here' | 'everyone' };
  if (/^(https?:\/\/|mailto:)[^\s<>|]{1,2000}$/.test(target)) {
    return { kind: 'link', url: decodeEntities(target), ...labelled };
  }
  return { problem: 'That has a `<…>` part I cannot read; mention people and channels with @ and #.' };
}

export function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt);/g, (_m, name: string) =>
    name === 'amp' ? '&' : name === 'lt' ? '<' : '>',
  );
}

/**
 * A readable rendering of one token, as plain text: for messages (escape it before it goes to
 * Slack) and for free text carried to Jira or GitHub (`<!here>` → `@here`, a link → `label (url)`).
 */
export function tokenText(token: Token): string {
  switch (token.kind) {
    case 'text':
      return token.value;
    case 'flag':
      return token.value === undefined ? `--${token.name}` : `--${token.name}=${token.value}`;
    case 'pair':
      return `${token.key}=${token.value}`;
    case 'user':
      return `@${token.label ?? token.id}`;
    case 'channel':
      return `#${token.label ?? token.id}`;
    case 'usergroup':
      return `@${(token.label ?? token.id).replace(/^@/, '')}`;
    case 'broadcast':
      return `@${token.name}`;
    case 'link':
      return token.label && token.label !== token.url ? `${token.label} (${token.url})` : token.url;
  }
}
