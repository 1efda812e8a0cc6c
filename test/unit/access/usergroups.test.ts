import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccessPolicy } from '../../../src/access/policy.js';
import { UsergroupLookupError, UsergroupMembership } from '../../../src/access/usergroups.js';
import { ErrorCode, UserFacingError } from '../../../src/errors.js';

const MEMBERS: Record<string, string[]> = { S0PLAT: ['U0ANA', 'U0BOB'], S0SRE: ['U0CAT'] };

/** A membership cache over a scripted fetch: answers at once, or waits for `release()` when held. */
function rig(options: { maxGroups?: number; ttlMs?: number; staleMs?: number } = {}) {
  let now = 1_000_000;
  let failure: Error | undefined;
  let held: (() => void)[] | undefined;
  const fetched: string[] = [];
  const membership = new UsergroupMembership({
    clock: { now: () => now },
    ...options,
    fetchMembers: async (group) => {
      fetched.push(group);
      if (held) await new Promise<void>((resolve) => held?.push(resolve));
      if (failure) throw failure;
      return MEMBERS[group] ?? [];
    },
  });
  return {
    membership,
    fetched,
    advance: (ms: number) => {
      now += ms;
    },
    fail: (error: Error | undefined) => {
      failure = error;
    },
    hold: () => {
      held = [];
    },
    release: () => {
      for (const resolve of held ?? []) resolve();
      held = undefined;
    },
  };
}

