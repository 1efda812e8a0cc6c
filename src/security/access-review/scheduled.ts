import type { KnownBlock } from '@slack/web-api';
import type { Clock } from '../../clock.js';
import type { Component } from '../../component.js';
import type { SlackApi } from '../../integrations/slack-api.js';
import type { Logger } from '../../log.js';
import { actions, button, context } from '../../slack/blocks.js';
import type { DedupeStore, LeaseStore, MessageRefStore } from '../../store/state.js';
import { PeriodicPass } from '../../time/periodic.js';
import { reviewMessage } from './render.js';
import type { AccessReview } from './review.js';

/** The button on a posted review: its value is the review's id; pressing it attests the review. */
export const ATTEST_ACTION = 'opsbot:review-attest';
/** Where a posted review is remembered (State's message refs), by its id. */
export const reviewKey = (id: string) => `access-review:${id}`;
const DAY = 86_400_000;
/** How long a posted review can be attested (State keeps a key at most 30 days). */
export const REVIEW_KEPT_MS = 30 * DAY;
/**
 * A period's review is posted within its first 29 days (State's dedupe keeps a key 30 days at
 * most): with `every` above that, a period whose first 29 days found no replica running is skipped.
 */
const POST_WITHIN_MS = 29 * DAY;
/** How often a replica checks whether a review is due. */
export const REVIEW_CHECK_MS = 60 * 60_000;
const LEASE = 'access-review';
/** Most bytes of a review's blocks kept to re-render it when attested (State keeps 32 KiB per ref). */
const MAX_KEPT_BLOCKS = 24_000;

/** What State keeps of a posted review: what the attestation records, and the message to re-render. */
export interface PostedReview {
  id: string;
  days: number;
  since: string;
  at: string;
  from?: number;
  to?: number;
  records: number;
  removals: number;
  blocks: KnownBlock[];
}

/** The posted message: the review and a Mark reviewed button. */
export function scheduledMessage(review: AccessReview): { text: string; blocks: KnownBlock[] } {
  const message = reviewMessage(review);
  return {
    text: message.text,
    blocks: [
      ...message.blocks,
      actions([button('Mark reviewed', ATTEST_ACTION, review.id, 'primary')], `review@${review.id}`),
    ],
  };
}

/** The review as State keeps it beside the message (its blocks without the button, cut to fit). */
export function postedReview(review: AccessReview, blocks: readonly KnownBlock[]): PostedReview {
  let kept = blocks.filter((b) => b.type !== 'actions');
  while (kept.length > 2 && JSON.stringify(kept).length > MAX_KEPT_BLOCKS) kept = kept.slice(0, -1);
  return {
    id: review.id,
    days: review.days,
    since: review.since,
    at: review.at,
    ...(review.window.from !== undefined ? { from: review.window.from, to: review.window.to } : {}),
    records: review.window.records,
    removals: review.removalCount,
    blocks: kept,
  };
}

/** The message once an admin attested it: the review, and who marked it reviewed when. */
export function attestedBlocks(posted: PostedReview, admin: string, atIso: string): KnownBlock[] {
  return [
    ...posted.blocks,
    context(
      `:white_check_mark: Marked reviewed by <@${admin}> at ${atIso.replace('T', ' ').slice(0, 16)} UTC.`,
    ),
  ];
}

export interface ScheduledReviewDeps {
  /** Runs one review over the last `days` days. */
  review(days: number): Promise<AccessReview>;
  leases: LeaseStore;
  dedupe: DedupeStore;
  messages: MessageRefStore;
  owner: string;
  slack: Pick<SlackApi, 'postMessage'>;
  clock: Clock;
  log: Logger;
  /** `security.channel`. */
  channel: string;
  /** `security.review.every` (ms) and `.days`. */
  everyMs: number;
  days: number;
  checkEveryMs?: number;
}

/**
 * The scheduled access review: every `security.review.every`, one replica (a lease) runs the review
 * and posts it to `security.channel` with a Mark reviewed button, once per period (State's dedupe).
 */
export class ScheduledAccessReview implements Component {
  readonly name = 'access-review';
  readonly #d: ScheduledReviewDeps;
  readonly #loop: PeriodicPass;

  constructor(deps: ScheduledReviewDeps) {
    this.#d = deps;
    this.#loop = new PeriodicPass({
      clock: deps.clock,
      everyMs: Math.min(deps.checkEveryMs ?? REVIEW_CHECK_MS, deps.everyMs),
      pass: () => this.pass(),
      failed: (error) =>
        deps.log.warn({ err: error }, 'the scheduled access review failed; the next check retries'),
    });
  }

  async start(): Promise<void> {
    this.#loop.start();
  }

  stop(deadline: number): Promise<boolean> {
    return this.#loop.stop(deadline);
  }

  /** One check: the review's id when this replica posted this period's review. */
  async pass(): Promise<string | undefined> {
    const d = this.#d;
    const every = Math.min(d.checkEveryMs ?? REVIEW_CHECK_MS, d.everyMs);
    if (!(await d.leases.acquire(LEASE, d.owner, 2 * every))) return undefined;
    const now = d.clock.now();
    const period = Math.floor(now / d.everyMs);
    if (now - period * d.everyMs > Math.min(d.everyMs, POST_WITHIN_MS)) return undefined;
    const key = `${LEASE}:${d.everyMs}:${period}`;
    if (!(await d.dedupe.putIfAbsent(key, Math.min(2 * d.everyMs, REVIEW_KEPT_MS)))) return undefined;
    const review = await d.review(d.days);
    const message = scheduledMessage(review);
    const posted = await d.slack.postMessage({ channel: d.channel, ...message });
    await d.messages.putIfAbsent(
      reviewKey(review.id),
      { channel: posted.channel, ts: posted.ts, data: JSON.stringify(postedReview(review, message.blocks)) },
      REVIEW_KEPT_MS,
    );
    d.log.info(
      { review: review.id, records: review.window.records, removals: review.removalCount },
      'posted the scheduled access review',
    );
    return review.id;
  }
}
