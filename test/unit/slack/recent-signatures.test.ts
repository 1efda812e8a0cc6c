import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentSignatures } from '../../../src/slack/recent-signatures.js';
import { replayCheck } from '../../../src/slack/replay-check.js';
import type { DedupeStore } from '../../../src/store/state.js';

// Slack's shape: `v0=` and 64 hex digits of HMAC (distinct in their first digits, as HMACs are).
const sig = (n: number) => `v0=${n.toString(16).padStart(13, '0')}${'a'.repeat(51)}`;

describe('RecentSignatures', () => {
  it('refuses a repeat within the window, forgets it two windows on, and says when it is full', () => {
    let now = 0;
    const recent = new RecentSignatures(() => now, 1_000, 3);
    expect(recent.check(sig(1))).toBe('new');
    expect(recent.check(sig(1))).toBe('seen');
    now = 999;
    expect(recent.check(sig(1))).toBe('seen');
    now = 2_000;
    expect(recent.check(sig(1))).toBe('new');
    expect(recent.check(sig(2))).toBe('new');
    expect(recent.check(sig(3))).toBe('new');
    // Room for three: a fourth is not remembered here (the caller asks the shared store).
    expect(recent.check(sig(4))).toBe('full');
    expect(recent.check(sig(3))).toBe('seen');
  });

  it('remembers every signature at least the window, never more than three times it (a model)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 700 })), {
          maxLength: 80,
        }),
        (steps) => {
          let now = 0;
          const recent = new RecentSignatures(() => now, 1_000);
          const recorded = new Map<number, number>();
          for (const [n, advance] of steps) {
            now += advance;
            const at = recorded.get(n);
            const answer = recent.check(sig(n));
            if (at !== undefined && now - at < 1_000) expect(answer).toBe('seen');
            else if (at === undefined || now - at >= 3_000) expect(answer).toBe('new');
            if (answer === 'new') recorded.set(n, now);
          }
        },
      ),
    );
  });
});

describe('RecentSignatures at volume', () => {
  it('answers seen exactly for the signatures it was given, across its table growing', () => {
    const hex13 = fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }).map((n) => n.toString(16).padStart(13, '0'));
    fc.assert(
      fc.property(fc.array(hex13, { minLength: 1, maxLength: 12_000 }), fc.nat(), (prefixes, pick) => {
        const recent = new RecentSignatures(() => 0, 1_000);
        const model = new Set<string>();
        for (const p of prefixes) {
          expect(recent.check(`v0=${p}${'b'.repeat(51)}`)).toBe(model.has(p) ? 'seen' : 'new');
          model.add(p);
        }
        // Repeats of any of them, and a neighbour of one that was never given.
        const again = prefixes[pick % prefixes.length] as string;
        expect(recent.check(`v0=${again}${'c'.repeat(51)}`)).toBe('seen');
        const neighbour = ((BigInt(`0x${again}`) + 1n) % (1n << 52n)).toString(16).padStart(13, '0');
        expect(recent.check(`v0=${neighbour}${'c'.repeat(51)}`)).toBe(model.has(neighbour) ? 'seen' : 'new');
      }),
      { numRuns: 30 },
    );
  });

  it('keeps sequential and colliding keys apart (keys equal in their low 32 bits)', () => {
    const recent = new RecentSignatures(() => 0, 1_000);
    const keys = Array.from({ length: 9_000 }, (_, i) => (BigInt(i) << 32n) | 7n);
    for (const k of keys)
      expect(recent.check(`v0=${k.toString(16).padStart(13, '0')}${'d'.repeat(51)}`)).toBe('new');
    for (const k of keys)
      expect(recent.check(`v0=${k.toString(16).padStart(13, '0')}${'d'.repeat(51)}`)).toBe('seen');
  });
});

describe('replayCheck', () => {
  const counting = () => {
    const keys = new Set<string>();
    const calls: string[] = [];
    const dedupe: DedupeStore = {
      putIfAbsent: async (key) => {
        calls.push(key);
        if (keys.has(key)) return false;
        keys.add(key);
        return true;
      },
    };
    return { dedupe, calls };
  };

  it('one process: memory only, no shared write per request', async () => {
    const { dedupe, calls } = counting();
    const seen = replayCheck({
      recent: new RecentSignatures(() => 0, 1_000),
      dedupe,
      shared: false,
      ttlMs: 1_000,
    });
    // Answered synchronously: no promise and no timer on the hot path.
    expect(seen(sig(7))).toBe(false);
    expect(seen(sig(7))).toBe(true);
    expect(calls).toEqual([]);
  });

  it('replicas: every new signature is also put in the shared store, where another replica finds it', async () => {
    const { dedupe, calls } = counting();
    const replicaA = replayCheck({
      recent: new RecentSignatures(() => 0, 1_000),
      dedupe,
      shared: true,
      ttlMs: 1_000,
    });
    const replicaB = replayCheck({
      recent: new RecentSignatures(() => 0, 1_000),
      dedupe,
      shared: true,
      ttlMs: 1_000,
    });
    expect(await replicaA(sig(8))).toBe(false);
    expect(await replicaB(sig(8))).toBe(true);
    expect(calls).toEqual([`slack-signature:${sig(8)}`, `slack-signature:${sig(8)}`]);
  });

  it('one process with memory full: the shared store decides', async () => {
    const { dedupe, calls } = counting();
    const seen = replayCheck({
      recent: new RecentSignatures(() => 0, 1_000, 1),
      dedupe,
      shared: false,
      ttlMs: 1_000,
    });
    expect(await seen(sig(1))).toBe(false);
    expect(await seen(sig(2))).toBe(false);
    expect(await seen(sig(2))).toBe(true);
    expect(calls).toEqual([`slack-signature:${sig(2)}`, `slack-signature:${sig(2)}`]);
  });
});
