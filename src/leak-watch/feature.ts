import { UserFacingError } from '../errors.js';
import { defineFeature, type Feature } from '../feature.js';
import type { Logger } from '../log.js';
import type { SecretRotation } from '../secret-rotation/service.js';
import { securityConfig } from '../security/config.js';
import { OwnValues } from './own-values.js';
import { LeakWatch, type RotateLeaked, rotationUnavailable } from './watch.js';

export type { LeakRotationOutcome } from './render.js';
export type { RotateLeaked } from './watch.js';

export interface LeakWatchOptions {
  /**
   * Starts an emergency rotation of a leaked own secret and resolves with how it ended. Without
   * it, the security channel is told to run `/opsbot rotate <secret> --emergency`.
   */
  rotateLeaked?: RotateLeaked;
  /** Called with the watch once built (tests wait for its follow-ups with `idle()`). */
  onBuilt?: (watch: LeakWatch) => void;
}

/**
 * Leaked credentials in channels (README, "Leaked secrets"), as a feature: a message watcher over
 * the channels opsbot is in (`message.channels`, `message.groups`), with the `security:` section.
 * It has no components: the own-value index follows the provider as versions change.
 */
export function leakWatchFeature(options: LeakWatchOptions = {}): Feature {
  return defineFeature({
    name: 'leak-watch',
    needs: ['slack'],
    config: securityConfig,
    components: () => [],
    messageWatchers: (ctx) => {
      // `security.leakScan: false`: no scanning at all (nothing is read from messages).
      if (!ctx.config.file.security.leakScan) return [];
      const watch = new LeakWatch({
        own: new OwnValues(ctx.credentials, ctx.secrets),
        slack: ctx.apis.slack,
        dedupe: ctx.state.dedupe,
        audit: ctx.audit,
        clock: ctx.clock,
        log: ctx.log.child({ component: 'leak-watch' }),
        metrics: ctx.metrics,
        ...(ctx.config.file.security.channel ? { securityChannel: ctx.config.file.security.channel } : {}),
        admins: ctx.config.file.access.admins,
        rotateLeaked:
          options.rotateLeaked ??
          (ctx.secretRotation?.available
            ? rotateThrough(ctx.secretRotation, ctx.log)
            : rotationUnavailable(ctx.config.secrets.source)),
      });
      options.onBuilt?.(watch);
      return [watch];
    },
  });
}

/**
 * What the rotation did about the leaked value at the vendor, where that differs by secret: a
 * credential opsbot sends (not one it checks) keeps working wherever it was copied to until the
 * vendor stops it.
 */
const AT_THE_VENDOR: Readonly<Record<string, string>> = {
  datadog:
    ', and its Datadog API and application keys were revoked (all but an application key made by hand before opsbot first rotated them, which Datadog will not name: revoke that one in Datadog)',
  slack:
    ', and the leaked bot token was revoked at Slack (auth.revoke). A leaked signing secret or app token cannot be revoked by opsbot: regenerate it in the app settings (Basic Information) and put it as AWSPENDING, then /opsbot rotate slack',
};

/**
 * A leaked own secret rotated as `/opsbot rotate <secret> --emergency` does (audited as opsbot,
 * intent first), followed until the bot serves the new version and accepts no other: from then on
 * the leaked value opens nothing of opsbot's (and Datadog's old keys are revoked by the rotation).
 */
export function rotateThrough(rotation: SecretRotation, log: Logger): RotateLeaked {
  return async (secretName, { reason }) => {
    try {
      const outcome = await rotation.startRotation(secretName, { emergency: true, actor: 'opsbot', reason });
      if (outcome.status === 'current') {
        return {
          status: 'rotated',
          message: `version ${outcome.rotation.token.slice(0, 8)} is current${outcome.botServes ? ' and opsbot serves it' : ''}; opsbot accepts no earlier version, so the leaked value stopped working for opsbot${AT_THE_VENDOR[secretName] ?? ''}`,
        };
      }
      return { status: 'failed', message: `the rotation stopped (${outcome.phase}): ${outcome.reason}` };
    } catch (error) {
      // A person-made value (GitHub key, Jira token) or rotation turned off: what to do instead.
      if (error instanceof UserFacingError) return { status: 'unavailable', message: error.message };
      log.error(
        { err: error, secret: secretName },
        'the emergency rotation of a leaked secret could not be started',
      );
      return {
        status: 'failed',
        message: 'the rotation could not be started; see the logs and run /opsbot rotate',
      };
    }
  };
}
