import { createHash, createHmac } from 'node:crypto';
import { AuditKeyMissingError } from './errors.js';
import type {
  AuditAnchor,
  AuditEvent,
  AuditRecord,
  ChainCaveats,
  ChainCheck,
  RecordRange,
  UnreadableAuditRecord,
} from './records.js';

export type { AuditEvent, AuditRecord, ChainCheck } from './records.js';

export const GENESIS_HASH = '0'.repeat(64);

/** The action of the record written when the chain key changes (README.md, "Audit trail"). */
export const KEY_ROTATED = 'audit.key_rotated';
/** How a key rotation record names "no key". */
export const UNKEYED = 'unkeyed';
/**
 * The action of the record an admin writes to adopt the records chained without a key before the
 * key was set (`/opsbot audit --adopt-unkeyed <seq>`): chained with the key, it names the last of
 * them (`lastUnkeyedSeq`) and its hash (`headHash`). Without it, a keyed opsbot reports them as a break.
 */
export const UNKEYED_ADOPTED = 'audit.unkeyed_adopted';

/** One version of the chain key: the `audit` secret's version id and its 32 bytes. */
export interface ChainKey {
  version: string;
  key: Uint8Array;
}

/** The chain keys a process knows: the one new records use, and older ones by version. */
export interface ChainKeys {
  /** The key new records are chained with; undefined: chain without a key. */
  current(): ChainKey | undefined;
  /** The key of a version, while it is still known. */
  get(version: string): Uint8Array | undefined;
}

/** JSON with keys sorted at every level and undefined fields left out: the same record, the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += `${i ? ',' : ''}${canonicalJson(value[i] ?? null)}`;
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  // Default sort compares UTF-16 code units, as `<` does: the order every stored hash was made with.
  const keys = Object.keys(object).sort();
  let out = '{';
  for (const key of keys) {
    const v = object[key];
    if (v === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** Each record's JSON text as it was chained, so a store and the log need not serialize it again. */
const recordTexts = new WeakMap<AuditRecord, string>();

/**
 * The JSON text of a record: for a record this process chained, the text made for its hash (its
 * fields in canonical order, `hash` first), else `JSON.stringify`. Parsed, both give the record.
 */
export function recordJson(record: AuditRecord): string {
  return recordTexts.get(record) ?? JSON.stringify(record);
}

/**
 * The hash a record must carry, given everything in it but the hash: HMAC-SHA256 with the chain
 * key of `record.keyVersion` when it has one, plain SHA-256 when it was chained without a key.
 */
export function hashRecord(record: Omit<AuditRecord, 'hash'>, key?: Uint8Array): string {
  return hashOf(record.prevHash, canonicalJson(record), key);
}

function hashOf(prevHash: string, canonical: string, key?: Uint8Array): string {
  const hash = key ? createHmac('sha256', key) : createHash('sha256');
  return hash.update(`${prevHash}\n${canonical}`).digest('hex');
}

/** Links `event` after the record whose hash is `prevHash`, with `key` (or without a key). */
export function chainRecord(
  event: AuditEvent,
  seq: number,
  at: string,
  prevHash: string,
  key?: ChainKey,
): AuditRecord {
  const unhashed: Omit<AuditRecord, 'hash'> = {
    ...event,
    seq,
    at,
    ...(key ? { keyVersion: key.version } : {}),
    prevHash,
  };
  const canonical = canonicalJson(unhashed);
  const hash = hashOf(prevHash, canonical, key?.key);
  // The object made above is this record's own: completed in place rather than copied again.
  const record = Object.assign(unhashed, { hash }) as AuditRecord;
  recordTexts.set(
    record,
    `{"hash":${JSON.stringify(hash)}${canonical.length > 2 ? `,${canonical.slice(1)}` : '}'}`,
  );
  return record;
}

/** The end of the chain as a writer needs it. */
export interface ChainTail {
  seq: number;
  hash: string;
  /** The key version of the last record; undefined when it was unkeyed (or there is none). */
  keyVersion: string | undefined;
}

export const EMPTY_TAIL: ChainTail = { seq: 0, hash: GENESIS_HASH, keyVersion: undefined };

