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
