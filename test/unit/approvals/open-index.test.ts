import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MAX_OPEN, type OpenEntry, OpenRequestIndex } from '../../../src/approvals/open-index.js';
import { openSqliteState } from '../../../src/store/sqlite.js';
import type { State } from '../../../src/store/state.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/**
 * The open-requests index of the approvals (issue 26) on SQLite State: what `/opsbot approvals`
 * and the expiry sweep read instead of scanning. Kept per 10-day period in message refs, changed
 * by compare-and-set, so two replicas adding at once both keep their entries.
 */
const DAY = 86_400_000;
const PERIOD = 10 * DAY;
const root = mkdtempSync(join(tmpdir(), 'opsbot-open-index-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const opened: State[] = [];
afterEach(() => {
  for (const state of opened.splice(0)) state.close();
});

/** `connections` connections to one fresh file, each with an index over its message refs. */
function indexes(clock: FakeClock, connections = 1): OpenRequestIndex[] {
  const path = join(mkdtempSync(join(root, 'db-')), 'state.db');
  return Array.from({ length: connections }, () => {
    const state = openSqliteState({ path, now: () => clock.now() });
    opened.push(state);
    return new OpenRequestIndex(state.messages, () => clock.now());
  });
}

const entry = (n: number, clock: FakeClock, requester = 'U0REQ'): OpenEntry => ({
  id: `R-${String(n).padStart(8, '0')}`,
  requester,
  expiresAt: clock.now() + 15 * 60_000 + n,
});

describe('OpenRequestIndex', () => {
  it('adds, lists oldest expiry first, and removes; removing an unknown id changes nothing', async () => {
    const clock = new FakeClock();
    const [index] = indexes(clock) as [OpenRequestIndex];
    expect(await index.list()).toEqual([]);
    const [a, b, c] = [entry(3, clock), entry(1, clock, 'U0B'), entry(2, clock)];
    for (const e of [a, b, c]) expect(await index.add(e)).toBe(true);
    expect(await index.list()).toEqual([b, c, a]);
    // Adding an id again replaces its entry rather than listing it twice.
    const moved = { ...a, expiresAt: b.expiresAt - 1 };
    expect(await index.add(moved)).toBe(true);
    expect(await index.list()).toEqual([moved, b, c]);
    await index.remove(b.id);
    expect(await index.list()).toEqual([moved, c]);
    await index.remove('R-NOTTHERE');
    expect(await index.list()).toEqual([moved, c]);
  });

  it(`refuses a new entry once ${MAX_OPEN} are open, and takes one again after a removal`, async () => {
    const clock = new FakeClock();
    const [index] = indexes(clock) as [OpenRequestIndex];
    for (let n = 0; n < MAX_OPEN; n++) expect(await index.add(entry(n, clock))).toBe(true);
    expect(await index.add(entry(MAX_OPEN, clock))).toBe(false);
    const listed = await index.list();
    expect(listed).toHaveLength(MAX_OPEN);
    expect(listed.map((e) => e.id)).not.toContain(entry(MAX_OPEN, clock).id);
    await index.remove(entry(7, clock).id);
    expect(await index.add(entry(MAX_OPEN, clock))).toBe(true);
    expect((await index.list()).map((e) => e.id)).toContain(entry(MAX_OPEN, clock).id);
  });

  it('finds an entry added just before a period boundary after it, and removes it from there', async () => {
    const clock = new FakeClock();
    // To one millisecond before the next 10-day period starts.
    clock.advance(PERIOD - (clock.now() % PERIOD) - 1);
    const [index] = indexes(clock) as [OpenRequestIndex];
    const before = entry(1, clock);
    expect(await index.add(before)).toBe(true);
    clock.advance(1);
    expect(clock.now() % PERIOD).toBe(0);
    expect(await index.list()).toEqual([before]);
    const after = entry(2, clock);
    expect(await index.add(after)).toBe(true);
    expect(await index.list()).toEqual([before, after]);
    // A week later (the longest a request lives) both periods are still read.
    clock.advance(7 * DAY);
    expect(await index.list()).toEqual([before, after]);
    await index.remove(before.id);
    expect(await index.list()).toEqual([after]);
    await index.remove(after.id);
    expect(await index.list()).toEqual([]);
  });

  it('counts entries of both periods towards the limit', async () => {
    const clock = new FakeClock();
    clock.advance(PERIOD - (clock.now() % PERIOD) - 1);
    const [index] = indexes(clock) as [OpenRequestIndex];
    for (let n = 0; n < MAX_OPEN - 1; n++) expect(await index.add(entry(n, clock))).toBe(true);
    clock.advance(1);
    expect(await index.add(entry(MAX_OPEN - 1, clock))).toBe(true);
    expect(await index.add(entry(MAX_OPEN, clock))).toBe(false);
    expect(await index.list()).toHaveLength(MAX_OPEN);
  });

  it('keeps every entry when two connections add at once', async () => {
    const clock = new FakeClock();
    const [a, b] = indexes(clock, 2) as [OpenRequestIndex, OpenRequestIndex];
    const entries = Array.from({ length: 12 }, (_, n) => entry(n, clock));
    const added = await Promise.all(entries.map((e, n) => (n % 2 ? a : b).add(e)));
    expect(added.every(Boolean)).toBe(true);
    expect(await a.list()).toEqual(entries);
    expect(await b.list()).toEqual(entries);
    // And removals at once from both leave nothing behind.
    await Promise.all(entries.map((e, n) => (n % 2 ? b : a).remove(e.id)));
    expect(await a.list()).toEqual([]);
  });

  it(`never drops an entry it said it added: two connections racing for the last of ${MAX_OPEN} places`, async () => {
    const clock = new FakeClock();
    const [a, b] = indexes(clock, 2) as [OpenRequestIndex, OpenRequestIndex];
    for (let n = 0; n < MAX_OPEN - 1; n++) expect(await a.add(entry(n, clock))).toBe(true);
    const [x, y] = [entry(MAX_OPEN, clock), entry(MAX_OPEN + 1, clock)];
    const [addedX, addedY] = await Promise.all([a.add(x), b.add(y)]);
    const listed = (await a.list()).map((e) => e.id);
    // One of them gets the last place; whatever `add` answered true for is listed, and nothing else went.
    expect([addedX, addedY].filter(Boolean)).toHaveLength(1);
    if (addedX) expect(listed).toContain(x.id);
    if (addedY) expect(listed).toContain(y.id);
    expect(listed).toHaveLength(MAX_OPEN);
    expect(listed).toContain(entry(0, clock).id);
  });
});
