import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { adoptUnkeyed } from '../../src/audit/adopt.js';
import {
  type ChainKey,
  type ChainKeys,
  GENESIS_HASH,
  KEY_ROTATED,
  UNKEYED_ADOPTED,
} from '../../src/audit/chain.js';
import { AuditKeyMissingError } from '../../src/audit/errors.js';
import type { AuditEvent } from '../../src/audit/records.js';
import type { AuditStore } from '../../src/store/state.js';

/**
 * The audit trail's part of the State contract: what every AuditStore must do, seen only through
 * its interface (README.md, "Audit trail"). `withAudit` opens a fresh, empty store whose clock is
 * `now`; `advance` moves that clock.
 */
export type WithAudit = <T>(
  fn: (audit: AuditStore, clock: { now(): number; advance(ms: number): void }) => Promise<T>,
) => Promise<T>;

const event = (actor: string, action: string, outcome: AuditEvent['outcome'] = 'success'): AuditEvent => ({
  action,
  outcome,
  actor,
  details: { kind: 'command', args: `repo=acme/web` },
});

const key = (version: string): ChainKey => ({ version, key: new Uint8Array(randomBytes(32)) });
/** Keys whose current one a test can switch, as the `audit` secret's rotation does. */
function switchableKeys(first: ChainKey) {
  const known = new Map([[first.version, first.key]]);
  let current: ChainKey | undefined = first;
  const keys: ChainKeys = { current: () => current, get: (v) => known.get(v) };
  return {
    keys,
    use(next: ChainKey) {
      known.set(next.version, next.key);
      current = next;
    },
    forget(version: string) {
      known.delete(version);
    },
    /** As after a restart without the `audit` secret: no current key. */
    drop() {
      current = undefined;
    },
  };
}

