import { describe, expect, it } from 'vitest';
import { UsergroupLookupError, UsergroupMembership } from '../../../src/access/usergroups.js';

function rig(options: { fail?: () => boolean; maxGroups?: number } = {}) {
  let now = 0;
  const fetched: string[] = [];
  const membership = new UsergroupMembership({
    clock: { now: () => now },
    ...(options.maxGroups ? { maxGroups: options.maxGroups } : {}),
    fetchMembers: async (group) => {
      fetched.push(group);
      await new Promise((r) => setTimeout(r, 5));
      if (options.fail?.()) throw new Error('ratelimited');
      return group === 'SPLAT' ? ['U1', 'U2'] : [];
    },
  });
  return { membership, fetched, advance: (ms: number) => (now += ms) };
}

describe('UsergroupMembership', () => {
  it('fetches a group once per 5 minutes and shares one fetch between concurrent callers', async () => {
    const { membership, fetched, advance } = rig();
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => membership.isMember('SPLAT', i % 2 ? 'U1' : 'U9')),
    );
    expect(answers.filter(Boolean)).toHaveLength(5);
    expect(fetched).toEqual(['SPLAT']);
    advance(299_999);
    expect(await membership.isMember('SPLAT', 'U2')).toBe(true);
    expect(fetched).toHaveLength(1);
    advance(1);
    await membership.isMember('SPLAT', 'U2');
    expect(fetched).toHaveLength(2);
    expect(membership.stats()).toMatchObject({ fetches: 2, groups: 1 });
  });

  it('uses a list up to an hour old while Slack fails, then says it cannot check', async () => {
    let failing = false;
    const { membership, advance } = rig({ fail: () => failing });
    expect(await membership.isMember('SPLAT', 'U1')).toBe(true);
    failing = true;
    advance(30 * 60_000);
    expect(await membership.isMember('SPLAT', 'U1')).toBe(true);
    advance(31 * 60_000);
    const error = await membership.isMember('SPLAT', 'U1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsergroupLookupError);
    expect((error as Error).message).toContain("couldn't check your Slack user groups");
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('keeps at most maxGroups lists, dropping the least recently used', async () => {
    const { membership, fetched } = rig({ maxGroups: 2 });
    await membership.isMember('SA', 'U1');
    await membership.isMember('SB', 'U1');
    await membership.isMember('SA', 'U1');
    await membership.isMember('SC', 'U1');
    expect(membership.stats().groups).toBe(2);
    await membership.isMember('SA', 'U1'); // still cached
    await membership.isMember('SB', 'U1'); // was evicted
    expect(fetched).toEqual(['SA', 'SB', 'SC', 'SB']);
  });
});
