import { createHash } from 'node:crypto';
import type { AuditEvent, AuditRecord, ChainCheck } from './records.js';

export type { AuditEvent, AuditRecord, ChainCheck } from './records.js';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with keys sorted at every level and undefined fields left out: the same record, the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The hash a record must carry, given everything in it but the hash. */
export function hashRecord(record: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256')
    .update(`${record.prevHash}\n${canonicalJson(record)}`)
    .digest('hex');
}

/** Links `event` after the record whose hash is `prevHash`. */
export function chainRecord(event: AuditEvent, seq: number, at: string, prevHash: string): AuditRecord {
  const unhashed = { ...event, seq, at, prevHash };
  return { ...unhashed, hash: hashRecord(unhashed) };
}

/**
 * Walks records in sequence order and checks each one's hash and its link to the one before.
 * Feed it pages in order; it keeps only the last hash.
 */
export class ChainVerifier {
  #prevHash = GENESIS_HASH;
  #prevSeq = 0;
  #checked = 0;
  #failure: { brokenAt: number; why: string } | undefined;

  add(record: AuditRecord): boolean {
    if (this.#failure) return false;
    const { hash, ...rest } = record;
    let why: string | undefined;
    if (record.seq !== this.#prevSeq + 1) why = `record ${this.#prevSeq + 1} is missing`;
    else if (record.prevHash !== this.#prevHash) why = 'it does not link to the record before it';
    else if (hashRecord(rest) !== hash) why = 'its content does not match its hash';
    if (why) {
      this.#failure = { brokenAt: record.seq === this.#prevSeq + 1 ? record.seq : this.#prevSeq + 1, why };
      return false;
    }
    this.#prevHash = hash;
    this.#prevSeq = record.seq;
    this.#checked += 1;
    return true;
  }

  result(): ChainCheck {
    return this.#failure
      ? { ok: false, checked: this.#checked, ...this.#failure }
      : { ok: true, checked: this.#checked };
  }
}
