import { GENESIS_HASH, hashRecord, KEY_ROTATED, UNKEYED, UNKEYED_ADOPTED } from './chain.js';
import type {
  AuditAnchor,
  AuditRecord,
  ChainCaveats,
  ChainCheck,
  RecordRange,
  UnreadableAuditRecord,
} from './records.js';
import { CHAINS_ANCHORED, type ChainHead, parseHeads, SHARED_CHAIN_NAME } from './writer-chains.js';

/** Something the chain must reach, with the hash it must have there. */
export interface ChainExpectation {
  anchor: AuditAnchor;
  /** Where it came from, for a sentence: `the anchor you gave`, `the last record opsbot wrote`. */
  source: string;
}

/** Where a chain got to, as the walk found it. */
interface ChainEnd {
  seq: number;
  hash: string;
  keyVersion: string | undefined;
  rotatesTo: string | undefined;
  /** The chain's first record chained with a key (0: none yet). */
  firstKeyed: number;
}

const START: ChainEnd = {
  seq: 0,
  hash: GENESIS_HASH,
  keyVersion: undefined,
  rotatesTo: undefined,
  firstKeyed: 0,
};

/** The records with no `chain`: the single chain every writer shared. */
const SHARED = '';

/**
 * Walks records in sequence order and checks each one against the one before it in its chain: it
 * links to that record's hash, its key version changes only at an `audit.key_rotated` record, and
 * its hash recomputes (HMAC with its key version's key; SHA-256 when unkeyed). Records chained with a
 * key it does not have are checked for their links only, and reported. Records chained without a
 * key may only come first in their chain (before the key was set): one after a keyed record is a
 * break, and while opsbot has a key they are a break unless an `audit.unkeyed_adopted` record
 * (chained with the key) names the last of them and its hash.
 *
 * Numbering: in the single chain every writer shared (records without `chain`), records are
 * numbered without gaps, so a missing number is a removed record. Writer chains (DynamoDB: each
 * process chains its own records, numbered from one shared sequence) may leave numbers unused (a
 * writer that died between reserving numbers and writing them): there a removed record is caught by
 * the link of the next record of its chain, and a chain cut short by the cross-anchors
 * (`audit.chains`) written after it, which name where each chain had got to. Feed it pages in
 * order; it keeps one end per chain and the ranges it reports.
 */
export class ChainVerifier {
  readonly #keys: { get(version: string): Uint8Array | undefined } | undefined;
  readonly #keyed: boolean;
  readonly #chains = new Map<string, ChainEnd>();
  /** The last record read (any chain). */
  #last = 0;
  #lastHash = GENESIS_HASH;
  /** A record of a writer chain was read: numbers may be skipped from here on. */
  #perWriter = false;
  /** The last unkeyed record (what an adoption names). */
  #lastUnkeyed: AuditAnchor | undefined;
  /** The record that adopted the unkeyed records (0: none). */
  #adoptedAt = 0;
  /** The last record whose HMAC was verified with a key held (0: none yet). */
  #lastVerifiedKeyed = 0;
  readonly #expected: (ChainExpectation & { met: boolean })[];
  #checked = 0;
  #anchorsChecked = 0;
  #failure: { brokenAt: number; why: string; unadopted?: RecordRange } | undefined;
  readonly #unkeyed: RecordRange[] = [];
  readonly #unverifiable: (RecordRange & { keyVersion: string })[] = [];

  /**
   * @param options.keys the chain keys by version;
   * @param options.keyed whether opsbot chains with a key now: unkeyed records that no admin adopted
   *   then fail the check (whoever can write the database may have re-chained them with plain SHA-256);
   * @param options.expect anchors the trail must reach, with the same hash there.
   */
  constructor(
    options: {
      keys?: { get(version: string): Uint8Array | undefined };
      keyed?: boolean;
      expect?: readonly ChainExpectation[];
    } = {},
  ) {
    this.#keys = options.keys;
    this.#keyed = options.keyed ?? false;
    this.#expected = (options.expect ?? [])
      .filter((e) => e.anchor.seq > 0)
      .map((e) => ({ ...e, met: false }));
  }

