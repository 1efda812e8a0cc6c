import type { ArgSpec, CommandModule, FlagSpec, Subcommand } from './command-spec.js';

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

/** The help text for one command: the subcommands the caller may run, each with usage and an example. */
export function commandHelp(module: CommandModule, allowed: ReadonlySet<string>): string {
  const subs = module.subcommands.filter((s) => s.name !== 'help' && allowed.has(`${module.name}:${s.name}`));
  if (subs.length === 0) {
    return `*/${module.name}* — ${module.description}\nYou may not run any of it here. \`/opsbot whoami\` shows what you may run, and where.`;
  }
  const lines = subs.map((s) => {
    const example = s.examples[0] ? `\n      e.g. \`/${module.name} ${s.examples[0]}\`` : '';
    return `• \`${usageLine(module.name, s)}\`\n      ${s.summary}${example}`;
  });
  const hidden = module.subcommands.filter((s) => s.name !== 'help').length - subs.length;
  const note = hidden > 0 ? `\n_${hidden} more need access you don't have here (\`/opsbot whoami\`)._` : '';
  return `*/${module.name}* — ${module.description}\n${lines.join('\n')}${note}`;
}
