import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import type { Component } from '../component.js';
import { defineFeature, type Feature, type FeatureContext } from '../feature.js';
import type { SecretRotation } from '../secret-rotation/service.js';
import type { BackoffPolicy } from '../time/backoff.js';
import { awsEventsComponent } from './aws-events/endpoint.js';
import { EventsQueueConsumer } from './aws-events/queue-consumer.js';
import { securityConfig } from './config.js';
import { DetectionsTail } from './detections/tail.js';
import { SlackSecurityReporter } from './reporter.js';

export interface SecurityFeatureOptions {
  /** How often the trail is read (tests shorten it). */
  everyMs?: number;
  /** Called with the tail once built (tests wait for its reports with `idle()`). */
  onBuilt?: (tail: DetectionsTail) => void;
  /** The events queue's consumer (with `OPSBOT_EVENTS_QUEUE_URL`): tests point its SQS client at moto and shorten its waits. */
  eventsQueue?: {
    client?: SQSClientConfig;
    waitSeconds?: number;
    backoff?: BackoffPolicy;
    retryVisibility?: BackoffPolicy;
  };
}

/**
 * SQS under the task role (the SDK's default credential chain; `AWS_ENDPOINT_URL_SQS` is the SDK's
 * own). A request may take the long poll's 20 s and then some before it is abandoned.
 */
function eventsQueueClient(region: string | undefined, config: SQSClientConfig = {}): SQSClient {
  return new SQSClient({
    ...(region ? { region } : {}),
    maxAttempts: 3,
    requestHandler: { requestTimeout: 30_000, connectionTimeout: 2_000, throwOnRequestTimeout: true },
    ...config,
  });
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
      const components: Component[] = [tail, events];
      const queueUrl = ctx.config.security?.eventsQueueUrl;
      if (queueUrl) {
        const queue = options.eventsQueue ?? {};
        components.push(
          new EventsQueueConsumer({
            sqs: eventsQueueClient(ctx.config.aws.region, queue.client),
            queueUrl,
            // The endpoint's own store: an event delivered over both paths is stored once.
            calls: events.calls,
            reporter,
            clock: ctx.clock,
            random: Math.random,
            log: ctx.log,
            metrics: ctx.metrics,
            ...(queue.waitSeconds !== undefined ? { waitSeconds: queue.waitSeconds } : {}),
            ...(queue.backoff ? { backoff: queue.backoff } : {}),
            ...(queue.retryVisibility ? { retryVisibility: queue.retryVisibility } : {}),
          }),
        );
      }
      return components;
    },
  });
}
