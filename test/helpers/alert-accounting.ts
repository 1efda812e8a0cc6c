import type { ChildProcess } from 'node:child_process';
import type { SimulatedSlack } from '../../src/sandbox/slack.js';
import type { SimMessage } from '../../src/sandbox/slack-workspace.js';

/**
 * Counting what alert delivery put in Slack (roots, replies, digests list the alert ids they show in
 * their metadata), for the exactly-once tests: one process killed and restarted, or several replicas.
 */

/** The Datadog event ids a message shows (its metadata's `alert_ids`). */
export const idsOf = (m: SimMessage): string[] =>
  String(m.metadata?.event_payload.alert_ids ?? '')
    .split(',')
    .filter(Boolean);

/** The message's metadata key (`alert:…`, `digest:…`). */
export const keyOf = (m: SimMessage): string | undefined => {
  const key = m.metadata?.event_payload.key;
  return typeof key === 'string' ? key : undefined;
};

/** How many messages in `channels` list each alert id. */
export function shownCounts(slack: SimulatedSlack, channels: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const channel of channels)
    for (const m of slack.messages(channel))
      for (const id of idsOf(m)) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

/** The messages that list `id`: channel, metadata key, thread. */
export function whereShown(slack: SimulatedSlack, channels: readonly string[], id: string): string[] {
  return channels.flatMap((channel) =>
    slack
      .messages(channel)
      .filter((m) => idsOf(m).includes(id))
      .map((m) => `${channel} ${keyOf(m)} ts=${m.ts}${m.threadTs ? ` thread=${m.threadTs}` : ''}`),
  );
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** kill -9, and wait until it is gone. */
export async function stopHard(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await gone;
}

/** The `opsbot_alerts_pending` gauge of each channel, as the process at `port` reports it. */
export async function pendingByChannel(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const pending: Record<string, number> = {};
  for (const match of text.matchAll(/^opsbot_alerts_pending\{channel="([^"]+)"\} (\d+)/gm))
    pending[match[1] as string] = Number(match[2]);
  return pending;
}

/** Fails with a readable list when an alert is missing, shown twice, or unknown; and when two messages share a key. */
export function expectExactlyOnce(
  slack: SimulatedSlack,
  channels: readonly string[],
  ids: readonly string[],
): { missing: string[]; twice: string[]; unknown: string[]; sharedKeys: string[] } {
  const shown = shownCounts(slack, channels);
  const messages = channels.flatMap((c) => slack.messages(c));
  const keys = new Map<string, number>();
  for (const m of messages) keys.set(String(keyOf(m)), (keys.get(String(keyOf(m))) ?? 0) + 1);
  return {
    missing: ids.filter((id) => !shown.has(id)),
    twice: [...shown]
      .filter(([, n]) => n > 1)
      .map(([id]) => `${id} in ${whereShown(slack, channels, id).join(' and ')}`),
    unknown: [...shown.keys()].filter((id) => !ids.includes(id)),
    sharedKeys: [...keys].filter(([, n]) => n > 1).map(([k]) => k),
  };
}
