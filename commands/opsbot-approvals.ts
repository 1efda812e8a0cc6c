import type { CommandContext, InteractionHandler, Reply } from '../src/command-kit/command-spec.js';
import { ErrorCode, UserFacingError } from '../src/errors.js';

/** A request id as the buttons carry it: `R-7K2M9QXA`. */
const REQUEST = /^R-[0-9A-HJKMNP-TV-Z]{8}$/;

function desk(ctx: CommandContext) {
  const approvals = ctx.services.approvals;
  if (!approvals)
    throw new UserFacingError(
      'Approvals are not set up in this opsbot (no `approvals:` in its configuration).',
      {
        code: ErrorCode.NotConfigured,
      },
    );
  return approvals;
}

/** `/opsbot approvals`: the open requests you made or may decide. */
export async function approvalsReply(ctx: CommandContext): Promise<Reply> {
  return desk(ctx).list(ctx.actor);
}

const decide =
  (decision: 'approve' | 'deny' | 'cancel'): InteractionHandler =>
  async (ctx, value) => {
    if (!REQUEST.test(value)) throw new UserFacingError('That button names no approval request.');
    const reply = await desk(ctx).decide(decision, value, ctx.actor);
    // Only the person who pressed sees the answer; the request message itself shows the outcome.
    return { ...reply, replaceOriginal: false };
  };

/** The request's buttons: open to everyone by the policy; who may decide is the request's own. */
export const approvalActions: Readonly<Record<string, InteractionHandler>> = {
  'opsbot:approve': decide('approve'),
  'opsbot:deny': decide('deny'),
  'opsbot:cancel': decide('cancel'),
};
