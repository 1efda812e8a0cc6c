import type { OutboxStore, OutboxSummary } from '../store/state.js';
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

/** What a stored alert is counted by (`/dd alerts`) and found by (`/dd monitor`), without its payload. */
export function alertSummary(alert: AlertEvent): OutboxSummary {
  return { group: alert.monitorId, kind: alert.transition, title: alert.title, at: alert.at };
}

/**
 * What opsbot received since `since`, from the outbox (every alert stays there 30 days once done):
 * the store counts each channel's newest `perTopic` alerts by their summaries, a page at a time,
 * without reading a payload.
 */
export async function alertReport(
  outbox: Pick<OutboxStore, 'tally'>,
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
    const tally = await outbox.tally(topic, since, perTopic);
    if (tally.read === perTopic) report.truncated = true;
    if (topic !== UNROUTED_TOPIC) report.waiting += tally.open;
    for (const group of tally.groups) {
      let m = monitors.get(group.group);
      if (!m) {
        m = { monitorId: group.group, title: group.title, at: group.at, count: 0, transitions: new Map() };
        monitors.set(group.group, m);
      } else if (group.at > m.at) {
        // The latest title, across channels too.
        m.title = group.title;
        m.at = group.at;
      }
      for (const [kind, n] of group.kinds) {
        const transition = kind as Transition;
        report.total += n;
        if (topic === UNROUTED_TOPIC) report.unrouted += n;
        bump(report.byTransition, transition, n);
        m.count += n;
        bump(m.transitions, transition, n);
      }
    }
  }
  report.byMonitor = [...monitors.values()].sort(
    (a, b) => b.count - a.count || a.monitorId.localeCompare(b.monitorId),
  );
  return report;
}

/**
 * The last notifications opsbot received for one monitor, newest first: each channel's store
 * reads only that monitor's `max` latest (their payloads, nothing else).
 */
export async function monitorHistory(
  outbox: Pick<OutboxStore, 'history'>,
  routes: AlertRoutes,
  monitorId: string,
  since: number,
  max = 5,
): Promise<AlertEvent[]> {
  const seen: AlertEvent[] = [];
  for (const topic of [...alertChannels(routes).map(topicFor), UNROUTED_TOPIC]) {
    for (const item of await outbox.history(topic, monitorId, since, max)) {
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

function bump<K>(map: Map<K, number>, key: K, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}
