import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { AuditKeyMissingError } from './errors.js';
import type { AuditEvent, AuditRecord } from './records.js';

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

/**
 * JSON with keys sorted at every level and undefined fields left out: the same record, the same text.
 * A value whose objects all have their keys in sorted order already (and nothing `JSON.stringify`
 * writes differently: no `toJSON`, no functions) is exactly what `JSON.stringify` writes, so it
 * writes it; records are built that way ({@link chainRecord}).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (writtenAsIs(value, 0)) return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += canonicalJson(value[i] ?? null);
    }
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  // Default sort compares UTF-16 code units, as `<` does: the order every stored hash was made with.
  const keys = Object.keys(object).sort();
  let out = '{';
  for (const key of keys) {
    const v = object[key];
    if (v === undefined) continue;
    if (out.length > 1) out += ',';
    out += JSON.stringify(key);
    out += ':';
    out += canonicalJson(v);
  }
  return `${out}}`;
}

/** How deep {@link writtenAsIs} looks before it lets the sorting path decide. */
const AS_IS_DEPTH = 4;

/**
 * Does `JSON.stringify(value)` write `canonicalJson(value)`? True for strings, numbers, booleans
 * and null; for arrays and plain objects (Object's prototype or none) whose keys come in sorted
 * order and whose values all are (an undefined field is left out by both, an undefined array item
 * is `null` in both).
 */
function writtenAsIs(value: unknown, depth: number): boolean {
  const type = typeof value;
  if (type === 'string' || type === 'number' || type === 'boolean' || value === null) return true;
  if (type !== 'object' || depth >= AS_IS_DEPTH) return false;
  const proto = Object.getPrototypeOf(value);
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) return false;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (item !== undefined && !writtenAsIs(item, depth + 1)) return false;
    }
    return true;
  }
  if (proto !== Object.prototype && proto !== null) return false;
  const object = value as Record<string, unknown>;
  let previous: string | undefined;
  for (const key of Object.keys(object)) {
    if (previous !== undefined && previous > key) return false;
    previous = key;
    const v = object[key];
    if (v !== undefined && !writtenAsIs(v, depth + 1)) return false;
  }
  return true;
}

/**
 * Each record's JSON text as it was chained, so a store and the log need not serialize it again:
 * kept on the record itself under a symbol, not enumerable (copies, `Object.keys`, equality checks
 * and JSON never see it; a copy has no text and is serialized again).
 */
const RECORD_TEXT = Symbol('opsbot.auditRecordText');

/**
 * The JSON text of a record: for a record this process chained, the text made for its hash (its
 * fields in canonical order, `hash` first), else `JSON.stringify`. Parsed, both give the record.
 */
export function recordJson(record: AuditRecord): string {
  return (record as { [RECORD_TEXT]?: string })[RECORD_TEXT] ?? JSON.stringify(record);
}

/**
 * The hash a record must carry, given everything in it but the hash: HMAC-SHA256 with the chain
 * key of `record.keyVersion` when it has one, plain SHA-256 when it was chained without a key.
 */
export function hashRecord(record: Omit<AuditRecord, 'hash'>, key?: Uint8Array): string {
  return hashOf(record.prevHash, canonicalJson(record), key);
}

/** Each chain key as an HMAC key, imported once (importing it for every record costs more than the HMAC). */
const hmacKeys = new WeakMap<Uint8Array, KeyObject>();

function hmacKey(key: Uint8Array): KeyObject {
  let imported = hmacKeys.get(key);
  if (!imported) {
    imported = createSecretKey(key);
    hmacKeys.set(key, imported);
  }
  return imported;
}

function hashOf(prevHash: string, canonical: string, key?: Uint8Array): string {
  const hash = key ? createHmac('sha256', hmacKey(key)) : createHash('sha256');
  return hash.update(`${prevHash}\n${canonical}`).digest('hex');
}

/** Links `event` after the record whose hash is `prevHash`, with `key` (or without a key). */
export function chainRecord(
  event: AuditEvent,
  seq: number,
  at: string,
  prevHash: string,
  key?: ChainKey,
  chain?: string,
): AuditRecord {
  // Built in sorted key order, so its canonical text is JSON.stringify's (see canonicalJson).
  const unhashed = { action: event.action, actor: event.actor, at } as Omit<AuditRecord, 'hash'>;
  if (chain) unhashed.chain = chain;
  unhashed.details = event.details;
  if (key) unhashed.keyVersion = key.version;
  unhashed.outcome = event.outcome;
  unhashed.prevHash = prevHash;
  unhashed.seq = seq;
  // Anything else an event carries is chained too, as before (then in sorted order by canonicalJson).
  const extra = event as unknown as Record<string, unknown>;
  for (const field of Object.keys(extra))
    if (!Object.hasOwn(unhashed, field) && field !== 'at')
      (unhashed as Record<string, unknown>)[field] = extra[field];
  const canonical = canonicalJson(unhashed);
  const hash = hashOf(prevHash, canonical, key?.key);
  // The object made above is this record's own: completed in place rather than copied again.
  const record = Object.assign(unhashed, { hash }) as AuditRecord;
  Object.defineProperty(record, RECORD_TEXT, {
    value: `{"hash":${JSON.stringify(hash)}${canonical.length > 2 ? `,${canonical.slice(1)}` : '}'}`,
  });
  return record;
}

/** The end of the chain as a writer needs it. */
export interface ChainTail {
  /** The last record's sequence number (0: the chain has none yet). */
  seq: number;
  hash: string;
  /** The key version of the last record; undefined when it was unkeyed (or there is none). */
  keyVersion: string | undefined;
}

export const EMPTY_TAIL: ChainTail = { seq: 0, hash: GENESIS_HASH, keyVersion: undefined };

/**
 * Where a writer chain's records go: the chain's id and the sequence numbers reserved for them,
 * ascending (one per record {@link linkEvents} makes: {@link linkedCount}).
 */
export interface ChainPlace {
  chain: string;
  seqs: readonly number[];
}

/** How many records {@link linkEvents} makes of `events` after `tail`: one more when the key changed since it. */
export function linkedCount(
  tail: ChainTail,
  events: readonly unknown[],
  keys: Pick<ChainKeys, 'current'> | undefined,
): number {
  const rotates = events.length > 0 && tail.seq > 0 && tail.keyVersion !== keys?.current()?.version;
  return events.length + (rotates ? 1 : 0);
}

/**
 * Links a batch of events after `tail`, with the current key (in the single chain, numbered on
 * from the tail; or in a writer chain, at the sequence numbers `place` reserved). When the key differs from the one the
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
  place?: ChainPlace,
): AuditRecord[] {
  const current = keys?.current();
  if (events.length > 0 && tail.keyVersion !== undefined && current === undefined)
    throw new AuditKeyMissingError(tail.keyVersion);
  const count = linkedCount(tail, events, keys);
  if (place && place.seqs.length !== count)
    throw new RangeError(`${count} records need ${count} sequence numbers, not ${place.seqs.length}`);
  const records: AuditRecord[] = [];
  let seq = tail.seq;
  let prevHash = tail.hash;
  const push = (event: AuditEvent & { at: string }, key: ChainKey | undefined) => {
    const next = place ? (place.seqs[records.length] as number) : seq + 1;
    const record = chainRecord(event, next, event.at, prevHash, key, place?.chain);
    seq = next;
    prevHash = record.hash;
    records.push(record);
  };
  if (count > events.length) {
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
