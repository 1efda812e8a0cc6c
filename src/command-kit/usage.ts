import type { AnySubcommand, ArgSpec, CommandModule, FlagSpec, Subcommand } from './command-spec.js';
import { defaultSubcommandOf } from './default-subcommand.js';

function valueHint(spec: ArgSpec | FlagSpec): string {
  if (spec.choices) return spec.choices.join('|');
  if (spec.hint) return spec.hint;
  switch (spec.kind) {
    case 'user':
      return '@user';
    case 'channel':
      return '#channel';
    case 'number':
      return 'N';
    case 'duration':
      return '4h';
    default:
      return 'text';
  }
}

function argUsage(arg: ArgSpec): string {
  const shown = arg.hint ?? arg.name;
  const text = arg.rest ? `${shown}…` : shown;
  return arg.optional ? `[${text}]` : `<${text}>`;
}

function flagUsage(flag: FlagSpec): string {
  return flag.kind === 'boolean' ? `[--${flag.name}]` : `[--${flag.name} ${valueHint(flag)}]`;
}

/** `/gh pr list <owner/repo> [--state open|closed] [--limit N]` */
export function usageLine(command: string, sub: Subcommand): string {
  return [
    `/${command} ${sub.name}`,
    ...(sub.args ?? []).map(argUsage),
    ...(sub.flags ?? []).map(flagUsage),
  ].join(' ');
}

/** The short form of a command's default subcommand: `/jira <KEY-1>`. */
function shortUsageLine(command: string, sub: Subcommand): string {
  return [`/${command}`, ...(sub.args ?? []).map(argUsage), ...(sub.flags ?? []).map(flagUsage)].join(' ');
}

/** An example of the short form: `issue OPS-42` → `OPS-42`. */
function shortExample(sub: Subcommand): string | undefined {
  const example = sub.examples.find((e) => e.startsWith(`${sub.name} `));
  return example?.slice(sub.name.length + 1);
}

/**
 * The help text for one command: the subcommands the caller may run here (`mine`, from
 * `runnableHere`), each with usage and an example, and for those an approval rule holds (`held`:
 * action → the rule in words), that it needs a second person.
 */
export function commandHelp(
  module: CommandModule,
  mine: readonly AnySubcommand[],
  held: ReadonlyMap<string, string> = new Map(),
): string {
  const subs = mine.filter((s) => s.name !== 'help');
  if (subs.length === 0) {
    return `*/${module.name}* — ${module.description}\nYou may not run any of it here. \`/opsbot whoami\` shows what you may run, and where.`;
  }
  const fallback = defaultSubcommandOf(module);
  const lines = subs.flatMap((s) => {
    const example = s.examples[0] ? `\n      e.g. \`/${module.name} ${s.examples[0]}\`` : '';
    const approval = held.get(`${module.name}:${s.name}`);
    const needs = approval ? `\n      :lock: needs approval: ${approval}` : '';
    const line = `• \`${usageLine(module.name, s)}\`\n      ${s.summary}${example}${needs}`;
    if (s !== fallback) return [line];
    return [`• \`${shortUsageLine(module.name, s)}\`\n      same as \`/${module.name} ${s.name}\``, line];
  });
  const hidden = module.subcommands.filter((s) => s.name !== 'help').length - subs.length;
  const note = hidden > 0 ? `\n_${hidden} more need access you don't have here (\`/opsbot whoami\`)._` : '';
  return `*/${module.name}* — ${module.description}\n${lines.join('\n')}${note}`;
}

/** A Markdown table cell: pipes escaped (also inside code), one line. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/**
 * The command table of README.md ("Use it"), generated from the registry: one row per subcommand
 * with its usage line, summary and first example (and the short form of a default subcommand).
 *
 * @example
 * commandTable(COMMANDS);
 * // | command | does | example |
 * // |---|---|---|
 * // | `/gh pr list <owner/repo> …` | open (or closed) pull requests of a repository | `/gh pr list acme/web …` |
 */
export function commandTable(commands: readonly CommandModule[]): string {
  const rows = ['| command | does | example |', '|---|---|---|'];
  const row = (usage: string, does: string, example: string | undefined) =>
    rows.push(`| ${cell(`\`${usage}\``)} | ${cell(does)} | ${example ? cell(`\`${example}\``) : ''} |`);
  for (const module of commands) {
    const fallback = defaultSubcommandOf(module);
    for (const sub of module.subcommands) {
      if (sub === fallback) {
        const example = shortExample(sub);
        row(
          shortUsageLine(module.name, sub),
          `same as \`/${module.name} ${sub.name}\``,
          example && `/${module.name} ${example}`,
        );
      }
      row(usageLine(module.name, sub), sub.summary, sub.examples[0] && `/${module.name} ${sub.examples[0]}`);
    }
  }
  return rows.join('\n');
}
