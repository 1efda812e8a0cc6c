import type { AnySubcommand, CommandModule, CoreServices } from './command-spec.js';

/**
 * Every policy action the commands declare: each subcommand (`gh:pr list`), each command's help
 * (`gh:help`, declared or not), each button (`gh:rerun`) and form (`gh:issue create`).
 */
export function actionsOf(commands: readonly CommandModule[]): string[] {
  const actions = commands.flatMap((m) => [
    ...m.subcommands.map((s) => `${m.name}:${s.name}`),
    `${m.name}:help`,
    ...Object.keys(m.actions ?? {}),
    ...Object.keys(m.views ?? {}),
  ]);
  return [...new Set(actions)];
}

/** One command and the subcommands (not `help`, which everyone may run) the caller may run here. */
export interface Runnable {
  module: CommandModule;
  subcommands: AnySubcommand[];
}

/**
 * What this user may run in this channel, command by command, in registry order: the one answer
 * `/opsbot help`, `/opsbot whoami` and each command's `help` all show. `help` itself is left out
 * (everyone may run it everywhere); a subcommand whose group check failed is left out too.
 */
export async function runnableHere(
  services: Pick<CoreServices, 'policy' | 'membership' | 'commands'>,
  actor: { userId: string; channelId: string },
  modules: readonly CommandModule[] = services.commands,
): Promise<Runnable[]> {
  const subs = modules.flatMap((module) =>
    module.subcommands.filter((s) => s.name !== 'help').map((sub) => ({ module, sub })),
  );
  const allowed = new Set(
    await services.policy.allowedActions(
      actor.userId,
      actor.channelId,
      subs.map(({ module, sub }) => `${module.name}:${sub.name}`),
      services.membership,
    ),
  );
  return modules.map((module) => ({
    module,
    subcommands: module.subcommands.filter(
      (s) => s.name !== 'help' && allowed.has(`${module.name}:${s.name}`),
    ),
  }));
}

/** `gh:pr list`, … for each runnable subcommand, in registry order. */
export function runnableActions(runnable: readonly Runnable[]): string[] {
  return runnable.flatMap(({ module, subcommands }) => subcommands.map((s) => `${module.name}:${s.name}`));
}
