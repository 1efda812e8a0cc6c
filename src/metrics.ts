import { type Counter, collectDefaultMetrics, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A metrics registry of opsbot's own (never the global one), exposed on `GET /metrics`. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'opsbot_' });
  return registry;
}

/**
 * A counter's labelled children, each looked up once: for counters incremented on the hot path,
 * where hashing the label object on every `inc` shows in a profile.
 *
 * @example
 * const outcomes = labelledChildren(requests);
 * outcomes({ outcome: 'accepted' }).inc();
 */
export function labelledChildren<T extends string>(
  counter: Counter<T>,
): (labels: Partial<Record<T, string>>) => { inc(): void } {
  const children = new Map<string, { inc(): void }>();
  return (labels) => {
    const key = Object.values(labels).join('\u0000');
    let child = children.get(key);
    if (!child) {
      child = counter.labels(labels);
      children.set(key, child);
    }
    return child;
  };
}
