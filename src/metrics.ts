import { type Counter, collectDefaultMetrics, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A metrics registry of opsbot's own (never the global one), exposed on `GET /metrics`. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'opsbot_' });
  return registry;
}

/**
 * A counter's labelled children for the hot path: `inc()` adds to a plain number, and the counts are
 * handed to the counter when it is read (a scrape, `registry.metrics()`, `counter.get()`), because
 * prom-client hashes and validates the labels on every increment, which shows in a profile of
 * every request.
 *
 * @example
 * const outcomes = labelledChildren(requests);
 * outcomes({ outcome: 'accepted' }).inc();
 */
export function labelledChildren<T extends string>(
  counter: Counter<T>,
): (labels: Partial<Record<T, string>>) => { inc(): void } {
  const children = new Map<string, { labels: Partial<Record<T, string>>; pending: number; inc(): void }>();
  const own = counter as unknown as { collect?: (this: unknown) => unknown };
  const before = own.collect;
  own.collect = function collect(this: unknown) {
    for (const child of children.values()) {
      if (child.pending === 0) continue;
      const n = child.pending;
      child.pending = 0;
      counter.inc(child.labels, n);
    }
    return before?.call(this);
  };
  return (labels) => {
    let key = '';
    for (const name in labels) key += `${labels[name]}\u0000`;
    let child = children.get(key);
    if (!child) {
      const created = {
        labels: { ...labels },
        pending: 0,
        inc() {
          created.pending += 1;
        },
      };
      child = created;
      children.set(key, child);
    }
    return child;
  };
}
