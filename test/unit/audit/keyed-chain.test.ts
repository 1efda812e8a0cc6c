import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type ChainKey,
  type ChainKeys,
  chainRecord,
  EMPTY_TAIL,
  GENESIS_HASH,
  hashRecord,
  KEY_ROTATED,
  linkEvents,
  UNKEYED_ADOPTED,
} from '../../../src/audit/chain.js';
import { AuditKeyMissingError } from '../../../src/audit/errors.js';
import type { AuditEvent, AuditRecord } from '../../../src/audit/records.js';
import { ChainVerifier } from '../../../src/audit/verifier.js';
import { describeCheck } from '../../../src/audit/verify-report.js';

const key = (version: string): ChainKey => ({ version, key: new Uint8Array(randomBytes(32)) });

/** A keyring in a test: the current key, and the versions it still knows. */
function keyring(current: ChainKey | undefined, known: ChainKey[] = current ? [current] : []): ChainKeys {
  return { current: () => current, get: (v) => known.find((k) => k.version === v)?.key };
}

const events = (n: number, from = 0): (AuditEvent & { at: string })[] =>
  Array.from({ length: n }, (_, i) => ({
    action: 'gh:issue create',
    outcome: 'success' as const,
    actor: 'U0DEV',
    at: new Date(Date.UTC(2026, 10, 23, 0, 0, from + i)).toISOString(),
    details: { args: `repo=acme/web title=[${from + i} chars]` },
  }));

const adoptEvent = (details: AuditEvent['details']): AuditEvent => ({
  action: UNKEYED_ADOPTED,
  outcome: 'success',
  actor: 'U0ADMIN',
  details,
});

/** Appends batches as the store does: each batch after the tail the one before left. */
function write(batches: { n: number; keys: ChainKeys | undefined }[]): AuditRecord[] {
  const out: AuditRecord[] = [];
  let tail = EMPTY_TAIL;
  for (const { n, keys } of batches) {
    const records = linkEvents(tail, events(n, out.length), keys);
    out.push(...records);
    const end = records.at(-1) as AuditRecord;
    tail = { seq: end.seq, hash: end.hash, keyVersion: end.keyVersion };
  }
  return out;
}

function verify(records: AuditRecord[], keys?: ChainKeys, options: { keyed?: boolean } = {}) {
  const verifier = new ChainVerifier({
    ...(keys ? { keys } : {}),
    keyed: options.keyed ?? keys?.current() !== undefined,
  });
  for (const r of records) if (!verifier.add(r)) break;
  return verifier.result();
}