/**
 * Links a batch of events after `tail`, with the current key. When the key differs from the one the
 * tail was chained with, an `audit.key_rotated` record comes first: chained with the old key when it
 * is still known (so the old key vouches for the new one), else with the new one (and it says so).
 * After an unkeyed tail it is chained with the new key: opsbot writes nothing without a key while it
 * has one. After a keyed tail without a key (the `audit` secret not loaded) it throws
 * {@link AuditKeyMissingError}: records without a key after keyed ones would be a break.
 */
export function linkEvents(
  tail: ChainTail,
  events: readonly (AuditEvent & { at: string })[],
  keys: ChainKeys | undefined,
): AuditRecord[] {
  const current = keys?.current();
  if (events.length > 0 && tail.keyVersion !== undefined && current === undefined)
    throw new AuditKeyMissingError(tail.keyVersion);
  const records: AuditRecord[] = [];
  let seq = tail.seq;
  let prevHash = tail.hash;
  const push = (event: AuditEvent & { at: string }, key: ChainKey | undefined) => {
    const record = chainRecord(event, ++seq, event.at, prevHash, key);
    prevHash = record.hash;
    records.push(record);
  };
  if (events.length > 0 && tail.seq > 0 && tail.keyVersion !== current?.version) {
    const oldKey = tail.keyVersion === undefined ? undefined : keys?.get(tail.keyVersion);
    const signer: ChainKey | undefined =
      tail.keyVersion !== undefined && oldKey !== undefined
        ? { version: tail.keyVersion, key: oldKey }
        : current;
    push(
      {
        action: KEY_ROTATED,
        outcome: 'success',
        actor: 'opsbot',
        at: (events[0] as { at: string }).at,
        details: {
          from: tail.keyVersion ?? UNKEYED,
          to: current?.version ?? UNKEYED,
          chainedWith: signer === current ? 'to' : 'from',
        },
      },
      signer,
    );
  }
  for (const event of events) push(event, current);
  return records;
}

/** Something the chain must reach, with the hash it must have there. */
export interface ChainExpectation {
  anchor: AuditAnchor;
  /** Where it came from, for a sentence: `the anchor you gave`, `the last record opsbot wrote`. */
  source: string;
}

/**
 * Walks records in sequence order and checks each one: its number follows the one before, it links
 * to that record's hash, its key version changes only at an `audit.key_rotated` record, and its
 * hash recomputes (HMAC with its key version's key; SHA-256 when unkeyed). Records chained with a
 * key it does not have are checked for their links only, and reported. Records chained without a
 * key may only come first (before the key was set): one after a keyed record is a break, and while
 * opsbot has a key they are a break unless an `audit.unkeyed_adopted` record (chained with the key)
 * names the last of them and its hash. Feed it pages in order; it keeps only the last record and
 * the ranges it reports.
 */