describe('UsergroupMembership', () => {
  it('answers from the member list', async () => {
    const { membership } = rig();
    expect(await membership.isMember('S0PLAT', 'U0ANA')).toBe(true);
    expect(await membership.isMember('S0PLAT', 'U0CAT')).toBe(false);
    expect(await membership.isMember('S0NONE', 'U0ANA')).toBe(false);
  });

  it('fetches a group at most once per TTL (5 minutes by default)', async () => {
    const { membership, fetched, advance } = rig();
    expect(await membership.isMember('S0PLAT', 'U0ANA')).toBe(true);
    advance(299_999);
    expect(await membership.isMember('S0PLAT', 'U0BOB')).toBe(true);
    expect(fetched).toEqual(['S0PLAT']);
    advance(1);
    expect(await membership.isMember('S0PLAT', 'U0BOB')).toBe(true);
    expect(fetched).toEqual(['S0PLAT', 'S0PLAT']);
    expect(membership.stats()).toEqual({ fetches: 2, hits: 1, groups: 1 });
  });

  it('honours a configured TTL', async () => {
    const { membership, fetched, advance } = rig({ ttlMs: 1_000 });
    await membership.isMember('S0PLAT', 'U0ANA');
    advance(999);
    await membership.isMember('S0PLAT', 'U0ANA');
    advance(1);
    await membership.isMember('S0PLAT', 'U0ANA');
    expect(fetched).toHaveLength(2);
  });

  it('shares one fetch between concurrent callers', async () => {
    const { membership, fetched, hold, release } = rig();
    hold();
    const pending = Array.from({ length: 10 }, (_, i) =>
      membership.isMember('S0PLAT', i % 2 ? 'U0ANA' : 'U0CAT'),
    );
    await Promise.resolve();
    release();
    const answers = await Promise.all(pending);
    expect(answers.filter(Boolean)).toHaveLength(5);
    expect(fetched).toEqual(['S0PLAT']);
    expect(membership.stats()).toEqual({ fetches: 1, hits: 9, groups: 1 });
  });

  it('shares a failure too, and does not cache it: the next call fetches again', async () => {
    const { membership, fetched, hold, release, fail } = rig();
    hold();
    fail(new Error('ratelimited'));
    const pending = Array.from({ length: 3 }, () =>
      membership.isMember('S0PLAT', 'U0ANA').catch((e: unknown) => e),
    );
    await Promise.resolve();
    release();
    for (const outcome of await Promise.all(pending)) expect(outcome).toBeInstanceOf(UsergroupLookupError);
    expect(fetched).toHaveLength(1);
    fail(undefined);
    expect(await membership.isMember('S0PLAT', 'U0ANA')).toBe(true);
    expect(fetched).toHaveLength(2);
  });

  it('uses a list younger than an hour while fetching fails, then says it cannot check', async () => {
    const { membership, advance, fail } = rig();
    expect(await membership.isMember('S0PLAT', 'U0ANA')).toBe(true);
    fail(new Error('ratelimited'));
    advance(30 * 60_000);
    expect(await membership.isMember('S0PLAT', 'U0ANA')).toBe(true);
    expect(await membership.isMember('S0PLAT', 'U0CAT')).toBe(false);
    advance(30 * 60_000 - 1);
    expect(await membership.isMember('S0PLAT', 'U0ANA')).toBe(true); // 1 ms short of an hour
    advance(1);
    const error = await membership.isMember('S0PLAT', 'U0ANA').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsergroupLookupError);
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error).toMatchObject({
      message: "I couldn't check your Slack user groups just now. Try again in a minute.",
      code: ErrorCode.UpstreamUnavailable,
      name: 'UsergroupLookupError',
    });
    expect((error as Error).cause).toEqual(new Error('ratelimited'));
  });

  it('honours a configured stale bound, and fails at once with no list at all', async () => {
    const { membership, advance, fail } = rig({ ttlMs: 1_000, staleMs: 5_000 });
    await membership.isMember('S0PLAT', 'U0ANA');
    fail(new Error('down'));
    advance(4_999);
    expect(await membership.isMember('S0PLAT', 'U0ANA')).toBe(true);
    advance(1);
    await expect(membership.isMember('S0PLAT', 'U0ANA')).rejects.toBeInstanceOf(UsergroupLookupError);
    await expect(membership.isMember('S0SRE', 'U0CAT')).rejects.toBeInstanceOf(UsergroupLookupError);
  });

  it('turns a fetch that throws synchronously into a lookup error', async () => {
    const membership = new UsergroupMembership({
      clock: { now: () => 0 },
      fetchMembers: () => {
        throw new TypeError('not wired');
      },
    });
    await expect(membership.isMember('S0PLAT', 'U0ANA')).rejects.toBeInstanceOf(UsergroupLookupError);
  });

  it('keeps at most maxGroups lists, dropping the least recently used', async () => {
    const { membership, fetched } = rig({ maxGroups: 2 });
    await membership.isMember('S0A', 'U0ANA');
    await membership.isMember('S0B', 'U0ANA');
    await membership.isMember('S0A', 'U0ANA'); // S0A is now the most recently used
    await membership.isMember('S0C', 'U0ANA'); // evicts S0B
    expect(membership.stats().groups).toBe(2);
    await membership.isMember('S0A', 'U0ANA'); // still cached
    await membership.isMember('S0B', 'U0ANA'); // fetched again, evicts S0C
    expect(fetched).toEqual(['S0A', 'S0B', 'S0C', 'S0B']);
  });

  it('never holds more than maxGroups lists, whatever the access pattern', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.constantFrom('S0A', 'S0B', 'S0C', 'S0D', 'S0E', 'S0F'), { maxLength: 30 }),
        async (maxGroups, groups) => {
          const { membership, fetched } = rig({ maxGroups });
          const recent: string[] = []; // a reference LRU
          for (const group of groups) {
            const cachedBefore = recent.includes(group);
            const before = fetched.length;
            await membership.isMember(group, 'U0ANA');
            expect(fetched.length - before).toBe(cachedBefore ? 0 : 1);
            if (cachedBefore) recent.splice(recent.indexOf(group), 1);
            recent.push(group);
            if (recent.length > maxGroups) recent.shift();
            expect(membership.stats().groups).toBe(recent.length);
          }
        },
      ),
    );
  });

  it('refuses a cache bound below one', () => {
    expect(
      () => new UsergroupMembership({ clock: { now: () => 0 }, fetchMembers: async () => [], maxGroups: 0 }),
    ).toThrow(RangeError);
  });

  it('plugs into the policy as a MembershipCheck, whose errors the policy rethrows on a denial', async () => {
    const { membership, fail, advance } = rig();
    const policy = new AccessPolicy({
      admins: [],
      rules: [{ actions: ['devenv:up'], usergroups: ['S0PLAT'] }],
    });
    const { isMember } = membership; // bound: usable detached
    const request = { user: 'U0ANA', channel: 'C0DEV', action: 'devenv:up' };
    expect((await policy.evaluate(request, isMember)).allowed).toBe(true);
    fail(new Error('down'));
    advance(3_600_000);
    await expect(policy.evaluate(request, isMember)).rejects.toBeInstanceOf(UsergroupLookupError);
  });
});
