import { UsergroupMembership } from '../access/usergroups.js';
import { defineFeature, type Feature, type FeatureContext } from '../feature.js';
import { securityReporterFor } from '../security/feature.js';
import { approvalsConfig } from './config.js';
import { Approvals } from './service.js';
import { ApprovalSweeper } from './sweeper.js';

export interface ApprovalsFeatureOptions {
  /** How often expired requests are closed (tests shorten it). */
  sweepEveryMs?: number;
}

/**
 * Approvals by a second person (README, "Approvals"), as a feature: the `approvals:` section, the
 * gate the pipeline asks for every action, and the sweep that closes expired requests. Break glass
 * is reported to `security.channel`.
 */
export function approvalsFeature(options: ApprovalsFeatureOptions = {}): Feature {
  // One desk per app: `components` and `approvals` are called with the same context.
  const built = new WeakMap<object, Approvals>();
  const desk = (ctx: FeatureContext<'slack'>): Approvals => {
    let approvals = built.get(ctx);
    if (!approvals) {
      const slack = ctx.apis.slack;
      const security = ctx.config.file.security;
      const admins = new Set(ctx.config.file.access.admins);
      approvals = new Approvals({
        rules: ctx.config.file.approvals,
        refs: ctx.state.messages,
        slack,
        membership: new UsergroupMembership({
          fetchMembers: (id) => slack.usergroupMembers(id),
          clock: ctx.clock,
        }).isMember,
        isAdmin: (user) => admins.has(user),
        audit: ctx.audit,
        reporter: securityReporterFor(ctx),
        ...(security.channel ? { fallbackChannel: security.channel } : {}),
        clock: ctx.clock,
        log: ctx.log.child({ component: 'approvals' }),
      });
      built.set(ctx, approvals);
    }
    return approvals;
  };
  return defineFeature({
    name: 'approvals',
    needs: ['slack'],
    config: approvalsConfig,
    components: (ctx) =>
      ctx.config.file.approvals.length === 0
        ? []
        : [
            new ApprovalSweeper({
              approvals: desk(ctx),
              leases: ctx.state.leases,
              owner: ctx.owner,
              clock: ctx.clock,
              log: ctx.log.child({ component: 'approvals-sweep' }),
              ...(options.sweepEveryMs ? { everyMs: options.sweepEveryMs } : {}),
            }),
          ],
    approvals: (ctx) => desk(ctx),
  });
}