export class ChainVerifier {
  readonly #keys: Pick<ChainKeys, 'get'> | undefined;
  readonly #keyed: boolean;
  /** The first record chained with a key (0: none yet). */
  #firstKeyed = 0;
  /** The last unkeyed record (they can only come before the first keyed one). */
  #lastUnkeyed: AuditAnchor | undefined;
  /** The record that adopted the unkeyed records (0: none). */
  #adoptedAt = 0;
  /** The last record whose HMAC was verified with a key held (0: none yet). */
  #lastVerifiedKeyed = 0;
  readonly #expected: readonly ChainExpectation[];
  #prev: { seq: number; hash: string; keyVersion: string | undefined; rotatesTo: string | undefined } = {
    seq: 0,
    hash: GENESIS_HASH,
    keyVersion: undefined,
    rotatesTo: undefined,
  };
  #checked = 0;
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
    options: { keys?: Pick<ChainKeys, 'get'>; keyed?: boolean; expect?: readonly ChainExpectation[] } = {},
  ) {
    this.#keys = options.keys;
    this.#keyed = options.keyed ?? false;
    this.#expected = (options.expect ?? []).filter((e) => e.anchor.seq > 0);
  }

  /** False once the chain is broken (at this record or before): stop feeding it. */
  add(record: AuditRecord | UnreadableAuditRecord, problem?: string): boolean {
    if (this.#failure) return false;
    const prev = this.#prev;
    if (record.seq <= prev.seq)
      return this.#fail(
        record.seq,
        `a record numbered ${record.seq} was inserted: opsbot numbers records from 1, once each`,
      );
    if (record.seq !== prev.seq + 1) return this.#fail(prev.seq + 1, `record ${prev.seq + 1} is missing`);
    if ('unreadable' in record) return this.#fail(record.seq, `it cannot be read (${record.unreadable})`);
    if (problem) return this.#fail(record.seq, problem);
    if (record.prevHash !== prev.hash)
      return this.#fail(record.seq, 'it does not link to the record before it');
    const keyProblem = this.#keyChange(record);
    if (keyProblem) return this.#fail(record.seq, keyProblem);
    const { hash, ...rest } = record;
    if (record.keyVersion === undefined) {
      if (hashRecord(rest) !== hash) return this.#fail(record.seq, 'its content does not match its hash');
      if (this.#firstKeyed > 0)
        return this.#fail(
          record.seq,
          `it is chained without a key after records chained with the audit key (from #${this.#firstKeyed}): opsbot never does that, so whoever can write the database may have re-chained it with plain SHA-256`,
        );
      extend(this.#unkeyed, record.seq);
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
      else extend(this.#unverifiable, record.seq, record.keyVersion);
      if (this.#firstKeyed === 0) this.#firstKeyed = record.seq;
      if (record.action === UNKEYED_ADOPTED) {
        const adoptionProblem = this.#adopt(record);
        if (adoptionProblem) return this.#fail(record.seq, adoptionProblem);
      }
    }
    for (const { anchor, source } of this.#expected) {
      if (anchor.seq === record.seq && !hash.startsWith(anchor.hash.toLowerCase()))
        return this.#fail(
          record.seq,
          `its hash differs from ${source} (${anchor.seq}:${anchor.hash.slice(0, 16)}…): the trail up to here was rewritten since`,
        );
    }
    this.#prev = {
      seq: record.seq,
      hash,
      keyVersion: record.keyVersion,
      rotatesTo: record.action === KEY_ROTATED ? String(record.details.to ?? '') : undefined,
    };
    this.#checked += 1;
    return true;
  }

  result(): ChainCheck {
    const unkeyed = this.#unkeyed[0];
    if (!this.#failure && this.#keyed && unkeyed && this.#adoptedAt === 0) {
      const { from, to } = unkeyed;
      const one = from === to;
      const them = one ? 'it' : 'them';
      this.#failure = {
        brokenAt: from,
        why: `${one ? `record ${from} is` : `records ${from}–${to} are`} chained without a key and no admin adopted ${them}: whoever can write the database could have re-chained ${them} with plain SHA-256. If ${one ? 'it was' : 'they were'} written before the audit key was set and you trust ${them}, run \`/opsbot audit --adopt-unkeyed ${to}\``,
        unadopted: { ...unkeyed },
      };
    }
    if (!this.#failure) {
      const last = this.#prev.seq;
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
    const caveats: ChainCaveats = {
      ...(this.#prev.seq > 0 ? { head: { seq: this.#prev.seq, hash: this.#prev.hash } } : {}),
      ...(this.#unkeyed.length > 0 ? { unkeyed: this.#unkeyed } : {}),
      ...(this.#lastUnkeyed ? { lastUnkeyed: this.#lastUnkeyed } : {}),
      ...(this.#adoptedAt > 0 ? { adoptedAt: this.#adoptedAt } : {}),
      ...(this.#unverifiable.length > 0 ? { unverifiable: this.#unverifiable } : {}),
    };
    return this.#failure
      ? { ok: false, checked: this.#checked, ...this.#failure, ...caveats }
      : { ok: true, checked: this.#checked, ...caveats };
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

  /** Why this record's key version may not follow the previous record's, if it may not. */
  #keyChange(record: AuditRecord): string | undefined {
    const prev = this.#prev;
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

  #fail(brokenAt: number, why: string): false {
    this.#failure = { brokenAt, why };
    return false;
  }
}

/** Adds `seq` to the last range when it continues it (same key version), else starts a new one. */
function extend<R extends RecordRange & { keyVersion?: string }>(
  ranges: R[],
  seq: number,
  keyVersion?: string,
): void {
  const last = ranges.at(-1);
  if (last && last.to === seq - 1 && last.keyVersion === keyVersion) {
    last.to = seq;
    last.count += 1;
  } else ranges.push({ from: seq, to: seq, count: 1, ...(keyVersion ? { keyVersion } : {}) } as R);
}
