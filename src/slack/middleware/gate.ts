import type { Reply } from '../../command-kit/command-spec.js';
import type { HeldAction } from '../../command-kit/held-action.js';
import { failureReply, type Interaction, type PipelineDeps } from '../interaction.js';

/**
 * Asks the gate (the approvals) whether an allowed action runs now: undefined when it does (as
 * break glass when the gate says so, noted on the interaction), else the answer for the requester
 * (held for approval, or why it could not be). Without a gate everything runs.
 */
export async function gateDecision(
  deps: Pick<PipelineDeps, 'gate' | 'log'>,
  interaction: Interaction,
  held: HeldAction,
  breakGlass?: string,
): Promise<Reply | undefined> {
  if (!deps.gate) return undefined;
  try {
    const decision = await deps.gate.check(held, breakGlass);
    if (decision.run) {
      if (decision.breakGlass) interaction.breakGlass = decision.breakGlass.reason;
      return undefined;
    }
    if (decision.heldAs) interaction.heldAs = decision.heldAs;
    else interaction.result = 'user_error';
    return decision.reply;
  } catch (error) {
    return failureReply(interaction, error, deps.log);
  }
}