export function auditCases(withAudit: WithAudit): void {
  it('numbers appends from 1 without gaps, links each to the one before, and stamps the time', () =>
    withAudit(async (audit, clock) => {
      expect(audit.head()).toBeUndefined();
      const first = await audit.append(event('U0ALICE', 'gh:pr list'));
      clock.advance(1_000);
      const second = await audit.append({
        ...event('U0BOB', 'gh:issue create'),
        at: '2026-01-01T00:00:00.000Z',
      });
      expect(first).toMatchObject({
        seq: 1,
        prevHash: GENESIS_HASH,
        at: new Date(clock.now() - 1_000).toISOString(),
      });
      expect(second).toMatchObject({ seq: 2, prevHash: first.hash, at: '2026-01-01T00:00:00.000Z' });
      expect(audit.head()).toMatchObject({ seq: 2, hash: second.hash });
      expect(await audit.verify()).toMatchObject({
        ok: true,
        checked: 2,
        head: { seq: 2, hash: second.hash },
      });
      expect(await audit.writable()).toBe(true);
    }));

  it('reads the records after a seq oldest first, bounded, and finds the first record at or after a time', () =>
    withAudit(async (audit, clock) => {
      expect(await audit.readAfter(0, 10)).toEqual([]);
      expect(await audit.firstSeqSince(new Date(clock.now()).toISOString())).toBeUndefined();
      const times: string[] = [];
      for (let i = 0; i < 25; i++) {
        times.push((await audit.append(event(`U0USER${i % 3}`, 'gh:pr list'))).at);
        clock.advance(60_000);
      }
      const firstTen = await audit.readAfter(0, 10);
      expect(firstTen.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect((await audit.readAfter(20, 10)).map((r) => r.seq)).toEqual([21, 22, 23, 24, 25]);
      expect(await audit.readAfter(25, 10)).toEqual([]);
      // The bound: at most 1,000 whatever is asked, at least 1.
      expect((await audit.readAfter(0, 0)).map((r) => r.seq)).toEqual([1]);
      expect((await audit.readAfter(3, 1)).at(0)?.hash).toBe(firstTen[3]?.hash);
      expect(await audit.firstSeqSince(times[0] as string)).toBe(1);
      expect(await audit.firstSeqSince(times[17] as string)).toBe(18);
      // Between two records: the later one.
      const between = new Date(Date.parse(times[9] as string) + 30_000).toISOString();
      expect(await audit.firstSeqSince(between)).toBe(11);
      expect(await audit.firstSeqSince(new Date(clock.now()).toISOString())).toBeUndefined();
    }));

  it('gives 200 concurrent appends distinct numbers 1–200 and a chain that verifies', () =>
    withAudit(async (audit) => {
      const records = await Promise.all(
        Array.from({ length: 200 }, (_, i) => audit.append(event(`U0USER${i % 7}`, 'gh:pr list'))),
      );
      expect(records.map((r) => r.seq).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      expect(await audit.verify()).toMatchObject({ ok: true, checked: 200 });
    }));

  it('answers queries newest first, filtered by actor, command (a literal prefix) and time, within 1–200', () =>
    withAudit(async (audit, clock) => {
      const since = new Date(clock.now() + 2_500).toISOString();
      for (const [actor, action] of [
        ['U0ALICE', 'gh:pr list'],
        ['U0BOB', 'gh:issue create'],
        ['U0ALICE', 'ghost:x'],
        ['U0BOB', 'jira:create'],
      ] as const) {
        await audit.append(event(actor, action));
        clock.advance(1_000);
      }
      await audit.append(event('U0BOB', 'gh:issue create', 'intent'));
      expect((await audit.query({})).map((r) => r.seq)).toEqual([5, 4, 3, 2, 1]);
      expect((await audit.query({ actor: 'U0ALICE' })).map((r) => r.seq)).toEqual([3, 1]);
      expect((await audit.query({ command: 'gh' })).map((r) => r.seq)).toEqual([5, 2, 1]);
      expect((await audit.query({ command: 'gh:issue create' })).map((r) => r.outcome)).toEqual([
        'intent',
        'success',
      ]);
      expect(await audit.query({ command: 'g%' })).toEqual([]);
      expect((await audit.query({ since })).map((r) => r.seq)).toEqual([5, 4]);
      expect(await audit.query({ limit: 0 })).toHaveLength(1);
      for (let i = 0; i < 200; i++) void audit.append(event('U0ALICE', 'gh:pr list'));
      await audit.append(event('U0ALICE', 'gh:pr list'));
      expect(await audit.query({ limit: 1_000 })).toHaveLength(200);
    }));

  it('chains with the attached key, and across a rotation verifies every record it has the key for', () =>
    withAudit(async (audit) => {
      const v1 = key('v1');
      const ring = switchableKeys(v1);
      audit.attach({ keys: ring.keys });
      await audit.append(event('U0ALICE', 'gh:pr list'));
      ring.use(key('v2'));
      const after = await audit.append(event('U0ALICE', 'gh:pr list'));
      expect(after).toMatchObject({ seq: 3, keyVersion: 'v2' });
      expect((await audit.query({})).find((r) => r.action === KEY_ROTATED)).toMatchObject({
        seq: 2,
        keyVersion: 'v1',
        details: { from: 'v1', to: 'v2' },
      });
      expect(await audit.verify()).toMatchObject({ ok: true, checked: 3 });
      ring.forget('v1');
      expect(await audit.verify()).toMatchObject({
        ok: true,
        unverifiable: [{ keyVersion: 'v1', from: 1, to: 2, count: 2 }],
      });
    }));

  it('checks the anchor given: reached with the same hash (or its first 16 digits), else broken', () =>
    withAudit(async (audit) => {
      const records = [];
      for (let i = 0; i < 3; i++) records.push(await audit.append(event('U0ALICE', 'gh:pr list')));
      const third = records[2] as { hash: string };
      expect(await audit.verify({ anchor: { seq: 3, hash: third.hash } })).toMatchObject({ ok: true });
      expect(await audit.verify({ anchor: { seq: 3, hash: third.hash.slice(0, 16) } })).toMatchObject({
        ok: true,
      });
      expect(await audit.verify({ anchor: { seq: 2, hash: third.hash } })).toMatchObject({
        ok: false,
        brokenAt: 2,
      });
      expect(await audit.verify({ anchor: { seq: 9, hash: third.hash } })).toMatchObject({
        ok: false,
        brokenAt: 4,
      });
    }));

  it('reports records chained without a key as a break once keyed, until an admin adopts them with a keyed record', () =>
    withAudit(async (audit) => {
      // A trail started before the key was set. A trail someone without the key re-chained with
      // plain SHA-256 (having deleted a record) looks exactly the same: only an admin can tell them apart.
      for (let i = 0; i < 8; i++) await audit.append(event('U0ALICE', 'gh:pr list'));
      const ring = switchableKeys(key('v1'));
      audit.attach({ keys: ring.keys }); // restarted with the audit secret
      expect(await audit.append(event('U0ALICE', 'gh:pr list'))).toMatchObject({ seq: 10, keyVersion: 'v1' });
      expect((await audit.query({ limit: 2 })).at(-1)).toMatchObject({
        seq: 9,
        action: KEY_ROTATED,
        keyVersion: 'v1',
        details: { from: 'unkeyed', to: 'v1', chainedWith: 'to' },
      });
      const check = await audit.verify();
      expect(check).toMatchObject({ ok: false, brokenAt: 1, unadopted: { from: 1, to: 8, count: 8 } });
      expect(check.ok ? '' : check.why).toContain('run `/opsbot audit --adopt-unkeyed 8`');

      await expect(adoptUnkeyed(audit, 7, 'U0ADMIN')).rejects.toThrow(
        'records #1–#8 are chained without a key: name the last of them, `/opsbot audit --adopt-unkeyed 8`.',
      );
      const { record } = await adoptUnkeyed(audit, 8, 'U0ADMIN');
      expect(record).toMatchObject({
        seq: 11,
        action: UNKEYED_ADOPTED,
        actor: 'U0ADMIN',
        keyVersion: 'v1',
        details: { lastUnkeyedSeq: 8, records: 8 },
      });
      expect(await audit.verify()).toMatchObject({
        ok: true,
        checked: 11,
        adoptedAt: 11,
        unkeyed: [{ from: 1, to: 8, count: 8 }],
      });
      await expect(adoptUnkeyed(audit, 8, 'U0ADMIN')).rejects.toThrow('already adopted (record #11)');

      // Restarted without the key: nothing is chained without it after keyed records (fails closed).
      ring.drop();
      await expect(audit.append(event('U0ALICE', 'gh:pr list'))).rejects.toBeInstanceOf(AuditKeyMissingError);
      ring.use(key('v2'));
      expect(await audit.append(event('U0ALICE', 'gh:pr list'))).toMatchObject({ seq: 13, keyVersion: 'v2' });
      expect(await audit.verify()).toMatchObject({ ok: true, checked: 13 });
    }));
}
