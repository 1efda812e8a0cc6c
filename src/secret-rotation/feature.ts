import { defineFeature, type Feature } from '../feature.js';
import { SecretReminder } from './reminder.js';

/**
 * The daily reminder of overdue secrets (README, "Rotating each secret"), as a feature: on every
 * replica, one of which (a lease) sends it.
 */
export function secretsReminderFeature(options: { checkEveryMs?: number } = {}): Feature {
  return defineFeature({
    name: 'secrets-reminder',
    needs: ['slack'],
    components: (ctx) =>
      ctx.secretRotation
        ? [
            new SecretReminder({
              rotation: ctx.secretRotation,
              leases: ctx.state.leases,
              dedupe: ctx.state.dedupe,
              owner: ctx.owner,
              slack: ctx.apis.slack,
              clock: ctx.clock,
              log: ctx.log.child({ component: 'secrets-reminder' }),
              admins: ctx.config.file.access.admins,
              ...(ctx.config.file.security?.channel ? { channel: ctx.config.file.security.channel } : {}),
              ...(options.checkEveryMs ? { checkEveryMs: options.checkEveryMs } : {}),
            }),
          ]
        : [],
  });
}
