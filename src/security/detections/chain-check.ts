import { hashRecord } from '../../audit/chain.js';
import type { AuditRecord } from '../../audit/records.js';
import type { AuditStore } from '../../store/state.js';
import type { Detection } from '../detection.js';

/** Where the newest records of the chain break, and why; undefined when they link up. */
export interface LinkBreak {
  at: number;
  why: string;
}

/**
 * Checks consecutive records as the trail holds them: readable, each linked to the hash of the
 * record before it in its chain (the single shared chain numbers without gaps; DynamoDB's writer
 * chains may leave numbers unused), and (unkeyed) with a content hash that recomputes; the last
 * must be the head this process knows (or newer). Keyed hashes need the chain key, which
 * `/opsbot audit --verify` has: this periodic check is of the links, cheap enough to run often.
 */
export function checkLinks(
  records: readonly AuditRecord[],
  head?: { seq: number; hash: string },
): LinkBreak | undefined {
  let prev: AuditRecord | undefined;
  const ends = new Map<string, AuditRecord>();
  for (const record of records) {
    if (record.unreadable) return { at: record.seq, why: `it cannot be read (${record.unreadable})` };
    const chain = record.chain ?? '';
    if (prev && record.seq !== prev.seq + 1 && chain === '' && prev.chain === undefined)
      return { at: prev.seq + 1, why: `record ${prev.seq + 1} is missing` };
    const before = ends.get(chain);
    if (before && record.prevHash !== before.hash)
      return {
        at: record.seq,
        why: chain
          ? `it does not link to #${before.seq}, the record before it in writer chain ${chain}`
          : 'it does not link to the record before it',
      };
    if (record.keyVersion === undefined) {
      const { hash, ...rest } = record;
      if (hashRecord(rest) !== hash) return { at: record.seq, why: 'its content does not match its hash' };
    }
    ends.set(chain, record);
    prev = record;
  }
  if (head && head.seq > 0) {
    const there = records.find((r) => r.seq === head.seq);
    if (!there && (prev?.seq ?? 0) < head.seq)
      return {
        at: head.seq,
        why: `the trail ends at #${prev?.seq ?? 0}, before #${head.seq} that opsbot stored`,
      };
    if (there && there.hash !== head.hash)
      return { at: head.seq, why: 'it is not the record opsbot stored there (another hash)' };
  }
  return undefined;
}

/**
 * `chain`: reads the newest `records` of the trail (pages of at most 1,000) and checks their links;
 * a break is one detection per position (keyed by it), so it is reported once however often it is
 * found again.
 */
export async function checkNewestLinks(
  audit: Pick<AuditStore, 'readAfter' | 'head'>,
  records: number,
  now: number,
): Promise<Detection | undefined> {
  const head = audit.head();
  if (!head) return undefined;
  let after = Math.max(0, head.seq - records);
  const read: AuditRecord[] = [];
  while (read.length < records + 1) {
    const page = await audit.readAfter(after, Math.min(1_000, records + 1 - read.length));
    if (page.length === 0) break;
    read.push(...page);
    after = (page.at(-1) as AuditRecord).seq;
    if (after >= head.seq) break;
  }
  const start = Math.max(0, head.seq - records);
  const first = read[0];
  // Only the single shared chain numbers without gaps: a writer chain's first record may come later.
  const found: LinkBreak | undefined =
    first && first.seq !== start + 1 && first.chain === undefined
      ? { at: start + 1, why: `record ${start + 1} is missing` }
      : checkLinks(read, head);
  if (!found) return undefined;
  return {
    rule: 'chain',
    key: `chain:${found.at}`,
    title: `The audit trail is broken at record #${found.at}: ${found.why}`,
    at: new Date(now).toISOString(),
    evidence: [found.at],
    details: { brokenAt: found.at, why: found.why.slice(0, 200), checked: read.length },
  };
}
