import { defineFeature, type Feature } from '../../feature.js';
import { securityConfig } from '../config.js';
import { reviewDeps, withVendorGrants } from './deps.js';
import { accessReview } from './review.js';
import { ScheduledAccessReview } from './scheduled.js';

/**
 * The scheduled access review (README, "Security reviews and detections"), as a feature: every
 * `security.review.every` one replica (a lease) posts the review of the last `security.review.days`
 * days to `security.channel` with a Mark reviewed button. Off with `security.review.off`, or when
 * there is no `security.channel`.
 */
export function accessReviewFeature(options: { checkEveryMs?: number } = {}): Feature {
  return defineFeature({
    name: 'access-review',
    needs: ['slack'],
    config: securityConfig,
    components: (ctx) => {
      const security = ctx.config.file.security;
      if (security.review.off || !security.channel) return [];
      const deps = reviewDeps({
        audit: ctx.state.audit,
        access: ctx.config.file.access,
        slack: ctx.apis.slack,
        clock: ctx.clock,
        configPath: ctx.config.configPath,
        configured: (name) => ctx.isConfigured(name),
      });
      return [
        new ScheduledAccessReview({
          review: async (days) =>
            accessReview(await withVendorGrants(deps, ctx.grants?.bind(ctx), ctx.clock), days),
          leases: ctx.state.leases,
          dedupe: ctx.state.dedupe,
          messages: ctx.state.messages,
          owner: ctx.owner,
          slack: ctx.apis.slack,
          clock: ctx.clock,
          log: ctx.log.child({ component: 'access-review' }),
          channel: security.channel,
          everyMs: security.review.every,
          days: security.review.days,
          ...(options.checkEveryMs ? { checkEveryMs: options.checkEveryMs } : {}),
        }),
      ];
    },
  });
}
