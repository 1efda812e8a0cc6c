import type { CommandContext, Reply } from '../src/command-kit/command-spec.js';
import { ErrorCode, UserFacingError } from '../src/errors.js';
import { reviewDeps, withVendorGrants } from '../src/security/access-review/deps.js';
import { reviewMessage } from '../src/security/access-review/render.js';
import { accessReview } from '../src/security/access-review/review.js';
import { attestedBlocks, type PostedReview, reviewKey } from '../src/security/access-review/scheduled.js';

/** A review's id as its Mark reviewed button carries it: `<last seq>.<epoch ms>`. */
export const REVIEW_ID = /^\d{1,15}\.\d{1,15}$/;

function requireAdmin(ctx: CommandContext): void {
  if (!ctx.isAdmin)
    throw new UserFacingError('That is for opsbot admins only.', { code: ErrorCode.AccessDenied });
}

/** `/opsbot access review [--days N]`: the review, for the admin who asked. */
export async function accessReviewReply(ctx: CommandContext, days: number | undefined): Promise<Reply> {
  requireAdmin(ctx);
  const { services } = ctx;
  const deps = reviewDeps({
    audit: services.state.audit,
    access: services.file.access,
    slack: services.slack,
    clock: services.clock,
    configPath: services.configPath,
    configured: (name) => services.configured(name),
  });
  const review = await accessReview(
    await withVendorGrants(deps, services.grants?.bind(services), services.clock),
    days ?? services.file.security.review.days,
  );
  return reviewMessage(review);
}

/**
 * The Mark reviewed button of a scheduled review: an admin attests it. One audit record
 * (`security:review_attested`: the window, how many records, how many removals proposed), then the
 * message says who marked it reviewed and when.
 */
export async function attestReview(ctx: CommandContext, id: string): Promise<Reply> {
  requireAdmin(ctx);
  if (!REVIEW_ID.test(id)) throw new UserFacingError('That button names no access review opsbot posted.');
  const { state, clock } = ctx.services;
  const ref = await state.messages.get(reviewKey(id));
  if (!ref?.data || (ctx.message && (ctx.message.channelId !== ref.channel || ctx.message.ts !== ref.ts)))
    throw new UserFacingError(
      'That access review is no longer on record (a review can be marked for 30 days): run `/opsbot access review` for a new one.',
    );
  const posted = JSON.parse(ref.data) as PostedReview;
  const at = new Date(clock.now()).toISOString();
  await state.audit.append({
    action: 'security:review_attested',
    outcome: 'success',
    actor: ctx.actor.userId,
    details: {
      review: posted.id,
      days: posted.days,
      since: posted.since,
      from: posted.from,
      to: posted.to,
      records: posted.records,
      removals: posted.removals,
      channel: ref.channel,
      requestId: ctx.requestId,
    },
  });
  return {
    text: `Access review of the last ${posted.days} days marked reviewed by <@${ctx.actor.userId}>`,
    blocks: attestedBlocks(posted, ctx.actor.userId, at),
    replaceOriginal: true,
    responseType: 'in_channel',
  };
}
