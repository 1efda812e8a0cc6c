import { looksSecret } from '../log/looks-secret.js';
import { inlineCode } from '../text/escape.js';
import { closest } from '../text/suggest.js';
import type { AnySubcommand, CommandModule, ParsedInput } from './command-spec.js';
import { type Token, type TokenizeResult, tokenize } from './command-text.js';
import { defaultSubcommandOf } from './default-subcommand.js';
import { fitsArgument, type InputContext, parseInput } from './parse-input.js';
import { usageLine } from './usage.js';

/** Where a command's text leads, before its arguments are read. */
export type Route =
  | { ok: true; kind: 'help'; action: string }
  | RunRoute
  | { ok: false; action: string; message: string };

/** A subcommand to run: its action decides access; its arguments are read only after that. */
export interface RunRoute {
  ok: true;
  kind: 'run';
  action: string;
  module: CommandModule;
  subcommand: AnySubcommand;
  /** The tokens after the subcommand's words, or why the text could not be read at all. */
  rest: TokenizeResult;
}

export type ArgumentsResult =
  | { ok: true; input: ParsedInput; summary: string }
  | { ok: false; message: string };

export type RouteResult =
  | { ok: true; kind: 'help'; action: string }
  | { ok: true; kind: 'run'; action: string; subcommand: AnySubcommand; input: ParsedInput; summary: string }
  | { ok: false; action: string; message: string };

/**
 * Finds the subcommand `/gh pr list acme/web --limit 5` runs (`gh:pr list`) from its leading words
 * only, so that access is decided before the arguments are read ({@link parseArguments}). An empty
 * text or `help` is the command's help. A word that is no subcommand (or a near miss of a two-word
 * one: `pr lst`) is answered with the closest subcommand and its usage, as action `<command>:?`.
 */
export function findSubcommand(module: CommandModule, text: string): Route {
  const cmd = module.name;
  const tokenized = tokenize(text);
  const tokens = tokenized.ok ? tokenized.tokens : [];
  // When the text cannot be read, its first plain words still say which subcommand was meant.
  const typed = tokenized.ok ? [] : rawLeadingWords(text);
  const words = tokenized.ok ? leadingWords(tokens) : typed.map((w) => w.toLowerCase());
  const declaredHelp = module.subcommands.find((s) => s.name === 'help');
  if ((tokenized.ok && tokens.length === 0) || words[0] === 'help') {
    if (!declaredHelp) return { ok: true, kind: 'help', action: `${cmd}:help` };
    if (tokens.length === 0 && tokenized.ok) return runRoute(module, declaredHelp, tokenized, 0);
  }
  const named = matchSubcommand(module.subcommands, words);
  const skip = named ? named.name.split(' ').length : 0;
  const next = tokenized.ok ? tokens[skip] : wordToken(typed[skip]);
  const typo = named ? nearMiss(module, named, words, next) : undefined;
  if (named && !typo) return runRoute(module, named, tokenized, skip);
  const fallback = named ? undefined : defaultSubcommandOf(module);
  const argument = fallback?.args?.[0];
  const first = tokenized.ok ? tokens[0] : wordToken(typed[0]);
  if (fallback && argument && first && fitsArgument(argument, first)) {
    return runRoute(module, fallback, tokenized, 0);
  }
  if (!tokenized.ok && !typo) {
    return { ok: false, action: `${cmd}:?`, message: `${tokenized.problem}\n${overview(module)}` };
  }
  return { ok: false, action: `${cmd}:?`, message: unknownSubcommand(module, words, typo) };
}

/**
 * Reads the arguments of a routed subcommand against its grammar. A problem is answered with the
 * subcommand's usage; on success, the summary is what the audit trail keeps of them.
 */
export function parseArguments(route: RunRoute, ctx: InputContext): ArgumentsResult {
  const usage = usageFor(route.module, route.subcommand.name);
  if (!route.rest.ok) return { ok: false, message: `${route.rest.problem}\n${usage}` };
  const parsed = parseInput(route.subcommand, route.rest.tokens, ctx);
  if (!parsed.ok) return { ok: false, message: `${parsed.problem}\n${usage}` };
  return { ok: true, input: parsed.input, summary: summarize(parsed.input) };
}

/**
 * {@link findSubcommand} then {@link parseArguments}, for callers with no access check between
 * them (the slash-command listener checks access in between).
 */
export function routeCommand(module: CommandModule, text: string, ctx: InputContext): RouteResult {
  const route = findSubcommand(module, text);
  if (!route.ok || route.kind === 'help') return route;
  const parsed = parseArguments(route, ctx);
  if (!parsed.ok) return { ok: false, action: route.action, message: parsed.message };
  return {
    ok: true,
    kind: 'run',
    action: route.action,
    subcommand: route.subcommand,
    input: parsed.input,
    summary: parsed.summary,
  };
}

