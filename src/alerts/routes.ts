import type { AlertsConfig } from './config.js';
import type { AlertEvent } from './payload.js';

export type AlertRoutes = AlertsConfig;

/** The outbox topic of alerts for one channel, and of alerts no route and no default channel take. */
export const topicFor = (channel: string) => `alerts:${channel}`;
export const UNROUTED_TOPIC = 'alerts:unrouted';
/**
 * The outbox topic of alerts the intake function stored (it has no routes): the bot routes them to
 * their channel's topic. Also the work signal the intake bumps (channel ids never contain `:`).
 */
export const INTAKE_TOPIC = 'alerts:intake';

/**
 * Which channel an alert goes to: the first route whose every named dimension matches, else
 * `defaultChannel`, else none (the caller keeps it as unrouted, logs and counts it).
 * - `tags`: the alert carries every tag listed (its `$TAGS` and its `$ALERT_SCOPE` both count);
 * - `priority`: the alert's priority is one of those listed (an alert without one never matches);
 * - `monitorIds`: the alert's monitor is one of those listed.
 */
export function routeAlert(
  routes: AlertRoutes,
  alert: Pick<AlertEvent, 'tags' | 'scope' | 'priority' | 'monitorId'>,
): string | undefined {
  const tags = new Set([...alert.tags, ...alert.scope.split(',').map((t) => t.trim())]);
  for (const route of routes.routes) {
    const { match } = route;
    if (match.tags && !match.tags.every((t) => tags.has(t))) continue;
    if (match.priority && !(alert.priority && match.priority.includes(`P${alert.priority}`))) continue;
    if (match.monitorIds && !match.monitorIds.some((id) => String(id) === alert.monitorId)) continue;
    return route.channel;
  }
  return routes.defaultChannel;
}

/** Every channel an alert can be routed to: one dispatcher each. */
export function alertChannels(routes: AlertRoutes): string[] {
  const channels = new Set(routes.routes.map((r) => r.channel));
  if (routes.defaultChannel) channels.add(routes.defaultChannel);
  return [...channels];
}