  /** False once the chain is broken (at this record or before): stop feeding it. */
  add(record: AuditRecord | UnreadableAuditRecord, problem?: string): boolean {
    if (this.#failure) return false;
    const last = this.#last;
    if (record.seq <= last)
      return this.#fail(
        record.seq,
        `a record numbered ${record.seq} was inserted: opsbot numbers records from 1, once each`,
      );
    const chain = 'unreadable' in record ? undefined : (record.chain ?? SHARED);
    if (chain !== undefined && chain !== SHARED) this.#perWriter = true;
    if (record.seq !== last + 1 && !this.#perWriter)
      return this.#fail(last + 1, `record ${last + 1} is missing`);
    const skipped = this.#expected.find((e) => !e.met && e.anchor.seq < record.seq);
    if (skipped)
      return this.#fail(
        skipped.anchor.seq,
        `record ${skipped.anchor.seq}, which ${skipped.source} names, is not in the trail: it was deleted`,
      );
    if ('unreadable' in record) return this.#fail(record.seq, `it cannot be read (${record.unreadable})`);
    if (problem) return this.#fail(record.seq, problem);
    const end = this.#chains.get(chain as string) ?? START;
    if (record.prevHash !== end.hash) return this.#fail(record.seq, this.#unlinked(record, end));
    const keyProblem = keyChange(end, record);
    if (keyProblem) return this.#fail(record.seq, keyProblem);
    const { hash, ...rest } = record;
    let firstKeyed = end.firstKeyed;
    if (record.keyVersion === undefined) {
      if (hashRecord(rest) !== hash) return this.#fail(record.seq, 'its content does not match its hash');
      if (firstKeyed > 0)
        return this.#fail(
          record.seq,
          `it is chained without a key after records chained with the audit key (from #${firstKeyed}): opsbot never does that, so whoever can write the database may have re-chained it with plain SHA-256`,
        );
      extend(this.#unkeyed, record.seq, last);
      this.#lastUnkeyed = { seq: record.seq, hash };
    } else {
      const key = this.#keys?.get(record.keyVersion);
      if (key && hashRecord(rest, key) !== hash)
        return this.#fail(record.seq, 'its content does not match its hash (HMAC)');
      if (key) this.#lastVerifiedKeyed = record.seq;
      else if (this.#lastVerifiedKeyed > 0)
        // Keys are used in order and the oldest are forgotten first: an unknown version after known
        // ones was never opsbot's.
        return this.#fail(
          record.seq,
          `it is chained with key version ${record.keyVersion}, which opsbot does not have, after records chained with keys it has: that version is not one of the audit secret's`,
        );
      else extend(this.#unverifiable, record.seq, last, record.keyVersion);
      if (firstKeyed === 0) firstKeyed = record.seq;
      if (record.action === UNKEYED_ADOPTED) {
        const adoptionProblem = this.#adopt(record);
        if (adoptionProblem) return this.#fail(record.seq, adoptionProblem);
      }
    }
    if (record.action === CHAINS_ANCHORED) {
      const anchorProblem = this.#crossAnchor(record);
      if (anchorProblem) return this.#fail(record.seq, anchorProblem);
    }
    for (const expected of this.#expected) {
      if (expected.anchor.seq !== record.seq) continue;
      if (!hash.startsWith(expected.anchor.hash.toLowerCase()))
        return this.#fail(
          record.seq,
          `its hash differs from ${expected.source} (${expected.anchor.seq}:${expected.anchor.hash.slice(0, 16)}…): the trail up to here was rewritten since`,
        );
      expected.met = true;
    }
    this.#chains.set(chain as string, {
      seq: record.seq,
      hash,
      keyVersion: record.keyVersion,
      rotatesTo: record.action === KEY_ROTATED ? String(record.details.to ?? '') : undefined,
      firstKeyed,
    });
    this.#last = record.seq;
    this.#lastHash = hash;
    this.#checked += 1;
    return true;
  }

  result(): ChainCheck {
    const unkeyed = this.#unkeyed[0];
    if (!this.#failure && this.#keyed && unkeyed && this.#adoptedAt === 0) {
      const first = unkeyed.from;
      const to = this.#lastUnkeyed?.seq ?? unkeyed.to;
      const count = this.#unkeyed.reduce((n, r) => n + r.count, 0);
      const one = count === 1;
      const them = one ? 'it' : 'them';
      this.#failure = {
        brokenAt: first,
        why: `${one ? `record ${first} is` : `records ${first}–${to} are`} chained without a key and no admin adopted ${them}: whoever can write the database could have re-chained ${them} with plain SHA-256. If ${one ? 'it was' : 'they were'} written before the audit key was set and you trust ${them}, run \`/opsbot audit --adopt-unkeyed ${to}\``,
        unadopted: { from: first, to, count },
      };
    }
    if (!this.#failure) {
      const last = this.#last;
      const beyond = this.#expected.find((e) => e.anchor.seq > last);
      if (beyond) {
        const { anchor, source } = beyond;
        const gone =
          last + 1 === anchor.seq ? `record ${anchor.seq} was` : `records ${last + 1}–${anchor.seq} were`;
        this.#failure = {
          brokenAt: last + 1,
          why: `the trail ends at #${last}, but ${source} has #${anchor.seq}: ${gone} deleted`,
        };
      }
    }
    const writerChains = [...this.#chains.keys()].filter((c) => c !== SHARED).length;
    const caveats: ChainCaveats = {
      ...(this.#last > 0 ? { head: { seq: this.#last, hash: this.#lastHash } } : {}),
      ...(this.#unkeyed.length > 0 ? { unkeyed: this.#unkeyed } : {}),
      ...(this.#lastUnkeyed ? { lastUnkeyed: this.#lastUnkeyed } : {}),
      ...(this.#adoptedAt > 0 ? { adoptedAt: this.#adoptedAt } : {}),
      ...(this.#unverifiable.length > 0 ? { unverifiable: this.#unverifiable } : {}),
      ...(writerChains > 0 ? { chains: { count: writerChains, anchorsChecked: this.#anchorsChecked } } : {}),
    };
    return this.#failure
      ? { ok: false, checked: this.#checked, ...this.#failure, ...caveats }
      : { ok: true, checked: this.#checked, ...caveats };
  }

  /** Why `record` does not link to `end`, the last record of its chain read so far. */
  #unlinked(record: AuditRecord, end: ChainEnd): string {
    if (record.chain === undefined) return 'it does not link to the record before it';
    if (end.seq === 0)
      return `it is the first record of writer chain ${record.chain} in the trail, but it does not start that chain: the chain's records before it were deleted or changed`;
    return `it does not link to #${end.seq}, the record before it in writer chain ${record.chain}: a record between them was deleted, or one of them was changed`;
  }

  /**
   * Why a cross-anchor does not hold, if it does not: every chain it names must have reached the
   * record it names (every record numbered before the anchor has been read), with that hash when
   * it is that chain's last so far. A chain it names that has no record, or that ends before, was cut.
   */
  #crossAnchor(record: AuditRecord): string | undefined {
    const heads = parseHeads(record.details.heads);
    if (!heads) return 'it is a cross-anchor whose list of chain heads cannot be read';
    for (const head of heads) {
      const problem = this.#headProblem(head, record.seq);
      if (problem) return problem;
      this.#anchorsChecked += 1;
    }
    return undefined;
  }

  #headProblem(head: ChainHead, anchorSeq: number): string | undefined {
    const id = head.chain === SHARED_CHAIN_NAME ? SHARED : head.chain;
    const name = id === SHARED ? 'the shared chain' : `writer chain ${id}`;
    if (head.seq >= anchorSeq)
      return `it names ${name} at #${head.seq}, which is not before it: opsbot never writes that`;
    const end = this.#chains.get(id);
    if (!end)
      return `it says ${name} had reached #${head.seq}, but no record of that chain is in the trail before it: they were deleted`;
    if (end.seq < head.seq)
      return `it says ${name} had reached #${head.seq}, but that chain ends at #${end.seq} before it: its records after #${end.seq} were deleted`;
    if (end.seq === head.seq && end.hash !== head.hash)
      return `it says ${name} had reached #${head.seq} with another hash: that record was changed since`;
    return undefined;
  }

  /** Why an adoption record does not adopt the unkeyed records before it, if it does not. */
  #adopt(record: AuditRecord): string | undefined {
    const last = this.#lastUnkeyed;
    const { lastUnkeyedSeq, headHash } = record.details;
    if (!last)
      return `it adopts unkeyed records up to #${String(lastUnkeyedSeq)}, but no record before it is unkeyed`;
    if (lastUnkeyedSeq !== last.seq || headHash !== last.hash)
      return `it adopts the unkeyed records up to #${String(lastUnkeyedSeq)}, but they end at #${last.seq} with another hash: they were rewritten after an admin adopted them`;
    if (this.#adoptedAt === 0) this.#adoptedAt = record.seq;
    return undefined;
  }

  #fail(brokenAt: number, why: string): false {
    this.#failure = { brokenAt, why };
    return false;
  }
}

/** Why this record's key version may not follow the previous record of its chain, if it may not. */
function keyChange(prev: ChainEnd, record: AuditRecord): string | undefined {
  const name = (version: string | undefined) => version ?? UNKEYED;
  if (prev.rotatesTo !== undefined && prev.rotatesTo !== name(record.keyVersion))
    return `the record before it rotated the chain key to ${prev.rotatesTo}, but it is chained with ${name(record.keyVersion)}`;
  if (prev.seq === 0 || record.keyVersion === prev.keyVersion) return undefined;
  if (prev.rotatesTo !== undefined) return undefined;
  const { details } = record;
  const announced =
    record.action === KEY_ROTATED &&
    details.from === name(prev.keyVersion) &&
    details.to === name(record.keyVersion) &&
    details.chainedWith === 'to';
  return announced
    ? undefined
    : `it is chained with key ${name(record.keyVersion)} but the record before it with ${name(prev.keyVersion)}, and no ${KEY_ROTATED} record says the key changed`;
}

/**
 * Adds `seq` to the last range when it continues it (the record read before it, `prevSeq`, ended
 * it, with the same key version), else starts a new one.
 */
function extend<R extends RecordRange & { keyVersion?: string }>(
  ranges: R[],
  seq: number,
  prevSeq: number,
  keyVersion?: string,
): void {
  const last = ranges.at(-1);
  if (last && last.to === prevSeq && last.keyVersion === keyVersion) {
    last.to = seq;
    last.count += 1;
  } else ranges.push({ from: seq, to: seq, count: 1, ...(keyVersion ? { keyVersion } : {}) } as R);
}