describe('the keyed audit chain', () => {
  it('chains with HMAC-SHA256 under the current key and names its version in each record', () => {
    const v1 = key('v1');
    const records = write([{ n: 3, keys: keyring(v1) }]);
    expect(records.map((r) => r.keyVersion)).toEqual(['v1', 'v1', 'v1']);
    const { hash, ...rest } = records[1] as AuditRecord;
    expect(hashRecord(rest, v1.key)).toBe(hash);
    expect(hashRecord(rest)).not.toBe(hash);
    expect(verify(records, keyring(v1))).toMatchObject({
      ok: true,
      checked: 3,
      head: { seq: 3, hash: records[2]?.hash },
    });
    // Without the key it cannot be checked, and says so rather than calling it tampered with.
    expect(verify(records, keyring(undefined))).toMatchObject({
      ok: true,
      unverifiable: [{ keyVersion: 'v1', from: 1, to: 3, count: 3 }],
    });
  });

  it('rotates: a key_rotated record chained with the old key, then the new key, all verifiable', () => {
    const v1 = key('v1');
    const v2 = key('v2');
    const records = write([
      { n: 2, keys: keyring(v1) },
      { n: 2, keys: keyring(v2, [v1, v2]) },
    ]);
    expect(records.map((r) => [r.action === KEY_ROTATED ? 'rotated' : r.seq, r.keyVersion])).toEqual([
      [1, 'v1'],
      [2, 'v1'],
      ['rotated', 'v1'],
      [4, 'v2'],
      [5, 'v2'],
    ]);
    expect(records[2]?.details).toEqual({ from: 'v1', to: 'v2', chainedWith: 'from' });
    expect(verify(records, keyring(v2, [v1, v2]))).toMatchObject({ ok: true, checked: 5 });
    // Once v1 is forgotten, its records are reported as unverifiable, and the rest still checks out.
    expect(verify(records, keyring(v2, [v2]))).toMatchObject({
      ok: true,
      checked: 5,
      unverifiable: [{ keyVersion: 'v1', from: 1, to: 3, count: 3 }],
    });
  });

  it('rotates with the new key when the old one is gone (after a restart), and says so', () => {
    const v1 = key('v1');
    const v2 = key('v2');
    const records = write([
      { n: 2, keys: keyring(v1) },
      { n: 1, keys: keyring(v2, [v2]) },
    ]);
    expect(records[2]).toMatchObject({
      action: KEY_ROTATED,
      keyVersion: 'v2',
      details: { from: 'v1', to: 'v2', chainedWith: 'to' },
    });
    expect(verify(records, keyring(v2, [v1, v2]))).toMatchObject({ ok: true, checked: 4 });
  });

  it('refuses a key change that no key_rotated record announces', () => {
    const v1 = key('v1');
    const forged = key('forged');
    const records = write([{ n: 3, keys: keyring(v1) }]);
    // A forger re-chains record 3 onward with a key of their own, naming a version opsbot does not have.
    const [third] = linkEvents(
      { seq: 2, hash: (records[1] as AuditRecord).hash, keyVersion: 'forged' },
      events(1, 2),
      keyring(forged),
    );
    const check = verify([records[0], records[1], third] as AuditRecord[], keyring(v1));
    expect(check).toMatchObject({ ok: false, brokenAt: 3 });
    expect(check.ok ? '' : check.why).toContain('no audit.key_rotated record says the key changed');
    // Nor may a forger announce it with a rotation record of their own: a version opsbot does not
    // have, after versions it has, was never the audit secret's.
    const forgedTail = { seq: 2, hash: (records[1] as AuditRecord).hash, keyVersion: 'v1' };
    const announced = linkEvents(forgedTail, events(1, 2), {
      current: () => forged,
      get: (v) => (v === 'forged' ? forged.key : undefined),
    });
    expect(announced[0]).toMatchObject({
      action: KEY_ROTATED,
      keyVersion: 'forged',
      details: { chainedWith: 'to' },
    });
    const sneaked = verify([records[0], records[1], ...announced] as AuditRecord[], keyring(v1));
    expect(sneaked).toMatchObject({ ok: false, brokenAt: 3 });
    expect(sneaked.ok ? '' : sneaked.why).toContain('that version is not one of the audit secret');
  });

  it('rotates from unkeyed with the new key: a keyed opsbot writes nothing without a key', () => {
    const v1 = key('v1');
    const legacy = write([
      { n: 2, keys: undefined },
      { n: 2, keys: keyring(v1) },
    ]);
    expect(legacy.map((r) => r.keyVersion)).toEqual([undefined, undefined, 'v1', 'v1', 'v1']);
    expect(legacy[2]).toMatchObject({
      action: KEY_ROTATED,
      details: { from: 'unkeyed', to: 'v1', chainedWith: 'to' },
    });
    // Where opsbot chains without a key, unkeyed records are what it wrote (and reported as unkeyed).
    expect(verify(legacy.slice(0, 2))).toMatchObject({ ok: true, unkeyed: [{ from: 1, to: 2, count: 2 }] });
  });

  it('refuses to chain without a key after keyed records (the audit secret not loaded): fails closed', () => {
    const v1 = key('v1');
    const keyed = write([{ n: 2, keys: keyring(v1) }]);
    const end = keyed.at(-1) as AuditRecord;
    const tail = { seq: end.seq, hash: end.hash, keyVersion: end.keyVersion };
    expect(() => linkEvents(tail, events(1, 2), keyring(undefined))).toThrow(AuditKeyMissingError);
    expect(() => linkEvents(tail, events(1, 2), undefined)).toThrow(
      /the audit secret is not loaded: opsbot does not chain records without the key after keyed ones/,
    );
    expect(linkEvents(tail, [], undefined)).toEqual([]);
  });

  it('fails unkeyed records that no admin adopted once opsbot has a key, and accepts them once adopted', () => {
    const v1 = key('v1');
    const legacy = write([
      { n: 8, keys: undefined },
      { n: 2, keys: keyring(v1) },
    ]);
    const check = verify(legacy, keyring(v1));
    expect(check).toMatchObject({
      ok: false,
      brokenAt: 1,
      checked: 11,
      unadopted: { from: 1, to: 8, count: 8 },
      lastUnkeyed: { seq: 8, hash: legacy[7]?.hash },
    });
    expect(check.ok ? '' : check.why).toBe(
      'records 1–8 are chained without a key and no admin adopted them: whoever can write the database could have re-chained them with plain SHA-256. If they were written before the audit key was set and you trust them, run `/opsbot audit --adopt-unkeyed 8`',
    );
    // Unkeyed records only, on a keyed opsbot's first start: the same.
    expect(verify(legacy.slice(0, 8), keyring(v1))).toMatchObject({ ok: false, brokenAt: 1 });

    const adoption = (details: AuditEvent['details'], k = keyring(v1)) => {
      const end = legacy.at(-1) as AuditRecord;
      const tail = { seq: end.seq, hash: end.hash, keyVersion: end.keyVersion };
      return linkEvents(tail, [{ ...adoptEvent(details), at: '2026-11-24T00:00:00.000Z' }], k);
    };
    const adopted = [...legacy, ...adoption({ lastUnkeyedSeq: 8, headHash: legacy[7]?.hash })];
    expect(verify(adopted, keyring(v1))).toMatchObject({
      ok: true,
      checked: 12,
      unkeyed: [{ from: 1, to: 8, count: 8 }],
      adoptedAt: 12,
    });
    // An adoption naming another record, or another hash, was made for other records: a break.
    for (const details of [
      { lastUnkeyedSeq: 7, headHash: legacy[6]?.hash },
      { lastUnkeyedSeq: 8, headHash: 'f'.repeat(64) },
    ]) {
      const wrong = verify([...legacy, ...adoption(details)], keyring(v1));
      expect(wrong).toMatchObject({ ok: false, brokenAt: 12 });
      expect(wrong.ok ? '' : wrong.why).toContain('they were rewritten after an admin adopted them');
    }
    // An adoption chained without the key (a forger's) adopts nothing.
    const forged = linkEvents(
      { seq: 8, hash: legacy[7]?.hash as string, keyVersion: undefined },
      [{ ...adoptEvent({ lastUnkeyedSeq: 8, headHash: legacy[7]?.hash }), at: '2026-11-24T00:00:00.000Z' }],
      undefined,
    );
    expect(verify([...legacy.slice(0, 8), ...forged], keyring(v1))).toMatchObject({
      ok: false,
      brokenAt: 1,
      unadopted: { from: 1, to: 9, count: 9 },
    });
  });

  it('fails an unkeyed record after keyed ones, even announced by a key_rotated record, keyed or not', () => {
    const v1 = key('v1');
    const keyed = write([{ n: 3, keys: keyring(v1) }]);
    const end = keyed.at(-1) as AuditRecord;
    // A forger announces a change to "unkeyed" (chained without a key, as a rotation to no key would be).
    const downgrade = chainRecord(
      {
        action: KEY_ROTATED,
        outcome: 'success',
        actor: 'opsbot',
        details: { from: 'v1', to: 'unkeyed', chainedWith: 'to' },
      },
      4,
      '2026-11-24T00:00:00.000Z',
      end.hash,
    );
    const rest = linkEvents({ seq: 4, hash: downgrade.hash, keyVersion: undefined }, events(2, 4), undefined);
    for (const keys of [keyring(v1), keyring(undefined, [v1]), undefined]) {
      const check = verify([...keyed, downgrade, ...rest], keys, { keyed: keys?.current() !== undefined });
      expect(check).toMatchObject({ ok: false, brokenAt: 4 });
      expect(check.ok ? '' : check.why).toContain(
        'it is chained without a key after records chained with the audit key (from #1)',
      );
    }
  });

  it('catches the attack: a keyed trail, one record deleted, all re-chained with SHA-256, then one keyed record', () => {
    const v1 = key('v1');
    const original = write([{ n: 9, keys: keyring(v1) }]);
    // Someone who can write the database (not the key) deletes record 5 and re-chains the rest with
    // plain SHA-256, as if written before the key existed.
    const forged: AuditRecord[] = [];
    let prevHash = GENESIS_HASH;
    for (const [i, r] of original.filter((r) => r.seq !== 5).entries()) {
      const { hash: _hash, keyVersion: _version, ...event } = r;
      const record = chainRecord(event, i + 1, r.at, prevHash);
      forged.push(record);
      prevHash = record.hash;
    }
    expect(verify(forged)).toMatchObject({ ok: true, checked: 8 }); // without a key it cannot tell
    // opsbot restarts with the key and writes one record.
    const tail = { seq: 8, hash: prevHash, keyVersion: undefined };
    const trail = [...forged, ...linkEvents(tail, events(1, 9), keyring(v1))];
    const check = verify(trail, keyring(v1));
    expect(check).toMatchObject({ ok: false, brokenAt: 1, unadopted: { from: 1, to: 8 } });
    expect(describeCheck(check, { keyed: true })).toContain(
      'records #1–#8 are chained without a key (plain SHA-256) and no admin adopted them',
    );
    expect(describeCheck(check, { keyed: true })).not.toContain('vouch for them');
  });

  it('checks anchors: a trail shorter than the anchor, or with another hash there, fails', () => {
    const v1 = key('v1');
    const records = write([{ n: 5, keys: keyring(v1) }]);
    const anchorAt = (seq: number, hash = records[seq - 1]?.hash as string) => ({
      anchor: { seq, hash },
      source: 'the anchor you gave',
    });
    const run = (rs: AuditRecord[], expectation: ReturnType<typeof anchorAt>) => {
      const verifier = new ChainVerifier({ keys: keyring(v1), keyed: true, expect: [expectation] });
      for (const r of rs) verifier.add(r);
      return verifier.result();
    };
    expect(run(records, anchorAt(5))).toMatchObject({ ok: true });
    expect(run(records, anchorAt(4, String(records[3]?.hash).slice(0, 16)))).toMatchObject({ ok: true });
    expect(run(records.slice(0, 4), anchorAt(5))).toMatchObject({
      ok: false,
      brokenAt: 5,
      why: 'the trail ends at #4, but the anchor you gave has #5: record 5 was deleted',
    });
    expect(run([], anchorAt(5))).toMatchObject({ ok: false, brokenAt: 1 });
    expect(run(records, anchorAt(3, 'f'.repeat(64)))).toMatchObject({ ok: false, brokenAt: 3 });
  });

  it('reports an unreadable record, and a record that does not belong, at its sequence number', () => {
    const records = write([{ n: 3, keys: undefined }]);
    const verifier = new ChainVerifier();
    verifier.add(records[0] as AuditRecord);
    verifier.add({
      seq: 2,
      at: '',
      actor: 'U0DEV',
      action: 'gh:issue create',
      unreadable: 'its record is not valid JSON',
    });
    expect(verifier.result()).toMatchObject({
      ok: false,
      brokenAt: 2,
      checked: 1,
      why: 'it cannot be read (its record is not valid JSON)',
    });
    const inserted = new ChainVerifier();
    inserted.add({ ...(records[0] as AuditRecord), seq: 0 });
    expect(inserted.result()).toMatchObject({ ok: false, brokenAt: 0 });
  });
});
