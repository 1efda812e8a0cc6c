import { defineFeature, type Feature } from '../feature.js';
import { DevenvReaper } from './reaper.js';

/**
 * The dev-environment reaper, as a feature: it runs when dev environments are configured (a role to
 * assume), warns owners before expiry and terminates what expired.
 */
export function devenvReaperFeature(): Feature {
  return defineFeature({
    name: 'devenv-reaper',
    needs: ['devenv', 'slack'],
    whenConfigured: ['devenv'],
    components: (ctx) => [
      new DevenvReaper({
        api: ctx.apis.devenv,
        dedupe: ctx.state.dedupe,
        leases: ctx.state.leases,
        owner: ctx.owner,
        slack: ctx.apis.slack,
        audit: ctx.audit,
        clock: ctx.clock,
        log: ctx.log.child({ component: 'devenv-reaper' }),
        metrics: ctx.metrics,
        admins: ctx.config.file.access.admins,
        intervalMs: ctx.config.devenv.reaperSeconds * 1_000,
      }),
    ],
  });
}
