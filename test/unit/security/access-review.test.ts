import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AccessPolicy, type Rule } from '../../../src/access/policy.js';
import type { AuditRecord } from '../../../src/audit/records.js';
import { fileSchemaOf } from '../../../src/config/file-schema.js';
import { CONFIG_SECTIONS } from '../../../src/features.js';
import { pruneFile } from '../../../src/security/access-review/prune.js';
import { readWindow } from '../../../src/security/access-review/read-window.js';
import { accessReview } from '../../../src/security/access-review/review.js';
import { unifiedDiff } from '../../../src/security/access-review/unified-diff.js';
import { removalCount, UsageTally, unusedGrants } from '../../../src/security/access-review/usage.js';

let seq = 0;
/** A command record as the audit middleware writes it. */
function rec(
  actor: string,
  action: string,
  channel: string,
  outcome: AuditRecord['outcome'] = 'success',
): AuditRecord {
  seq += 1;
  return {
    seq,
    at: new Date(Date.UTC(2026, 0, 1) + seq * 1_000).toISOString(),
    actor,
    action,
    outcome,
    details: { kind: 'command', channel, args: '' },
    prevHash: '0'.repeat(64),
    hash: 'f'.repeat(64),
  };
}

const FILE = `# opsbot's policy
access:
  admins: [U0ADMIN]
  rules:
    # GitHub for the developers
    - actions: ["gh:*"]
      users: [U0DEV, U0OLD]
      channels: [C0DEV]
    - actions: ["devenv:*"]
      usergroups: [S0PLATFORM, S0IDLE]
    - actions: ["jira:create"]
      users: [U0PM]
    - actions: ["dd:*"]
      channels: [C0OPS]
security:
  channel: C0SECURITY
`;
const rulesOf = (text: string) =>
  fileSchemaOf(CONFIG_SECTIONS).parse(parse(text) as unknown).access.rules as Rule[];

describe('the usage tally', () => {
  it('counts each allowed action against the grant the policy would use, and proposes the unused ones', () => {
    const rules = rulesOf(FILE);
    const members = new Map([
      ['S0PLATFORM', new Set(['U0DEV', 'U0OPS'])],
      ['S0IDLE', new Set(['U0PM'])],
    ]);
    const tally = new UsageTally({ rules, admins: ['U0ADMIN'], members });
    for (const r of [
      rec('U0DEV', 'gh:pr list', 'C0DEV'),
      rec('U0DEV', 'gh:runs', 'C0DEV', 'error'),
      rec('U0OLD', 'gh:pr list', 'C0DEV', 'denied'), // a denial uses nothing
      rec('U0OPS', 'devenv:up', 'C0DEV', 'intent'),
      rec('U0ADMIN', 'jira:create', 'C0DEV'), // admins need no grant
      rec('U0PM', 'jira:help', 'C0DEV'), // help needs no grant
      rec('opsbot', 'secret.version_changed', ''),
    ])
      tally.add(r);
    expect([...(tally.rules[0]?.users.get('U0DEV') ?? [])]).toEqual(['gh:pr list', 'gh:runs']);
    expect(tally.rules[0]?.users.get('U0OLD')?.size).toBe(0);
    expect([...(tally.rules[1]?.usergroups.get('S0PLATFORM')?.get('U0OPS') ?? [])]).toEqual(['devenv:up']);
    expect(tally.counted).toBe(3);
    const removals = unusedGrants(tally);
    expect(removals.rules).toEqual([2, 3]);
    expect(removals.users.get(0)).toEqual(['U0OLD']);
    expect(removals.usergroups.get(1)).toEqual(['S0IDLE']);
    expect(removalCount(removals)).toBe(4);
  });

  it('flags an allowed use that only a user group explains, by someone no longer in it', () => {
    const rules = rulesOf(FILE);
    const tally = new UsageTally({
      rules,
      admins: [],
      members: new Map([
        ['S0PLATFORM', new Set<string>()],
        ['S0IDLE', new Set<string>()],
      ]),
    });
    tally.add(rec('U0GONE', 'devenv:down', 'C0DEV'));
    expect(tally.unexplained).toEqual([
      expect.objectContaining({ user: 'U0GONE', action: 'devenv:down', viaGroups: ['S0PLATFORM', 'S0IDLE'] }),
    ]);
  });

  it('keeps the grants of a user group whose members could not be listed', () => {
    const rules = rulesOf(FILE);
    const tally = new UsageTally({ rules, admins: [], members: new Map() });
    const removals = unusedGrants(tally);
    expect(removals.rules).not.toContain(1);
    expect(removals.usergroups.get(1)).toBeUndefined();
  });
});

