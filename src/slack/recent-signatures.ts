/**
 * Signatures this process verified recently, in memory: a replay to the same process is refused at
 * once. Each signature is kept as 52 bits of its HMAC (a chance collision is 1 in 2^52 per pair) in
 * two generations of at least `ttlMs` each, so a signature is remembered at least `ttlMs` (at
 * most three times that: harmless, a replay carries its first timestamp, which Slack's 5-minute
 * window refuses by then) at 16 to 32 bytes each, in typed arrays (nothing per key for the garbage
 * collector). Bounded:
 * past `max` signatures in memory it answers `full` for new ones, and the caller asks the shared
 * store instead.
 */
export class RecentSignatures {
  #current = new KeySet();
  #previous = new KeySet();
  #since: number;

  constructor(
    private readonly now: () => number,
    private readonly ttlMs: number,
    private readonly max = 1_000_000,
  ) {
    this.#since = now();
  }

  /**
   * `seen` when `signature` was recorded within the last `ttlMs` (or a little longer); otherwise
   * records it and answers `new`, or `full` when there is no room to remember it.
   */
  check(signature: string): 'seen' | 'new' | 'full' {
    this.#rotate();
    const key = keyOf(signature);
    if (this.#current.has(key) || this.#previous.has(key)) return 'seen';
    if (this.#current.size + this.#previous.size >= this.max) return 'full';
    this.#current.add(key);
    return 'new';
  }

  #rotate(): void {
    const now = this.now();
    if (now - this.#since < this.ttlMs) return;
    // Everything in `previous` is now older than ttl; `current` becomes previous (or goes too).
    this.#previous = now - this.#since < 2 * this.ttlMs ? this.#current : new KeySet();
    this.#current = new KeySet();
    this.#since = now;
  }
}

/** 52 bits of the signature's hex digest (`v0=<64 hex>`), or of any other text, as a number. */
function keyOf(signature: string): number {
  const hex = /^v0=([0-9a-f]{13})/.exec(signature)?.[1];
  if (hex) return Number.parseInt(hex, 16);
  // Not Slack's shape (only in tests): a stable 52-bit FNV-1a-style hash of the text.
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < signature.length; i++) {
    h ^= BigInt(signature.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xfffffffffffffn;
  }
  return Number(h);
}

/** Slots a {@link KeySet} starts with; it doubles whenever it is half full. */
const INITIAL_SLOTS = 4_096;

/**
 * A set of 52-bit keys in one Float64Array (open addressing, linear probing): no object per key for
 * the garbage collector to copy and mark, however many a busy process remembers. A key is stored
 * plus one, so an empty slot (0) is never a key; the keys are HMAC bits, so their low bits spread.
 */
class KeySet {
  #slots = new Float64Array(INITIAL_SLOTS);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  has(key: number): boolean {
    const slots = this.#slots;
    const mask = slots.length - 1;
    const stored = key + 1;
    for (let i = stored & mask; ; i = (i + 1) & mask) {
      const slot = slots[i] as number;
      if (slot === stored) return true;
      if (slot === 0) return false;
    }
  }

  add(key: number): void {
    if (2 * (this.#size + 1) > this.#slots.length) this.#grow();
    if (KeySet.#put(this.#slots, key + 1)) this.#size++;
  }

  #grow(): void {
    const old = this.#slots;
    const slots = new Float64Array(old.length * 2);
    for (const stored of old) if (stored !== 0) KeySet.#put(slots, stored);
    this.#slots = slots;
  }

  /** Puts a stored key (key + 1); false when it was there already. */
  static #put(slots: Float64Array, stored: number): boolean {
    const mask = slots.length - 1;
    for (let i = stored & mask; ; i = (i + 1) & mask) {
      const slot = slots[i] as number;
      if (slot === stored) return false;
      if (slot === 0) {
        slots[i] = stored;
        return true;
      }
    }
  }
}
