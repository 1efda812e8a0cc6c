/**
 * Signatures this process verified recently, in memory: a replay to the same replica is refused at
 * once, without waiting on the shared store. Bounded (oldest forgotten first) and time-limited.
 */
export class RecentSignatures {
  readonly #seen = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly ttlMs: number,
    private readonly max = 50_000,
  ) {}

  /** True when `signature` was recorded within the last `ttlMs`; records it otherwise. */
  seenBefore(signature: string): boolean {
    const now = this.now();
    const at = this.#seen.get(signature);
    if (at !== undefined && now - at < this.ttlMs) return true;
    this.#seen.delete(signature);
    this.#seen.set(signature, now);
    // Insertion order is time order: drop expired entries from the front, and the oldest past the cap.
    for (const [key, when] of this.#seen) {
      if (this.#seen.size <= this.max && now - when < this.ttlMs) break;
      this.#seen.delete(key);
    }
    return false;
  }
}
