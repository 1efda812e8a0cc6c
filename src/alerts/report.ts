import type { OutboxStore } from '../store/state.js';
import type { QueuedAlert } from './deliver.js';
import type { AlertEvent, Transition } from './payload.js';
import { type AlertRoutes, alertChannels, topicFor, UNROUTED_TOPIC } from './routes.js';

/** Most alerts one report reads per channel (the newest). */
export const REPORT_MAX_PER_TOPIC = 10_000;

export interface AlertReport {
  total: number;
  /** Not yet shown in Slack. */
  waiting: number;
  unrouted: number;
  /** True when a channel had more alerts than were read (counts are then lower bounds). */
  truncated: boolean;
  byTransition: Map<Transition, number>;
  byMonitor: Array<{
    monitorId: string;
    title: string;
    /** When the alert whose title is shown happened. */
    at: number;
    count: number;
    transitions: Map<Transition, number>;
  }>;
}

/** What opsbot received since `since`, from the outbox (every alert stays there 30 days once done). */
export async function alertReport(
  outbox: Pick<OutboxStore, 'recent'>,
  routes: AlertRoutes,
  since: number,
  perTopic = REPORT_MAX_PER_TOPIC,
): Promise<AlertReport> {
  const report: AlertReport = {
    total: 0,
    waiting: 0,
    unrouted: 0,
    truncated: false,
    byTransition: new Map(),
    byMonitor: [],
  };
  const monitors = new Map<string, AlertReport['byMonitor'][number]>();
  for (const topic of [...alertChannels(routes).map(topicFor), UNROUTED_TOPIC]) {
    const items = await outbox.recent(topic, since, perTopic);
    if (items.length === perTopic) report.truncated = true;
    for (const item of items) {
      const alert = alertOf(item.payload);
      if (!alert) continue;
      report.total++;
      if (topic === UNROUTED_TOPIC) report.unrouted++;
      else if (!item.done) report.waiting++;
      bump(report.byTransition, alert.transition);
      let m = monitors.get(alert.monitorId);
      if (!m) {
        m = {
          monitorId: alert.monitorId,
          title: alert.title,
          at: alert.at,
          count: 0,
          transitions: new Map(),
        };
        monitors.set(alert.monitorId, m);
      } else if (alert.at > m.at) {
        // The latest title, across channels too.
        m.title = alert.title;
        m.at = alert.at;
      }
      m.count++;
      bump(m.transitions, alert.transition);
    }
  }
  report.byMonitor = [...monitors.values()].sort(
    (a, b) => b.count - a.count || a.monitorId.localeCompare(b.monitorId),
  );
  return report;
}

/** The last notifications opsbot received for one monitor, newest first. */
export async function monitorHistory(
  outbox: Pick<OutboxStore, 'recent'>,
  routes: AlertRoutes,
  monitorId: string,
  since: number,
  max = 5,
): Promise<AlertEvent[]> {
  const seen: AlertEvent[] = [];
  for (const topic of [...alertChannels(routes).map(topicFor), UNROUTED_TOPIC]) {
    for (const item of await outbox.recent(topic, since, 2_000)) {
      const alert = alertOf(item.payload);
      if (alert?.monitorId === monitorId) seen.push(alert);
    }
  }
  return seen.sort((a, b) => b.at - a.at).slice(0, max);
}

function alertOf(payload: string): AlertEvent | undefined {
  try {
    return (JSON.parse(payload) as QueuedAlert).alert;
  } catch {
    return undefined;
  }
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
