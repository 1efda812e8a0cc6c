import { defineFeature, type Feature } from '../feature.js';
import { datadogAppUrl } from '../integrations/datadog.js';
import { alertsConfig } from './config.js';
import type { DispatcherOptions } from './dispatcher.js';
import { createAlerts } from './index.js';

/**
 * Datadog alerts in Slack, as a feature: the webhook receiver and the per-channel dispatcher, run
 * whenever the datadog integration is registered (its secret may come later: the webhook answers
 * 503 until it is loaded). Tests shorten the dispatcher's pacing and leases through `dispatcher`.
 */
export function alertsFeature(options: { dispatcher?: Partial<DispatcherOptions> } = {}): Feature {
  return defineFeature({
    name: 'alerts',
    needs: ['datadog', 'slack'],
    config: alertsConfig,
    components: (ctx) =>
      createAlerts({
        routes: ctx.config.file.alerts,
        credentials: ctx.credentials,
        state: ctx.state,
        slack: ctx.apis.slack,
        datadog: ctx.apis.datadog,
        audit: ctx.audit,
        clock: ctx.clock,
        log: ctx.log,
        metrics: ctx.metrics,
        appUrl: datadogAppUrl(ctx.config.datadog.site),
        site: ctx.config.datadog.site,
        owner: ctx.owner,
        alertActions: ctx.alertActions,
        ...(ctx.refusals ? { onRefused: () => ctx.refusals?.refused('datadog') } : {}),
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      }),
  });
}
