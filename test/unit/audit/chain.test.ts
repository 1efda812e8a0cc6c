import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AuditRecord,
  canonicalJson,
  chainRecord,
  GENESIS_HASH,
  recordJson,
} from '../../../src/audit/chain.js';
import type { AuditEvent } from '../../../src/audit/sink.js';
import { ChainVerifier } from '../../../src/audit/verifier.js';

const eventArb: fc.Arbitrary<AuditEvent> = fc.record({
  action: fc.constantFrom('command.run', 'secret.version_changed', 'access.denied'),
  outcome: fc.constantFrom('success', 'denied', 'error'),
  actor: fc.stringMatching(/^U[A-Z0-9]{3,8}$/),
  details: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 8 }),
    fc.oneof(fc.string(), fc.integer(), fc.boolean()),
  ),
});

// The reference: every object's keys sorted and written one by one (no shortcut).
const reference = (value: unknown): string => {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => reference(v ?? null)).join(',')}]`;
  const object = value as Record<string, unknown>;
  const parts = Object.keys(object)
    .sort()
    .filter((k) => object[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${reference(object[k])}`);
  return `{${parts.join(',')}}`;
};

function build(events: AuditEvent[]): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prev = GENESIS_HASH;
  events.forEach((event, i) => {
    const record = chainRecord(event, i + 1, new Date(Date.UTC(2026, 10, 23, 0, 0, i)).toISOString(), prev);
    prev = record.hash;
    out.push(record);
  });
  return out;
}

function check(records: AuditRecord[]) {
  const verifier = new ChainVerifier();
  for (const r of records) if (!verifier.add(r)) break;
  return verifier.result();
}

describe('the audit hash chain', () => {
  it('verifies an untouched chain', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 30 }), (events) => {
        expect(check(build(events))).toMatchObject({ ok: true, checked: events.length });
      }),
    );
  });

  it('detects any edited, removed or inserted record, and names where', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { minLength: 2, maxLength: 20 }),
        fc.nat(),
        fc.string({ minLength: 1 }),
        (events, at, text) => {
          const records = build(events);
          const i = at % records.length;
          const target = records[i] as AuditRecord;
          const edited = records.map((r, j) =>
            j === i ? { ...r, details: { ...r.details, note: text } } : r,
          );
          expect(check(edited)).toMatchObject({ ok: false, brokenAt: target.seq });
          const removed = records.filter((_, j) => j !== i);
          expect(check(removed).ok).toBe(i === records.length - 1); // dropping the tail is only caught by an anchor
          const forged = chainRecord(events[0] as AuditEvent, target.seq, target.at, target.prevHash);
          const inserted = [...records.slice(0, i), forged, ...records.slice(i)];
          expect(check(inserted).ok).toBe(false);
        },
      ),
    );
  });

  it('writes exactly what the plain sorted-keys serializer writes, for any value', () => {
    const flatRecord = fc.dictionary(
      fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('10', '9', '0', '__proto__x', 'é', 'Z', 'a')),
      fc.oneof(
        fc.string(),
        fc.double(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
      ),
    );
    const value = fc.oneof(
      flatRecord,
      flatRecord.map((o) =>
        Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      ),
      fc.anything({
        withDate: true,
        withNullPrototype: true,
        withObjectString: true,
        withMap: true,
        withSet: true,
      }),
      eventArb.map((e) => ({
        ...e,
        details: { ...e.details, nested: { b: new Date(0), a: [undefined, 1] } },
      })),
    );
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(reference(v));
      }),
      { numRuns: 2_000 },
    );
    // The shortcut's edges: a Date (its toJSON) and integer-like keys (listed first by Object.keys).
    expect(canonicalJson({ a: 1, d: new Date(0) })).toBe('{"a":1,"d":{}}');
    expect(canonicalJson({ 9: 'x', 10: 'y' })).toBe('{"10":"y","9":"x"}');
    class Tagged extends Array<number> {
      toJSON() {
        return 'tagged';
      }
    }
    expect(canonicalJson({ a: Tagged.from([1, 2]) })).toBe('{"a":[1,2]}');
    expect(canonicalJson([undefined, { b: undefined, a: 1 }])).toBe('[null,{"a":1}]');
  });

  it('hashes a keyed record as HMAC-SHA256 over the previous hash, a newline and its sorted-keys JSON', () => {
    fc.assert(
      fc.property(eventArb, fc.uint8Array({ minLength: 32, maxLength: 32 }), (event, bytes) => {
        const key = { version: 'v1', key: bytes };
        const prev = 'a'.repeat(64);
        // Chained twice with the same key: the key kept imported hashes as a fresh one does.
        for (const seq of [1, 2]) {
          const record = chainRecord(event, seq, '2026-12-07T00:00:00.000Z', prev, key);
          const { hash, ...unhashed } = record;
          const expected = createHmac('sha256', bytes)
            .update(`${prev}\n${reference(unhashed)}`)
            .digest('hex');
          expect(hash).toBe(expected);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('chains every field an event carries, whatever order it was built in', () => {
    fc.assert(
      fc.property(
        eventArb,
        fc.dictionary(fc.constantFrom('extra', 'zeta', 'approvalId', 'constructor', 'toString'), fc.string()),
        (event, extra) => {
          const shuffled = {
            details: event.details,
            ...extra,
            outcome: event.outcome,
            actor: event.actor,
            action: event.action,
          };
          const record = chainRecord(shuffled, 7, '2026-12-07T00:00:00.000Z', GENESIS_HASH);
          expect(record).toEqual({
            ...event,
            ...extra,
            seq: 7,
            at: '2026-12-07T00:00:00.000Z',
            prevHash: GENESIS_HASH,
            hash: record.hash,
          });
          const { hash, ...unhashed } = record;
          expect(hash).toBe(
            chainRecord({ ...event, ...extra }, 7, '2026-12-07T00:00:00.000Z', GENESIS_HASH).hash,
          );
          expect(JSON.parse(recordJson(record))).toEqual({ ...unhashed, hash });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('writes the same canonical text whatever the key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"e":3,"f":2}]},"b":1}',
    );
  });
});