describe('the proposed policy file', () => {
  it('removes exactly the unused grants, keeps comments and order, and loads', () => {
    const rules = rulesOf(FILE);
    const tally = new UsageTally({
      rules,
      admins: ['U0ADMIN'],
      members: new Map([
        ['S0PLATFORM', new Set(['U0OPS'])],
        ['S0IDLE', new Set<string>()],
      ]),
    });
    tally.add(rec('U0DEV', 'gh:pr list', 'C0DEV'));
    tally.add(rec('U0OPS', 'devenv:up', 'C0DEV'));
    const pruned = pruneFile(FILE, rules, unusedGrants(tally));
    expect(pruned.ok).toBe(true);
    if (!pruned.ok) return;
    expect(pruned.text).toContain("# opsbot's policy");
    expect(pruned.text).toContain('# GitHub for the developers');
    expect(rulesOf(pruned.text)).toEqual([
      { actions: ['gh:*'], users: ['U0DEV'], channels: ['C0DEV'] },
      { actions: ['devenv:*'], usergroups: ['S0PLATFORM'] },
    ]);
    const diff = unifiedDiff(FILE, pruned.text, 'opsbot.yaml');
    expect(diff).toMatch(/^--- a\/opsbot\.yaml\n\+\+\+ b\/opsbot\.yaml\n@@ /);
    expect(diff).toContain('-      users: [U0DEV, U0OLD]\n+      users: [U0DEV]');
    expect(diff).toContain('-    - actions: ["jira:create"]');
  });

  it('proposes nothing when the file on disk is not the policy opsbot runs with', () => {
    const rules = rulesOf(FILE);
    const edited = FILE.replace('U0PM', 'U0NEW');
    const tally = new UsageTally({ rules, admins: [], members: new Map() });
    const pruned = pruneFile(edited, rules, unusedGrants(tally));
    expect(pruned).toEqual({
      ok: false,
      problem: expect.stringContaining('differ from the ones opsbot runs with'),
    });
  });

  // Random policies and random usage: the proposal loads with the real loader; every use that ran
  // is still allowed by it; a grant stays exactly when it was used (or its group is unknown).
  it('property: the proposal loads, keeps every used grant and removes every unused one', async () => {
    const users = ['U0A', 'U0B', 'U0C', 'U0D'];
    const groups = ['S0X', 'S0Y'];
    const channels = ['C0ONE', 'C0TWO'];
    const actions = ['gh:pr list', 'gh:runs', 'devenv:up', 'dd:mute', 'jira:create'];
    const patterns = ['gh:*', 'gh:pr list', 'devenv', 'dd:*', 'jira:create', 'gh:runs'];
    const sub = <T>(xs: readonly T[]) => fc.subarray([...xs], { minLength: 1 });
    const ruleArb = fc.record(
      {
        actions: sub(patterns),
        users: fc.subarray(users),
        usergroups: fc.subarray(groups, { minLength: 1 }),
        channels: sub(channels),
      },
      { requiredKeys: ['actions'] },
    );
    const useArb = fc.record({
      user: fc.constantFrom(...users),
      action: fc.constantFrom(...actions),
      channel: fc.constantFrom(...channels),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(ruleArb, { minLength: 1, maxLength: 6 }),
        fc.array(useArb, { maxLength: 25 }),
        fc.subarray(users),
        fc.subarray(users),
        async (rawRules, uses, xMembers, yMembers) => {
          const text = `access:\n  admins: [U0ADMIN]\n  rules:\n${rawRules
            .map((r) => `    - ${JSON.stringify(r)}\n`)
            .join('')}`;
          const rules = rulesOf(text);
          const members = new Map([
            ['S0X', new Set(xMembers)],
            ['S0Y', new Set(yMembers)],
          ]);
          const isMember = async (g: string, u: string) => members.get(g)?.has(u) === true;
          const before = new AccessPolicy({ admins: ['U0ADMIN'], rules });
          // Only what the policy allowed runs and reaches the trail as a success.
          const ran: { user: string; action: string; channel: string }[] = [];
          for (const use of uses) if ((await before.evaluate(use, isMember)).allowed) ran.push(use);
          const tally = new UsageTally({ rules, admins: ['U0ADMIN'], members });
          for (const u of ran) tally.add(rec(u.user, u.action, u.channel));
          const removals = unusedGrants(tally);
          const pruned = pruneFile(text, rules, removals);
          expect(pruned.ok).toBe(true);
          if (!pruned.ok) return;
          const after = rulesOf(pruned.text); // loads with the real schema
          const policy = new AccessPolicy({ admins: ['U0ADMIN'], rules: after });
          for (const u of ran) expect((await policy.evaluate(u, isMember)).allowed).toBe(true);
          // Exactly the unused grants are gone: the expected rules, built from the tally.
          const expected = tally.rules.flatMap((usage) => {
            if (removals.rules.includes(usage.index)) return [];
            const r = { ...usage.rule };
            const keepUsers = r.users?.filter((u) => (usage.users.get(u)?.size ?? 0) > 0);
            const keepGroups = r.usergroups?.filter((g) => (usage.usergroups.get(g)?.size ?? 0) > 0);
            if (r.users && keepUsers?.length === 0 && r.users.length > 0) delete r.users;
            else if (keepUsers) r.users = keepUsers;
            if (r.usergroups && keepGroups?.length === 0) delete r.usergroups;
            else if (keepGroups) r.usergroups = keepGroups;
            return [r];
          });
          expect(after).toEqual(expected);
          // And a rule is removed only when nothing in it was used.
          for (const index of removals.rules) {
            const usage = tally.rules[index];
            const used = [...(usage?.users.values() ?? []), ...(usage?.usergroups.values() ?? [])].some(
              (x) => x.size > 0,
            );
            expect(used || (usage?.anyone?.size ?? 0) > 0).toBe(false);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('reading the window', () => {
  it('reads pages oldest first from the first record in the window, bounded', async () => {
    const all = Array.from({ length: 2_500 }, () => rec('U0DEV', 'gh:runs', 'C0DEV')).map((r, i) => ({
      ...r,
      seq: i + 1,
    }));
    const audit = {
      firstSeqSince: async () => 101,
      readAfter: async (after: number, limit: number) => all.filter((r) => r.seq > after).slice(0, limit),
    };
    const seen: number[] = [];
    const read = await readWindow(audit, '2026-01-01T00:00:00Z', (r) => seen.push(r.seq));
    expect(read).toEqual({ from: 101, to: 2_500, records: 2_400, truncated: false });
    expect(seen[0]).toBe(101);
    const bounded = await readWindow(audit, '2026-01-01T00:00:00Z', () => undefined, 1_500);
    expect(bounded).toEqual({ from: 101, to: 1_600, records: 1_500, truncated: true });
  });
});

describe('people who left', () => {
  it('flags a person named in the policy whom Slack reports deleted, and one who left a group', async () => {
    const rules = rulesOf(FILE);
    const records = [rec('U0GONE', 'devenv:up', 'C0DEV')];
    const review = await accessReview(
      {
        audit: {
          firstSeqSince: async () => records[0]?.seq,
          readAfter: async (after, limit) => records.filter((r) => r.seq > after).slice(0, limit),
        },
        access: { admins: ['U0ADMIN'], rules },
        slack: {
          usergroupMembers: async (g) => (g === 'S0PLATFORM' ? ['U0OPS'] : []),
          userInfo: async (id) => ({ id, deleted: id === 'U0OLD' }),
        },
        clock: { now: () => Date.UTC(2026, 0, 2) },
        configFile: { name: 'opsbot.yaml', read: () => FILE },
        credentials: { datadogScopes: ['monitors_read', 'monitors_downtime'], devenvConfigured: true },
      },
      30,
    );
    expect(review.flags).toEqual([
      { user: 'U0OLD', kind: 'deleted' },
      expect.objectContaining({ user: 'U0GONE', kind: 'left-group', groups: ['S0PLATFORM', 'S0IDLE'] }),
    ]);
    const dd = review.integrations.find((i) => i.integration === 'datadog');
    expect(dd?.unused).toEqual(['monitors_read', 'monitors_downtime']);
    const devenv = review.integrations.find((i) => i.integration === 'devenv');
    // U0GONE's devenv:up ran: everything the role has was needed.
    expect(devenv?.needed).toContain('ec2:RunInstances');
    expect(devenv?.unused).toEqual([]);
  });
});
