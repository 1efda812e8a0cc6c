import type {
  CommandModule,
  InteractionHandler,
  ParsedInput,
  Reply,
  ViewHandler,
} from '../command-kit/command-spec.js';
import type { HeldAction, HeldProgress, HeldRunner } from '../command-kit/held-action.js';
import { findSubcommand, parseArguments } from '../command-kit/route-command.js';
import { actionsOf } from '../command-kit/runnable.js';
import type { IntegrationKey } from '../integrations/integration.js';
import { newRequestId } from '../request-scope.js';
import {
  commandContext,
  failureReply,
  type Interaction,
  type PipelineDeps,
  requireConfigured,
} from './interaction.js';
import { accessDenial } from './middleware/access.js';
import { openInteraction, outcomeOf } from './middleware/audit.js';

/**
 * Runs an approved action as the person who asked for it, the way the pipeline would have run it
 * then: the same access check (now, for the requester, in the channel they asked in), the same
 * route and arguments read again from the stored text (or the same handler with the same value),
 * the intent record before the side effect and one record of how it ended, both naming the
 * request and the approver. The requester's AWS session carries the approver as a session tag
 * (through the request scope). Answers go through `progress`: the response_url is long gone.
 */
export function heldRunner(deps: PipelineDeps): HeldRunner {
  const actions = actionsOf(deps.commands);
  return async (held, approval, progress) => {
    const interaction = openInteraction(held.kind, deps, {
      requestId: newRequestId(),
      actor: held.actor,
      args: held.args,
      approvedBy: approval.approvedBy,
    });
    interaction.approval = approval;
    interaction.action = held.action;
    let reply: Reply = { text: '' };
    try {
      reply = await runHeld(deps, interaction, held, actions, progress);
    } catch (error) {
      reply = failureReply(interaction, error, deps.log);
    } finally {
      interaction.seal();
    }
    return { outcome: outcomeOf(interaction), reply };
  };
}

async function runHeld(
  deps: PipelineDeps,
  interaction: Interaction,
  held: HeldAction,
  actions: readonly string[],
  progress: HeldProgress,
): Promise<Reply> {
  const [name] = held.action.split(':');
  const module = deps.commands.find((m) => m.name === (held.kind === 'command' ? held.command : name));
  if (!module) return refused(interaction, `\`${held.action}\` is no longer one of opsbot's actions.`);
  interaction.module = module;
  const done = (reply: Reply | undefined): Reply => reply ?? { text: `\`${held.action}\` ran.` };
  const ctxProgress = { update: (reply: Reply) => progress.update(reply), finish: async () => {} };
  if (held.kind === 'command') {
    const route = findSubcommand(module, held.text);
    if (!route.ok || route.kind !== 'run' || route.action !== held.action)
      return refused(interaction, `\`${held.action}\` can no longer be run as it was asked.`);
    const denial = await accessDenial(deps, interaction);
    if (denial) return denial;
    const parsed = parseArguments(route, {
      userId: held.actor.userId,
      channelId: held.actor.channelId,
      actions,
    });
    if (!parsed.ok) return refused(interaction, parsed.message);
    requireConfigured(module, deps);
    if (!route.subcommand.readOnly) await interaction.beforeSideEffect();
    const ctx = commandContext(interaction, deps, ctxProgress);
    return done(await route.subcommand.run(ctx, parsed.input as ParsedInput));
  }
  const handler = handlerOf(module, held);
  if (!handler) return refused(interaction, `\`${held.action}\` is no longer supported.`);
  const denial = await accessDenial(deps, interaction);
  if (denial) return denial;
  requireConfigured(module, deps);
  await interaction.beforeSideEffect();
  const ctx = commandContext(interaction, deps, ctxProgress, {
    ...(held.message ? { message: held.message } : {}),
    ...(held.formMetadata ? { formMetadata: held.formMetadata } : {}),
  });
  return done(await handler(ctx, held.value));
}

/** The handler of a held button, form or shortcut, as its command module declares it now. */
function handlerOf(
  module: CommandModule,
  held: Extract<HeldAction, { kind: 'button' | 'view' | 'shortcut' }>,
): InteractionHandler<IntegrationKey> | undefined {
  const found: ViewHandler<IntegrationKey> | undefined =
    held.kind === 'button'
      ? module.actions?.[held.action]
      : held.kind === 'view'
        ? module.views?.[held.action]
        : module.shortcuts?.[held.action];
  if (!found) return undefined;
  return typeof found === 'function' ? found : found.run;
}

function refused(interaction: Interaction, text: string): Reply {
  interaction.result = 'user_error';
  return { text };
}
