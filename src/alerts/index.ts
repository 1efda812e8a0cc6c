import type { AuditTrail } from '../audit/sink.js';
import type { Clock } from '../clock.js';
import type { AlertAction } from '../command-kit/command-spec.js';
import type { Component } from '../component.js';
import type { CredentialProvider } from '../credentials/provider.js';
import type { DatadogApi } from '../integrations/datadog.js';
import type { SlackApi } from '../integrations/slack-api.js';
import type { Logger } from '../log.js';
import type { Registry } from '../metrics.js';
import { replicaName } from '../replica-name.js';
import type { State } from '../store/state.js';
import { AlertDispatcher, type DispatcherOptions } from './dispatcher.js';
import { cycleOf } from './payload.js';
import { clearMute, type RootData, rootKey } from './roots.js';
import { type AlertRoutes, alertChannels, routeAlert } from './routes.js';
import { registerUnroutedGauge } from './unrouted-gauge.js';
import { DatadogWebhook } from './webhook.js';

export interface AlertsDeps {
  routes: AlertRoutes;
  credentials: Pick<
    CredentialProvider,
    'inboundCandidates' | 'inboundField' | 'isLoaded' | 'refreshAfterAuthFailure'
  >;
  state: State;
  slack: SlackApi;
  datadog: DatadogApi;
  audit: AuditTrail;
  clock: Clock;
  log: Logger;
  metrics: Registry;
  /** The Datadog web app of the configured site (monitor links). */
  appUrl: string;
  /** `OPSBOT_DATADOG_SITE`: alerts' links and graphs are kept only on its hosts. */
  site: string;
  /** Other commands' buttons on alert roots (Create Jira issue…), as offered now. */
  alertActions?: () => readonly AlertAction[];
  /** Random per process unless given: names this replica in claims and leases. */
  owner?: string;
  dispatcher?: Partial<DispatcherOptions>;
  /** Told of each webhook request refused for its secret (the security detections count them). */
  onRefused?: () => void;
}

/**
 * Datadog alerts in Slack: the webhook receiver (authenticate, validate, store, audit, 202) and
 * the dispatcher (one loop per routed channel). Both are components; app.ts adds them when the
 * datadog integration is registered.
 */
export function createAlerts(deps: AlertsDeps): Component[] {
  // Each component names itself in its log lines (once): the webhook and the dispatcher get the
  // plain logger; what is logged here on their behalf names `alerts`.
  const log = deps.log.child({ component: 'alerts' });
  const owner = deps.owner ?? replicaName();
  const dispatcher = new AlertDispatcher(alertChannels(deps.routes), {
    state: deps.state,
    slack: deps.slack,
    clock: deps.clock,
    log: deps.log,
    metrics: deps.metrics,
    appUrl: deps.appUrl,
    ...(deps.alertActions ? { alertActions: deps.alertActions } : {}),
    owner,
    ...(deps.dispatcher ? { options: deps.dispatcher } : {}),
    // What the intake function stored is routed here, by the same routes as the webhook's.
    route: (alert) => routeAlert(deps.routes, alert),
    // "Mute until recovered": opsbot ends the downtime when the recovery arrives.
    onRecoveredWhileMuted: async (root: RootData, channel: string) => {
      const mute = root.mute;
      if (mute?.until !== 'recovered') return;
      const outcome = await deps.datadog.cancelDowntime(mute.downtimeId).then(
        () => 'success' as const,
        (error: unknown) => {
          log.warn(
            { err: error, monitor: root.monitorId },
            'could not end the downtime of a recovered alert',
          );
          return 'error' as const;
        },
      );
      deps.audit.write({
        action: 'dd:unmute',
        outcome,
        actor: 'opsbot',
        details: { monitor: root.monitorId, downtime: mute.downtimeId, reason: 'recovered', channel },
      });
      if (outcome === 'success')
        await clearMute(deps.state.messages, rootKey(cycleOf(root)), mute.downtimeId);
    },
  });
  const webhook = new DatadogWebhook({
    credentials: deps.credentials,
    outbox: deps.state.outbox,
    audit: deps.audit,
    routes: deps.routes,
    site: deps.site,
    clock: deps.clock,
    log: deps.log,
    metrics: deps.metrics,
    stored: (channel) => dispatcher.stored(channel),
    ...(deps.onRefused ? { onRefused: deps.onRefused } : {}),
  });
  registerUnroutedGauge({ metrics: deps.metrics, outbox: deps.state.outbox, clock: deps.clock });
  return [webhook, dispatcher];
}
