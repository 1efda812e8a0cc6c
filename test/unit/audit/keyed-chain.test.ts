import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type ChainKey,
  type ChainKeys,
  ChainVerifier,
  EMPTY_TAIL,
  hashRecord,
  KEY_ROTATED,
  linkEvents,
} from '../../../src/audit/chain.js';
import type { AuditEvent, AuditRecord } from '../../../src/audit/records.js';

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

  it('vouches for unkeyed records a verified keyed record follows, and fails unkeyed ones after the last', () => {
    const v1 = key('v1');
    const legacy = write([
      { n: 2, keys: undefined },
      { n: 2, keys: keyring(v1) },
    ]);
    expect(legacy[2]).toMatchObject({ action: KEY_ROTATED, details: { from: 'unkeyed', to: 'v1' } });
    expect(verify(legacy, keyring(v1))).toMatchObject({
      ok: true,
      checked: 5,
      unkeyed: [{ from: 1, to: 3, count: 3 }],
    });
    // The same unkeyed records with nothing keyed after them: whoever writes the database could have made them.
    const unsealed = legacy.slice(0, 2);
    expect(verify(unsealed, keyring(v1))).toMatchObject({ ok: false, brokenAt: 1 });
    // Where opsbot chains without a key, they are what it wrote (and reported as unkeyed).
    expect(verify(unsealed)).toMatchObject({ ok: true, unkeyed: [{ from: 1, to: 2, count: 2 }] });
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
