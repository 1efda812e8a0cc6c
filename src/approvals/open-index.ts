import type { MessageRefStore } from '../store/state.js';

/** One open request in the index: enough to list it and to know when it expires. */
export interface OpenEntry {
  id: string;
  requester: string;
  expiresAt: number;
}

/** At most this many requests are open at once (a new one beyond it is refused). */
export const MAX_OPEN = 200;
/** The index is kept per period so that no key outlives the store's 30-day TTL while in use. */
const PERIOD_MS = 10 * 86_400_000;
const INDEX_TTL_MS = 30 * 86_400_000;
/** Periods read: a request lives at most 7 days, so it is in the current key or the one before. */
const PERIODS_READ = 2;
/**
 * A refused compare-and-set means another writer's change went in, so a writer loses at most as
 * often as others write the key at once (every add, close and sweep of every replica): the bound
 * only stops a loop that would never end.
 */
const ATTEMPTS = 64;

type Refs = Pick<MessageRefStore, 'get' | 'putIfAbsent' | 'compareAndSet'>;

/**
 * The ids of the open requests, so that `/opsbot approvals` and the expiry sweep find them without
 * scanning: a few small message refs (`approvals:open:<period>`), changed by compare-and-set. An
 * entry whose request is closed is removed by whoever closed it (or, if that failed, by the sweep).
 */
export class OpenRequestIndex {
  readonly #refs: Refs;
  readonly #now: () => number;

  constructor(refs: Refs, now: () => number) {
    this.#refs = refs;
    this.#now = now;
  }

  /** Every open entry (oldest first). */
  async list(): Promise<OpenEntry[]> {
    const period = Math.floor(this.#now() / PERIOD_MS);
    const lists = await Promise.all(
      Array.from({ length: PERIODS_READ }, (_, i) => this.#read(keyOf(period - i))),
    );
    return lists.flatMap((l) => l.entries).sort((a, b) => a.expiresAt - b.expiresAt);
  }

  /**
   * Adds an entry to the current period's key; false when {@link MAX_OPEN} are open already. The
   * count is checked in the same compare-and-set as the write, so racing adds never pass it
   * together (the earlier periods' keys only lose entries meanwhile).
   */
  async add(entry: OpenEntry): Promise<boolean> {
    const period = Math.floor(this.#now() / PERIOD_MS);
    let earlier = 0;
    for (let i = 1; i < PERIODS_READ; i++)
      earlier += (await this.#read(keyOf(period - i))).entries.filter((e) => e.id !== entry.id).length;
    return this.#change(keyOf(period), (entries) => {
      const others = entries.filter((e) => e.id !== entry.id);
      return earlier + others.length >= MAX_OPEN ? undefined : [...others, entry];
    });
  }

  /** Removes an entry from whichever key holds it. */
  async remove(id: string): Promise<void> {
    const period = Math.floor(this.#now() / PERIOD_MS);
    for (let i = 0; i < PERIODS_READ; i++) {
      const key = keyOf(period - i);
      const { entries } = await this.#read(key);
      if (entries.some((e) => e.id === id)) await this.#change(key, (all) => all.filter((e) => e.id !== id));
    }
  }

  async #read(key: string): Promise<{ entries: OpenEntry[]; version?: number }> {
    const ref = await this.#refs.get(key);
    if (!ref) return { entries: [] };
    return { entries: parseEntries(ref.data), version: ref.version };
  }

  /** Applies `edit` by compare-and-set; false when `edit` refuses (returns undefined). */
  async #change(key: string, edit: (entries: OpenEntry[]) => OpenEntry[] | undefined): Promise<boolean> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { entries, version } = await this.#read(key);
      const next = edit(entries);
      if (!next) return false;
      const data = JSON.stringify(next.slice(-MAX_OPEN));
      if (version === undefined) {
        const put = await this.#refs.putIfAbsent(key, { channel: '-', ts: '-', data }, INDEX_TTL_MS);
        if (put.created) return true;
        continue;
      }
      if (await this.#refs.compareAndSet(key, version, { channel: '-', ts: '-', data })) return true;
    }
    throw new Error('the open-requests index kept changing under this replica');
  }
}

const keyOf = (period: number) => `approvals:open:${period}`;

function parseEntries(data: string | undefined): OpenEntry[] {
  if (!data) return [];
  try {
    const parsed = JSON.parse(data) as unknown;
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (e): e is OpenEntry =>
        typeof e?.id === 'string' && typeof e.requester === 'string' && typeof e.expiresAt === 'number',
    );
  } catch {
    return [];
  }
}
