import {
  type AlertSpec,
  DATADOG_TRANSITIONS,
  type DatadogTransition,
} from '../sandbox/datadog-webhook-sender.js';

/** Transitions that may start a cycle. */
const FIRST = new Set<DatadogTransition>(['Triggered', 'Warn', 'No Data']);

/**
 * `:alert [transition] [title]` in the console. `:alert`, `:alert <title>` and `:alert Triggered …`
 * start a new cycle (the caller names a monitor the simulated Datadog has: `fresh`); so do `Warn`
 * and `No Data` with a title, or with no alert before. Any other transition (Recovered,
 * Re-Triggered…), and a bare `Warn` or `No Data`, continues the last alert's cycle. Transitions are
 * matched without case; `nodata` is `No Data`.
 */
export function parseAlertArgs(
  arg: string,
  last: AlertSpec | undefined,
): { spec: AlertSpec; fresh: boolean } | { problem: string } {
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
  const continues = last !== undefined && chosen !== 'Triggered' && (!FIRST.has(chosen) || title === '');
  if (!continues) {
    if (!FIRST.has(chosen))
      return { problem: `:alert ${chosen} continues an alert: send :alert Triggered first.` };
    return {
      fresh: true,
      spec: {
        transition: chosen,
        cycleKey: String(Date.now()),
        name: title || 'High CPU on web',
        priority: 2,
        scope: 'host:web-1',
        tags: ['env:prod', 'service:web', 'team:web'],
      },
    };
  }
  const { id: _, ...cycle } = last;
  return { fresh: false, spec: { ...cycle, transition: chosen, ...(title ? { name: title } : {}) } };
}
