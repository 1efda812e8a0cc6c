import type {
  AllMiddlewareArgs,
  AnyMiddlewareArgs,
  App,
  Middleware,
  SlackCommandMiddlewareArgs,
} from '@slack/bolt';
import { unmatchedPatterns } from '../../access/policy.js';
import { takeBreakGlass } from '../../command-kit/break-glass.js';
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
import { accessDenial } from '../middleware/access.js';
import { auditInteraction } from '../middleware/audit.js';
import { gateDecision } from '../middleware/gate.js';
import { answer, progressOf } from './answer.js';

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
  for (const problem of deps.services.approvals?.unmatchedPatterns(actions) ?? []) {
    deps.log.warn(`configuration file: ${problem}; it holds nothing`);
  }
  if (deps.commands.length === 0) return;
  const byName = new Map(deps.commands.map((m) => [`/${m.name}`, m]));
  const audit = auditInteraction('command', deps);
  const handle = handleCommand(byName, deps, actions);
  // A global middleware, not one listener per command: Bolt runs every event through every
  // listener's filters, while a command handled here ends before Bolt's listener loop. After the
  // audit middleware, the steps are plain calls in one function. Anything else goes on to the
  // listeners (buttons, forms, shortcuts, App Home).
  app.use(async (args) => {
    if (!isCommand(args) || !byName.has(args.command.command)) return args.next();
    await audit({ ...args, next: () => handle({ ...args, next: async () => {} }) });
  });
}

/** Bolt's arguments of a slash command (global middleware sees every kind of event). */
function isCommand(args: AnyMiddlewareArgs): args is SlackCommandMiddlewareArgs {
  return 'command' in args && args.command !== undefined;
}

/**
 * Ack at once, then: find the subcommand (a typo answers with the usage), decide access on it (a
 * denied caller is told so, not how to type the arguments; the arguments are still summarized for
 * the audit record), read the arguments, run. Every answer goes through `respond()`.
 */
function handleCommand(
  byName: ReadonlyMap<string, CommandModule>,
  deps: PipelineDeps,
  actions: readonly string[],
): Middleware<SlackCommandMiddlewareArgs> {
  return async (args) => {
    await args.ack();
    const interaction = interactionOf(args.context);
    const module = byName.get(args.command.command) as CommandModule;
    interaction.module = module;
    // `--break-glass "<reason>"` belongs to no command's grammar: the approvals read it.
    const glass = takeBreakGlass(args.command.text ?? '');
    const route = findSubcommand(module, glass.ok ? glass.text : (args.command.text ?? ''));
    interaction.action = route.action;
    if (!route.ok || !glass.ok) {
      interaction.result = 'user_error';
      return answer(
        args,
        { text: glass.ok ? (route as { message: string }).message : glass.problem },
        deps.log,
      );
    }
    const denial = await accessDenial(deps, interaction);
    if (denial) {
      noteArguments(interaction, route, actions);
      return answer(args, denial, deps.log);
    }
    let input: ParsedInput | undefined;
    if (route.kind === 'run') {
      const parsed = parseArguments(route, inputContext(interaction, actions));
      if (!parsed.ok) {
        interaction.result = 'user_error';
        return answer(args, { text: parsed.message }, deps.log);
      }
      interaction.args = parsed.summary;
      input = parsed.input;
      const held = await gateDecision(
        deps,
        interaction,
        {
          kind: 'command',
          command: module.name,
          text: glass.text,
          input: parsed.input,
          action: route.action,
          actor: interaction.actor,
          args: parsed.summary,
        },
        glass.reason,
      );
      if (held) return answer(args, held, deps.log);
    } else if (glass.reason) {
      interaction.result = 'user_error';
      return answer(args, { text: '`--break-glass` goes with an action that needs approval.' }, deps.log);
    }
    const message = await runRoute(args, deps, interaction, module, route, input);
    if (message) await answer(args, message, deps.log);
  };
}

function inputContext(interaction: Interaction, actions: readonly string[]): InputContext {
  return { userId: interaction.actor.userId, channelId: interaction.actor.channelId, actions };
}

/** After a denial: what the arguments were, for the audit record only (nothing runs). */
function noteArguments(interaction: Interaction, route: Route, actions: readonly string[]): void {
  if (!route.ok || route.kind !== 'run') return;
  const parsed = parseArguments(route, inputContext(interaction, actions));
  if (parsed.ok) interaction.args = parsed.summary;
}

/** Help, or the subcommand's handler (with an intent record first when it has side effects); a failure becomes its reply. */
async function runRoute(
  args: SlackCommandMiddlewareArgs & AllMiddlewareArgs,
  deps: PipelineDeps,
  interaction: Interaction,
  module: CommandModule,
  route: Extract<Route, { ok: true }>,
  input: ParsedInput | undefined,
): Promise<Reply | undefined> {
  try {
    if (route.kind === 'help') {
      const [mine] = await runnableHere(deps.services, interaction.actor, [module]);
      const held = deps.services.approvals?.heldActions(actionsOf([module]));
      return { text: commandHelp(module, mine?.subcommands ?? [], held) };
    }
    requireConfigured(module, deps);
    if (!route.subcommand.readOnly) await interaction.beforeSideEffect();
    const ctx = commandContext(interaction, deps, progressOf(args, deps.log), {
      triggerId: args.command.trigger_id,
    });
    return await route.subcommand.run(ctx, input as ParsedInput);
  } catch (error) {
    return failureReply(interaction, error, deps.log);
  }
}