function runRoute(module: CommandModule, sub: AnySubcommand, text: TokenizeResult, skip: number): RunRoute {
  const rest: TokenizeResult = text.ok ? { ok: true, tokens: text.tokens.slice(skip) } : text;
  return { ok: true, kind: 'run', action: `${module.name}:${sub.name}`, module, subcommand: sub, rest };
}

function leadingWords(tokens: readonly Token[]): string[] {
  const words: string[] = [];
  for (const token of tokens.slice(0, 2)) {
    if (token.kind !== 'text' || token.quoted) break;
    words.push(token.value.toLowerCase());
  }
  return words;
}

/** The first two plain words of text the tokenizer refused (`pr list "acme/web`), to decide access on. */
function rawLeadingWords(text: string): string[] {
  const words: string[] = [];
  const pattern = /^[A-Za-z0-9][A-Za-z0-9-]{0,40}$/;
  for (const word of String(text)
    .slice(0, 200)
    .trimStart()
    .split(/[ \t\n\r\u00a0]+/, 3)
    .slice(0, 2)) {
    if (!pattern.test(word)) break;
    words.push(word);
  }
  return words;
}

function wordToken(word: string | undefined): Token | undefined {
  return word === undefined ? undefined : { kind: 'text', value: word, quoted: false };
}

/** The longest subcommand whose words start the text: `pr list` before `pr`. */
function matchSubcommand(
  subs: readonly AnySubcommand[],
  words: readonly string[],
): AnySubcommand | undefined {
  const byLength = [...subs].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  return byLength.find((s) => {
    const parts = s.name.split(' ');
    return parts.every((p, i) => words[i] === p);
  });
}

/**
 * `pr lst` matched `pr`, but `lst` is no argument of `pr` and is close to `list`: the two-word
 * subcommand meant (`pr list`), if any.
 */
function nearMiss(
  module: CommandModule,
  sub: AnySubcommand,
  words: readonly string[],
  next: Token | undefined,
): string | undefined {
  if (sub.name.includes(' ') || words.length < 2 || !next) return undefined;
  const longer = module.subcommands.filter((s) => s.name.startsWith(`${sub.name} `)).map((s) => s.name);
  if (longer.length === 0) return undefined;
  const first = sub.args?.[0];
  if (first && fitsArgument(first, next)) return undefined;
  return closest(words.slice(0, 2).join(' '), longer);
}

function unknownSubcommand(
  module: CommandModule,
  words: readonly string[],
  typo: string | undefined,
): string {
  const cmd = module.name;
  const typed = typo ? words.slice(0, 2).join(' ') : (words[0] ?? '');
  const names = module.subcommands.map((s) => s.name);
  const guess = typo ?? closest(words.slice(0, 2).join(' '), names) ?? closest(typed, names);
  const what =
    typed === ''
      ? `\`/${cmd}\` needs a subcommand.`
      : `${inlineCode(typed, 30)} is not a \`/${cmd}\` subcommand.`;
  const hint = guess ? ` Did you mean \`/${cmd} ${guess}\`?` : '';
  const usage = guess ? usageFor(module, guess) : overview(module);
  return `${what}${hint}\n${usage}`;
}

function usageFor(module: CommandModule, name: string): string {
  const sub = module.subcommands.find((s) => s.name === name);
  if (!sub) return overview(module);
  const example = sub.examples[0] ? ` — e.g. \`/${module.name} ${sub.examples[0]}\`` : '';
  return `Usage: \`${usageLine(module.name, sub)}\`${example}`;
}

function overview(module: CommandModule): string {
  const names = module.subcommands.map((s) => `\`${s.name}\``).join(', ');
  return `\`/${module.name}\` subcommands: ${names}. \`/${module.name} help\` explains each.`;
}

/**
 * The arguments as the audit trail keeps them: names and short values only. Free text (titles,
 * bodies) is reduced to its length, so long or sensitive text never lands in the trail; a short
 * value with anything token-like inside it (`fix:ghp_…`) is `[redacted]` whole.
 */
function summarize(input: ParsedInput): string {
  const parts: string[] = [];
  for (const [name, value] of [...Object.entries(input.args), ...Object.entries(input.flags)]) {
    if (value === undefined) continue;
    const text = String(value);
    if (typeof value === 'string' && looksSecret(text)) parts.push(`${name}=[redacted]`);
    else if (typeof value === 'string' && (text.length > 64 || /\s/.test(text)))
      parts.push(`${name}=[${text.length} chars]`);
    else parts.push(`${name}=${text}`);
  }
  return parts.join(' ').slice(0, 500);
}
