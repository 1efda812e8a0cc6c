/**
 * Counts events per key within a sliding window: when `count` of one key's events fall within
 * `withinMs`, they are one finding (and that key's count starts again), so a burst is reported once
 * and a longer one once per `count` events. Memory is bounded: a key's events older than the window
 * are dropped as new events arrive, idle keys by {@link sweep}, and at most `maxKeys` keys are kept.
 */
export class CountWindow<E> {
  readonly #count: number;
  readonly #withinMs: number;
  readonly #maxKeys: number;
  readonly #events = new Map<string, Array<{ at: number; event: E }>>();

  constructor(options: { count: number; withinMs: number; maxKeys?: number }) {
    this.#count = options.count;
    this.#withinMs = options.withinMs;
    this.#maxKeys = options.maxKeys ?? 10_000;
  }

  /** Adds one event of `key` at `at` (epoch ms); the events that make a finding, when this one completes it. */
  add(key: string, at: number, event: E): E[] | undefined {
    let list = this.#events.get(key);
    if (!list) {
      if (this.#events.size >= this.#maxKeys) this.sweep(at);
      if (this.#events.size >= this.#maxKeys) {
        const oldest = this.#events.keys().next().value;
        if (oldest !== undefined) this.#events.delete(oldest);
      }
      list = [];
      this.#events.set(key, list);
    }
    list.push({ at, event });
    const from = at - this.#withinMs;
    let drop = 0;
    while (drop < list.length && (list[drop] as { at: number }).at <= from) drop++;
    if (drop > 0) list.splice(0, drop);
    if (list.length < this.#count) return undefined;
    this.#events.delete(key);
    return list.map((e) => e.event);
  }

  /** Forgets every key with no event in the window ending at `now`. */
  sweep(now: number): void {
    for (const [key, list] of this.#events) {
      const last = list.at(-1);
      if (!last || last.at <= now - this.#withinMs) this.#events.delete(key);
    }
  }

  get keys(): number {
    return this.#events.size;
  }
}
