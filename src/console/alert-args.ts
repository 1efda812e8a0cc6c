import {
  type AlertSpec,
  DATADOG_TRANSITIONS,
  type DatadogTransition,
} from '../sandbox/datadog-webhook-sender.js';

const FIRST = new Set<DatadogTransition>(['Triggered', 'Warn', 'No Data']);

/**
 * `:alert [transition] [title]` in the console. A transition that starts a cycle (Triggered, Warn,
 * No Data, or none given) starts a new one on a new monitor; any other (Recovered, Re-Triggered…)
 * continues the last alert's cycle. Transitions are matched without case; `nodata` is `No Data`.
 */
export function parseAlertArgs(
  arg: string,
  last: AlertSpec | undefined,
): { spec: AlertSpec } | { problem: string } {
  const words = arg.trim().split(/\s+/).filter(Boolean);
  const norm = (s: string) => s.toLowerCase().replace(/[\s_-]/g, '');
  // Two-word transitions ("No Data", "Re-No Data") may be typed with a space.
  let transition: DatadogTransition | undefined;
  let used = 0;
  for (const n of [2, 1]) {
    const candidate = norm(words.slice(0, n).join(''));
    const found = DATADOG_TRANSITIONS.find((t) => norm(t) === candidate);
    if (words.length >= n && found) {
      transition = found;
      used = n;
      break;
    }
  }
  const title = words.slice(used).join(' ').slice(0, 200);
  const chosen = transition ?? 'Triggered';
  if (FIRST.has(chosen) || !last) {
    if (!FIRST.has(chosen))
      return { problem: `:alert ${chosen} continues an alert: send :alert Triggered first.` };
    return {
      spec: {
        transition: chosen,
        monitorId: 7000 + Math.floor(Math.random() * 1000),
        cycleKey: String(Date.now()),
        name: title || 'High CPU on web',
        priority: 2,
        scope: 'host:web-1',
        tags: ['env:prod', 'service:web', 'team:web'],
      },
    };
  }
  const { id: _, ...cycle } = last;
  return { spec: { ...cycle, transition: chosen, ...(title ? { name: title } : {}) } };
}
