import type { CommandModule, ParsedInput, Subcommand } from './command-spec.js';
import { type Token, tokenize } from './command-text.js';
import { inlineCode } from './escape.js';
import { type InputContext, parseInput } from './parse-input.js';
import { closest } from './suggest.js';
import { usageLine } from './usage.js';

export type RouteResult =
  | { ok: true; kind: 'help'; action: string }
  | { ok: true; kind: 'run'; action: string; subcommand: Subcommand; input: ParsedInput; summary: string }
  | { ok: false; action: string; message: string };

/**
 * Routes `/gh pr list acme/web --limit 5` to the `pr list` subcommand of `gh` with its arguments.
 * An empty text or `help` is the command's help. Anything else that does not fit answers with
 * what was wrong, the closest valid subcommand, and its usage.
 */
export function routeCommand(module: CommandModule, text: string, ctx: InputContext): RouteResult {
  const cmd = module.name;
  const tokenized = tokenize(text);
  if (!tokenized.ok) {
    return { ok: false, action: `${cmd}:?`, message: `${tokenized.problem}\n${overview(module)}` };
  }
  const tokens = tokenized.tokens;
  const words = leadingWords(tokens);
  const declaredHelp = module.subcommands.find((s) => s.name === 'help');
  if (tokens.length === 0 || words[0] === 'help') {
    if (!declaredHelp) return { ok: true, kind: 'help', action: `${cmd}:help` };
  }
  const sub = tokens.length === 0 ? declaredHelp : matchSubcommand(module.subcommands, words);
  if (!sub) {
    const typed = words[0] ?? '';
    const names = module.subcommands.map((s) => s.name);
    const guess = closest(words.slice(0, 2).join(' '), names) ?? closest(typed, names);
    const what =
      typed === ''
        ? `\`/${cmd}\` needs a subcommand.`
        : `${inlineCode(typed, 30)} is not a \`/${cmd}\` subcommand.`;
    const hint = guess ? ` Did you mean \`/${cmd} ${guess}\`?` : '';
    const usage = guess ? usageFor(module, guess) : overview(module);
    return { ok: false, action: `${cmd}:?`, message: `${what}${hint}\n${usage}` };
  }
  const action = `${cmd}:${sub.name}`;
  const rest = tokens.slice(sub.name.split(' ').length);
  const parsed = parseInput(sub, rest, ctx);
  if (!parsed.ok) {
    return { ok: false, action, message: `${parsed.problem}\n${usageFor(module, sub.name)}` };
  }
  return {
    ok: true,
    kind: 'run',
    action,
    subcommand: sub,
    input: parsed.input,
    summary: summarize(parsed.input),
  };
}

function leadingWords(tokens: readonly Token[]): string[] {
  const words: string[] = [];
  for (const token of tokens.slice(0, 2)) {
    if (token.kind !== 'text' || token.quoted) break;
    words.push(token.value.toLowerCase());
  }
  return words;
}

/** The longest subcommand whose words start the text: `pr list` before `pr`. */
function matchSubcommand(subs: readonly Subcommand[], words: readonly string[]): Subcommand | undefined {
  const byLength = [...subs].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  return byLength.find((s) => {
    const parts = s.name.split(' ');
    return parts.every((p, i) => words[i] === p);
  });
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
 * bodies) is reduced to its length, so long or sensitive text never lands in the trail.
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

/** Token prefixes of Slack, GitHub, AWS and Atlassian, or a long run of key-like characters. */
const SECRET_LIKE =
  /^(xox[abeprs]-|xapp-|gh[pousr]_|github_pat_|A[KS]IA[A-Z0-9]{12}|ATATT|-----BEGIN)|^[A-Za-z0-9+/=_-]{32,}$/;

export function looksSecret(text: string): boolean {
  return SECRET_LIKE.test(text);
}
