import type {
  AllMiddlewareArgs,
  Middleware,
  SlackActionMiddlewareArgs,
  SlackCommandMiddlewareArgs,
  SlackShortcutMiddlewareArgs,
  SlackViewMiddlewareArgs,
} from '@slack/bolt';
import type { Reply } from '../../command-kit/command-spec.js';
import { ErrorCode } from '../../errors.js';
import { failureReply, type Interaction, interactionOf, type PipelineDeps } from '../interaction.js';
import { explainDenial } from '../policy-text.js';

type AnyInteractionArgs =
  | SlackCommandMiddlewareArgs
  | SlackActionMiddlewareArgs
  | SlackViewMiddlewareArgs
  | SlackShortcutMiddlewareArgs;

/**
 * Deny by default, before any handler runs: the interaction's action must be allowed for this
 * actor in this channel. A denial answers (only to the caller) with what would be needed, and is
 * audited as `denied`. Typed over Bolt's own arguments of the listener it is given to (`Args`), so
 * `app.action`/`app.view`/`app.command` take it as it is, and `reply` gets those same arguments.
 */
export function checkAccess<Args extends AnyInteractionArgs>(
  deps: Pick<PipelineDeps, 'services' | 'log'>,
  reply: (args: Args & AllMiddlewareArgs, message: Reply) => Promise<void>,
): Middleware<Args> {
  return async (args) => {
    const denial = await accessDenial(deps, interactionOf(args.context));
    if (denial) {
      await reply(args, denial);
      return;
    }
    await args.next();
  };
}

/**
 * Decides the interaction's access (deny by default) and records the decision on it: undefined when
 * allowed, else the answer for the caller (what would be needed, or the failure to decide).
 */
export async function accessDenial(
  deps: Pick<PipelineDeps, 'services' | 'log'>,
  interaction: Interaction,
): Promise<Reply | undefined> {
  const { policy, membership } = deps.services;
  const { userId, channelId } = interaction.actor;
  let decision: Awaited<ReturnType<typeof policy.evaluate>>;
  try {
    decision = await policy.evaluate(
      { user: userId, channel: channelId, action: interaction.action },
      membership,
    );
  } catch (error) {
    interaction.decision = 'denied';
    return failureReply(interaction, error, deps.log);
  }
  if (!decision.allowed) {
    interaction.decision = 'denied';
    interaction.result = 'user_error';
    interaction.errorCode = ErrorCode.AccessDenied;
    return { text: `:no_entry: ${explainDenial(interaction.action, decision)}` };
  }
  interaction.decision = 'allowed';
  return undefined;
}
