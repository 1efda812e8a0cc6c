import type { OutboxTally } from './state.js';

type Group = OutboxTally['groups'][number];

/**
 * Adds up an outbox tally as a store reads it, newest items first, a page at a time: counts by
 * group and kind, and each group's title from its item with the latest `at` (of equal ones, the
 * first seen, so the newest enqueued). Both stores count through it, so they answer alike.
 */
export class TallyCounter {
  #read = 0;
  #open = 0;
  readonly #groups = new Map<string, Group>();

  /** Items read that have no summary: counted as read only. */
  skip(n = 1): void {
    this.#read += n;
  }

  /** `n` items of `group` and `kind`, `open` of them not done. */
  count(group: string, kind: string, n: number, open: number): void {
    this.#read += n;
    this.#open += open;
    const g = this.#group(group);
    g.kinds.set(kind, (g.kinds.get(kind) ?? 0) + n);
  }

  /** A title of `group` at `at`: kept when it is later than the one kept (pages come newest first). */
  title(group: string, title: string, at: number): void {
    const g = this.#group(group);
    if (g.at === Number.NEGATIVE_INFINITY || at > g.at) {
      g.title = title;
      g.at = at;
    }
  }

  /** One item: its count, and its title. */
  add(summary: { group: string; kind: string; title: string; at: number }, done: boolean): void {
    this.count(summary.group, summary.kind, 1, done ? 0 : 1);
    this.title(summary.group, summary.title, summary.at);
  }

  get read(): number {
    return this.#read;
  }

  result(): OutboxTally {
    return { read: this.#read, open: this.#open, groups: [...this.#groups.values()] };
  }

  #group(group: string): Group {
    let g = this.#groups.get(group);
    if (!g) {
      g = { group, title: '', at: Number.NEGATIVE_INFINITY, kinds: new Map() };
      this.#groups.set(group, g);
    }
    return g;
  }
}

/** Lets the event loop turn (timers, I/O, other requests) between two pages of a long read. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
