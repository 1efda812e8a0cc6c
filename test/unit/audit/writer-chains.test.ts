import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ChainKey, type ChainTail, EMPTY_TAIL, linkEvents } from '../../../src/audit/chain.js';
import type { AuditRecord } from '../../../src/audit/records.js';
import { ChainVerifier } from '../../../src/audit/verifier.js';
import {
  CHAINS_ANCHORED,
  type ChainHead,
  formatHeads,
  parseHeads,
} from '../../../src/audit/writer-chains.js';

/** What a writer does next: append to its chain (after some unused numbers), or write a cross-anchor. */
interface Step {
  writer: number;
  anchor: boolean;
  skip: number;
}

const step = (writers: number) =>
  fc.record({
    writer: fc.nat({ max: writers - 1 }),
    anchor: fc.boolean(),
    skip: fc.oneof(fc.constant(0), fc.constant(0), fc.nat({ max: 3 })),
  });

const KEY: ChainKey = { version: 'v1', key: new Uint8Array(randomBytes(32)) };
const keys = { current: () => KEY, get: (v: string) => (v === KEY.version ? KEY.key : undefined) };

/**
 * A trail as DynamoDB's writers make it: numbers from one shared sequence (some reserved and never
 * used), each writer chaining its own records, cross-anchors naming the other chains' heads as they
 * were before the anchor's number was reserved.
 */
function trail(steps: readonly Step[], writers: number): AuditRecord[] {
  const ids = Array.from({ length: writers }, (_, i) => `w${i}`);
  const tails = new Map<string, ChainTail>();
  const records: AuditRecord[] = [];
  let next = 0;
  for (const [i, s] of steps.entries()) {
    const chain = ids[s.writer] as string;
    const heads: ChainHead[] = [...tails.entries()]
      .filter(([id]) => id !== chain)
      .map(([id, t]) => ({ chain: id, seq: t.seq, hash: t.hash }));
    const anchor = s.anchor && heads.length > 0;
    next += s.skip + 1;
    const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
    const event = anchor
      ? {
          action: CHAINS_ANCHORED,
          outcome: 'success' as const,
          actor: 'opsbot',
          at,
          details: { chains: heads.length, heads: formatHeads(heads) },
        }
      : { action: 'gh:pr list', outcome: 'success' as const, actor: `U0${s.writer}`, at, details: { i } };
    const [record] = linkEvents(tails.get(chain) ?? EMPTY_TAIL, [event], keys, { chain, seqs: [next] });
    const r = record as AuditRecord;
    tails.set(chain, { seq: r.seq, hash: r.hash, keyVersion: r.keyVersion });
    records.push(r);
  }
  return records;
}

function verify(records: readonly AuditRecord[]) {
  const verifier = new ChainVerifier({ keys, keyed: true });
  for (const r of records) if (!verifier.add(r)) break;
  return verifier.result();
}

/** Whether a later record of another chain names `record`'s chain at or after `record`. */
function anchoredLater(records: readonly AuditRecord[], record: AuditRecord): boolean {
  return records.some(
    (r) =>
      r.seq > record.seq &&
      r.action === CHAINS_ANCHORED &&
      (parseHeads(r.details.heads) ?? []).some((h) => h.chain === record.chain && h.seq >= record.seq),
  );
}

const trails = fc
  .integer({ min: 1, max: 4 })
  .chain((writers) =>
    fc.tuple(fc.constant(writers), fc.array(step(writers), { minLength: 2, maxLength: 60 })),
  );

describe('writer chains (DynamoDB): one trail, a chain per writer, cross-anchors', () => {
  it('property: interleaved chains with unused numbers and cross-anchors verify, every anchor checked', () => {
    fc.assert(
      fc.property(trails, ([writers, steps]) => {
        const records = trail(steps, writers);
        const named = records
          .filter((r) => r.action === CHAINS_ANCHORED)
          .reduce((n, r) => n + (parseHeads(r.details.heads)?.length ?? 0), 0);
        const check = verify(records);
        expect(check).toMatchObject({
          ok: true,
          checked: records.length,
          head: { seq: records.at(-1)?.seq },
          chains: { count: new Set(records.map((r) => r.chain)).size, anchorsChecked: named },
        });
      }),
      { numRuns: 200 },
    );
  });

  it('property: a record removed from the middle of its chain, or changed, is a break', () => {
    fc.assert(
      fc.property(trails, fc.nat(), fc.boolean(), ([writers, steps], pick, change) => {
        const records = trail(steps, writers);
        // Records that are not the last of their chain: the next record of the chain links to them.
        const inner = records.filter((r) => records.some((o) => o.chain === r.chain && o.seq > r.seq));
        fc.pre(inner.length > 0);
        const victim = inner[pick % inner.length] as AuditRecord;
        const tampered = change
          ? records.map((r) => (r === victim ? { ...r, actor: 'U0MALLORY' } : r))
          : records.filter((r) => r !== victim);
        const check = verify(tampered);
        expect(check.ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('property: a chain cut short is a break when a later cross-anchor named what was cut, and only then', () => {
    fc.assert(
      fc.property(trails, fc.nat(), ([writers, steps], pick) => {
        const records = trail(steps, writers);
        const victim = records[pick % records.length] as AuditRecord;
        // Cut the victim's chain from the victim on.
        const tampered = records.filter((r) => r.chain !== victim.chain || r.seq < victim.seq);
        const check = verify(tampered);
        // What the design catches, and what it cannot: a cut no anchor vouched for looks like a chain that stopped.
        expect(check.ok).toBe(!anchoredLater(records, victim));
      }),
      { numRuns: 300 },
    );
  });

  it('a cross-anchor whose list cannot be read, or that names a record after itself, is a break', () => {
    const records = trail(
      [
        { writer: 0, anchor: false, skip: 0 },
        { writer: 1, anchor: false, skip: 0 },
        { writer: 0, anchor: true, skip: 0 },
      ],
      2,
    );
    const anchor = records[2] as AuditRecord;
    expect(anchor.action).toBe(CHAINS_ANCHORED);
    for (const heads of ['w1@2', `w1@9#${'a'.repeat(64)}`]) {
      const forged = linkEvents(
        { seq: 1, hash: (records[0] as AuditRecord).hash, keyVersion: 'v1' },
        [{ ...anchor, details: { chains: 1, heads } }],
        keys,
        { chain: 'w0', seqs: [3] },
      );
      const check = verify([records[0] as AuditRecord, records[1] as AuditRecord, ...forged]);
      expect(check).toMatchObject({ ok: false, brokenAt: 3 });
    }
  });

  it('property: heads are written and read back as they were', () => {
    const head = fc.record({
      chain: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
      seq: fc.integer({ min: 1, max: 2 ** 50 }),
      hash: fc.stringMatching(/^[0-9a-f]{64}$/),
    });
    fc.assert(
      fc.property(fc.array(head, { maxLength: 100 }), (heads) => {
        expect(parseHeads(formatHeads(heads))).toEqual(heads);
      }),
    );
    expect(parseHeads('w1@1#xyz')).toBeUndefined();
    expect(parseHeads(3)).toBeUndefined();
  });
});
