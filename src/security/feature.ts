import { defineFeature, type Feature, type FeatureContext } from '../feature.js';
import type { SecretRotation } from '../secret-rotation/service.js';
import { awsEventsComponent } from './aws-events/endpoint.js';
import { securityConfig } from './config.js';
import { DetectionsTail } from './detections/tail.js';
import { SlackSecurityReporter } from './reporter.js';

export interface SecurityFeatureOptions {
  /** How often the trail is read (tests shorten it). */
  everyMs?: number;
  /** Called with the tail once built (tests wait for its reports with `idle()`). */
  onBuilt?: (tail: DetectionsTail) => void;
}

/** Secrets Manager's LastRotatedDate of one of opsbot's secrets (aws source only). */
function lastRotatedAt(rotation: SecretRotation) {
  return async (secret: string) =>
    (await rotation.inventory()).find((row) => row.short === secret)?.status?.lastRotatedAt;
}

/** The reporter to `security.channel` (else each admin), as every feature that reports builds it. */
export function securityReporterFor(ctx: FeatureContext<'slack'>): SlackSecurityReporter {
  const security = ctx.config.file.security;
  return new SlackSecurityReporter({
    slack: ctx.apis.slack,
    dedupe: ctx.state.dedupe,
    messages: ctx.state.messages,
    audit: ctx.audit,
    clock: ctx.clock,
    log: ctx.log.child({ component: 'security-reporter' }),
    ...(security.channel ? { channel: security.channel } : {}),
    admins: ctx.config.file.access.admins,
  });
}

/**
 * Security detections (README, "Security reviews and detections"), as a feature: the tail of the
 * audit trail on every replica, one of which (a lease) decides, reporting to `security.channel`.
 */
export function securityFeature(options: SecurityFeatureOptions = {}): Feature {
  return defineFeature({
    name: 'security-detections',
    needs: ['slack'],
    config: securityConfig,
    components: (ctx) => {
      const security = ctx.config.file.security;
      const admins = ctx.config.file.access.admins;
      const reporter = securityReporterFor(ctx);
      const tail = new DetectionsTail({
        audit: ctx.state.audit,
        leases: ctx.state.leases,
        cursor: ctx.state.messages,
        owner: ctx.owner,
        reporter,
        detections: security.detections,
        admins,
        ...(ctx.secretRotation?.available ? { lastRotatedAt: lastRotatedAt(ctx.secretRotation) } : {}),
        ...(ctx.refusals ? { refusals: ctx.refusals } : {}),
        clock: ctx.clock,
        log: ctx.log.child({ component: 'security-detections' }),
        ...(options.everyMs ? { everyMs: options.everyMs } : {}),
      });
      options.onBuilt?.(tail);
      const { secrets } = ctx.config;
      const events = awsEventsComponent({
        provider: ctx.credentials,
        state: ctx.state,
        audit: ctx.audit,
        reporter,
        security,
        secretNames: ctx.credentials.names().map((n) => ctx.credentials.secretName(n)),
        source: secrets.source,
        ...(secrets.vault?.role ? { vaultRole: secrets.vault.role } : {}),
        ...(secrets.vault?.kvMount ? { vaultKvMount: secrets.vault.kvMount } : {}),
        clock: ctx.clock,
        log: ctx.log,
        metrics: ctx.metrics,
      });
      return [tail, events];
    },
  });
}
