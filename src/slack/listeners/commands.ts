import type { AllMiddlewareArgs, App, Middleware, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { unmatchedPatterns } from '../../access/policy.js';
import type { CommandModule, ParsedInput, Reply } from '../../command-kit/command-spec.js';
import type { InputContext } from '../../command-kit/parse-input.js';
import { findSubcommand, parseArguments, type Route } from '../../command-kit/route-command.js';
import { actionsOf, runnableHere } from '../../command-kit/runnable.js';
import { commandHelp } from '../../command-kit/usage.js';
import {
  commandContext,
  failureReply,
  type Interaction,
  interactionOf,
  type PipelineDeps,
  requireConfigured,
} from '../interaction.js';
import { checkAccess } from '../middleware/access.js';
import { auditInteraction } from '../middleware/audit.js';
import { answer, progressOf } from './answer.js';

/** Bolt's own arguments of a slash command's listener. */
type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

/** Where the middleware keeps the route and the parsed input on Bolt's `context`. */
const ROUTE = 'opsbotRoute';
const INPUT = 'opsbotInput';

/**
 * Registers every command module as a slash command: audit → ack at once → find the subcommand →
 * access → read its arguments → run. Access is decided on the subcommand (`gh:pr list`) before its
 * arguments are read, so a denied caller is told so, not how to type them. The ack comes before
 * anything that could be slow (Slack allows 3 s); every answer after it goes through `respond()`,
 * ephemeral unless the handler says the result is for everyone. Rules whose patterns match none
 * of the commands' actions are logged as warnings once, here.
 */
export function registerCommands(app: App, deps: PipelineDeps): void {
  const actions = actionsOf(deps.commands);
  for (const problem of unmatchedPatterns(deps.services.file.access.rules, actions)) {
    deps.log.warn(`configuration file: ${problem}; it allows nothing`);
  }
  const answerDenied = (args: CommandArgs, message: Reply) => {
    noteArguments(args.context, actions);
    return answer(args, message, deps.log);
  };
  if (deps.commands.length === 0) return;
  // One listener for every command, dispatching by name: Bolt runs each event through every
  // listener's filters, so one per command would cost each request as many chains as commands.
  const byName = new Map(deps.commands.map((m) => [`/${m.name}`, m]));
  app.command(
    commandNames(deps.commands),
    auditInteraction('command', deps),
    ackAtOnce,
    routeTo(byName, deps),
    checkAccess(deps, answerDenied),
    readArguments(deps, actions),
    runCommand(deps),
  );
}

/** Exactly the registered commands' names (`/gh`, `/jira`, …): anything else stays unhandled. */
function commandNames(commands: readonly CommandModule[]): RegExp {
  const names = commands.map((m) => m.name.replace(/[^a-z0-9-]/g, (c) => `\\${c}`));
  return new RegExp(`^/(?:${names.join('|')})$`);
}

const ackAtOnce: Middleware<SlackCommandMiddlewareArgs> = async ({ ack, next }) => {
  await ack();
  await next();
};

function routeTo(
  byName: ReadonlyMap<string, CommandModule>,
  deps: PipelineDeps,
): Middleware<SlackCommandMiddlewareArgs> {
  return async (args) => {
    const module = byName.get(args.command.command) as CommandModule;
    const interaction = interactionOf(args.context);
    interaction.module = module;
    const route = findSubcommand(module, args.command.text ?? '');
    interaction.action = route.action;
    if (!route.ok) {
      interaction.result = 'user_error';
      await answer(args, { text: route.message }, deps.log);
      return;
    }
    args.context[ROUTE] = route;
    await args.next();
  };
}

function inputContext(interaction: Interaction, actions: readonly string[]): InputContext {
  return { userId: interaction.actor.userId, channelId: interaction.actor.channelId, actions };
}

/** After a denial: what the arguments were, for the audit record only (nothing runs). */
function noteArguments(context: Record<string, unknown>, actions: readonly string[]): void {
  const route = context[ROUTE] as Route | undefined;
  if (!route?.ok || route.kind !== 'run') return;
  const interaction = interactionOf(context);
  const parsed = parseArguments(route, inputContext(interaction, actions));
  if (parsed.ok) interaction.args = parsed.summary;
}

/** Access has been decided: reads the arguments, answering a problem with the usage. */
function readArguments(
  deps: PipelineDeps,
  actions: readonly string[],
): Middleware<SlackCommandMiddlewareArgs> {
  return async (args) => {
    const route = args.context[ROUTE] as Route;
    if (route.ok && route.kind === 'run') {
      const interaction = interactionOf(args.context);
      const parsed = parseArguments(route, inputContext(interaction, actions));
      if (!parsed.ok) {
        interaction.result = 'user_error';
        await answer(args, { text: parsed.message }, deps.log);
        return;
      }
      interaction.args = parsed.summary;
      args.context[INPUT] = parsed.input;
    }
    await args.next();
  };
}

function runCommand(deps: PipelineDeps): Middleware<SlackCommandMiddlewareArgs> {
  return async (args) => {
    const interaction = interactionOf(args.context);
    const module = interaction.module as CommandModule;
    const route = args.context[ROUTE] as Route;
    let message: Reply | undefined;
    try {
      if (!route.ok) throw new Error('unrouted command reached its handler');
      if (route.kind === 'help') {
        const [mine] = await runnableHere(deps.services, interaction.actor, [module]);
        message = { text: commandHelp(module, mine?.subcommands ?? []) };
      } else {
        requireConfigured(module, deps);
        if (!route.subcommand.readOnly) await interaction.beforeSideEffect();
        const ctx = commandContext(interaction, deps, progressOf(args, deps.log), {
          triggerId: args.command.trigger_id,
        });
        message = await route.subcommand.run(ctx, args.context[INPUT] as ParsedInput);
      }
    } catch (error) {
      message = failureReply(interaction, error, deps.log);
    }
    if (message) await answer(args, message, deps.log);
  };
}
