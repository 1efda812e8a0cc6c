import type { App, Middleware, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { CommandModule, Reply } from '../command-spec.js';
import {
  commandContext,
  failureReply,
  interactionOf,
  type PipelineDeps,
  requireConfigured,
} from '../interaction.js';
import { checkAccess } from '../middleware/access.js';
import { auditInteraction } from '../middleware/audit.js';
import { routeCommand } from '../route-command.js';
import { commandHelp } from '../usage.js';
import { answer, progressOf } from './answer.js';

type CommandArgs = SlackCommandMiddlewareArgs & { context: Record<string, unknown> };

/**
 * Registers every command module as a slash command: audit → ack at once → route → access → run.
 * The ack comes before anything that could be slow (Slack allows 3 s); every answer after it goes
 * through `respond()`, ephemeral unless the handler says the result is for everyone.
 */
export function registerCommands(app: App, deps: PipelineDeps): void {
  const reply = (args: CommandArgs, message: Reply) => answer(args, message, deps.log);
  for (const module of deps.commands) {
    app.command(
      `/${module.name}`,
      auditInteraction('command', deps),
      ackAtOnce,
      routeTo(module, deps),
      checkAccess(deps, reply as never),
      runCommand(deps),
    );
  }
}

const ackAtOnce: Middleware<SlackCommandMiddlewareArgs> = async ({ ack, next }) => {
  await ack();
  await next();
};

function routeTo(module: CommandModule, deps: PipelineDeps): Middleware<SlackCommandMiddlewareArgs> {
  return async (args) => {
    const interaction = interactionOf(args.context);
    interaction.module = module;
    const route = routeCommand(module, args.command.text ?? '', interaction.actor);
    interaction.action = route.action;
    if (!route.ok) {
      interaction.result = 'user_error';
      await answer(args, { text: route.message }, deps.log);
      return;
    }
    if (route.kind === 'run') interaction.args = route.summary;
    args.context.opsbotRoute = route;
    await args.next();
  };
}

function runCommand(deps: PipelineDeps): Middleware<SlackCommandMiddlewareArgs> {
  return async (args) => {
    const interaction = interactionOf(args.context);
    const module = interaction.module as CommandModule;
    const route = args.context.opsbotRoute as ReturnType<typeof routeCommand>;
    let message: Reply | undefined;
    try {
      if (!route.ok) throw new Error('unrouted command reached its handler');
      if (route.kind === 'help') {
        const actions = module.subcommands.map((s) => `${module.name}:${s.name}`);
        const { userId, channelId } = interaction.actor;
        const allowed = await deps.services.policy.allowedActions(
          userId,
          channelId,
          actions,
          deps.services.membership,
        );
        message = { text: commandHelp(module, new Set(allowed)) };
      } else {
        requireConfigured(module, deps);
        if (!route.subcommand.readOnly) await interaction.beforeSideEffect();
        const ctx = commandContext(interaction, deps, progressOf(args, deps.log), args.command.trigger_id);
        message = await route.subcommand.run(ctx, route.input);
      }
    } catch (error) {
      message = failureReply(interaction, error, deps.log);
    }
    if (message) await answer(args, message, deps.log);
  };
}
