import { DONE_RETENTION_MS } from './limits.js';
import type { OutboxItem } from './state.js';

/** Where an outbox item not done is: its topic's partition and its sort key. */
export interface Place {
  topic: string;
  sk: string;
}

/** A claim this process made: by whom, the item's revision after it, and the item as claimed. */
export interface Claim {
  owner: string;
  rev: number;
  item: OutboxItem;
  /** The item's summary attributes, carried to its done copy (see `summaryAttributes`). */
  summary?: Record<string, unknown>;
}

interface Entry extends Place {
  claim?: Claim;
  since: number;
}

/**
 * Where the outbox items this process enqueued, claimed or looked up are, so that `complete` and
 * `release` go straight to the item instead of reading its id item first. A place stays right as
 * long as its id cannot have been enqueued again: a done id is refused for DONE_RETENTION_MS after
 * it was done, so a place learned less than half that long ago is still the only one (the margin
 * covers clock skew between replicas). Writes stay conditional: a place only saves a read.
 */
export class OutboxPlaces {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  readonly #max: number;

  constructor(now: () => number, max = 10_000) {
    this.#now = now;
    this.#max = max;
  }

  remember(id: string, place: Place, claim?: Claim): void {
    this.#entries.delete(id);
    this.#entries.set(id, {
      topic: place.topic,
      sk: place.sk,
      since: this.#now(),
      ...(claim ? { claim } : {}),
    });
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  /** The place of `id` when it is still sure, with this process's latest claim on it, if any. */
  recall(id: string): (Place & { claim?: Claim }) | undefined {
    const entry = this.#entries.get(id);
    if (entry && this.#now() - entry.since < DONE_RETENTION_MS / 2) return entry;
    this.#entries.delete(id);
    return undefined;
  }

  forget(id: string): void {
    this.#entries.delete(id);
  }
}
