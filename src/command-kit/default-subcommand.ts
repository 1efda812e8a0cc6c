import type { AnySubcommand, CommandModule } from './command-spec.js';

const DEFAULTS = new WeakMap<CommandModule, string>();

/**
 * Lets a command's argument stand without its subcommand: with `issue` as the default of `/jira`,
 * `/jira OPS-42` means `/jira issue OPS-42` (policy action `jira:issue`). The router takes the
 * default only when the first word is no subcommand and fits the default's first argument; help
 * and the README show the short form as `/jira <KEY-1>`.
 *
 * @example
 * export const jira = withDefaultSubcommand(defineCommand({ name: 'jira', … }), 'issue');
 */
export function withDefaultSubcommand(module: CommandModule, name: string): CommandModule {
  const sub = module.subcommands.find((s) => s.name === name);
  if (!sub?.args?.[0]) throw new TypeError(`/${module.name} has no subcommand "${name}" with an argument`);
  DEFAULTS.set(module, name);
  return module;
}

/** The subcommand `/<command> <argument>` runs, if the command has one. */
export function defaultSubcommandOf(module: CommandModule): AnySubcommand | undefined {
  const name = DEFAULTS.get(module);
  return name === undefined ? undefined : module.subcommands.find((s) => s.name === name);
}
