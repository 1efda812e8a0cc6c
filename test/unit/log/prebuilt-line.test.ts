import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  chainRecord,
  GENESIS_HASH,
  hashRecord,
  recordJson,
} from '../../../src/audit/chain.js';
import type { AuditEvent } from '../../../src/audit/records.js';
import { logPrebuilt } from '../../../src/log/prebuilt-line.js';
import { captureLogs } from '../../helpers/log-capture.js';

/** The line pino itself writes for the same fields, with the time taken out (it moves). */
function withoutTime(line: Record<string, unknown>): Record<string, unknown> {
  const { time: _time, ...rest } = line;
  return rest;
}

const text = fc.string({ maxLength: 40 });
const event: fc.Arbitrary<AuditEvent> = fc.record({
  action: text,
  actor: text,
  outcome: fc.constantFrom('success', 'denied', 'error', 'intent'),
  details: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 12 }),
    fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(undefined)),
    { maxKeys: 8 },
  ),
}) as fc.Arbitrary<AuditEvent>;

describe('logPrebuilt', () => {
  it('writes the line pino writes for the same fields and message, through the same redaction', () => {
    fc.assert(
      fc.property(event, fc.integer({ min: 1, max: 1e9 }), (e, seq) => {
        const record = chainRecord(e, seq, '2026-12-06T12:00:00.000Z', GENESIS_HASH);
        const ours = captureLogs();
        const pinos = captureLogs();
        const child = (c: typeof ours) => c.log.child({ component: 'audit' });
        logPrebuilt(child(ours), recordJson(record), record.action, { audit: true });
        child(pinos).info({ audit: true, ...record }, record.action);
        const [a] = ours.records();
        const [b] = pinos.records();
        expect(withoutTime(a as Record<string, unknown>)).toEqual(withoutTime(b as Record<string, unknown>));
        // Level, time and bindings first and the message last, as pino orders them (the record's
        // own fields in canonical order between).
        const keys = Object.keys(a as object);
        expect(keys.slice(0, 5)).toEqual(['level', 'time', 'service', 'component', 'audit']);
        expect(keys.at(-1)).toBe('msg');
      }),
      { numRuns: 200 },
    );
  });

  it('masks a registered secret in the prebuilt fields, as every line is masked', () => {
    const capture = captureLogs();
    const canary = 'xoxb-test-canary-prebuilt-0123456789';
    capture.redactor.register(canary);
    const record = chainRecord(
      { action: 'gh:pr list', actor: 'U1', outcome: 'success', details: { args: canary } },
      1,
      '2026-12-06T12:00:00.000Z',
      GENESIS_HASH,
    );
    logPrebuilt(capture.log, recordJson(record), record.action, { audit: true });
    expect(capture.text()).not.toContain(canary);
    expect(capture.records()[0]?.audit).toBe(true);
  });

  it('writes nothing below the logger level', () => {
    const capture = captureLogs({ level: 'warn' });
    logPrebuilt(capture.log, '{"a":1}', 'm');
    expect(capture.text()).toBe('');
  });
});

describe('recordJson', () => {
  it('is the chained record, parsed back, and hashes to the record hash', () => {
    fc.assert(
      fc.property(event, fc.integer({ min: 1, max: 1e9 }), (e, seq) => {
        const record = chainRecord(e, seq, '2026-12-06T12:00:00.000Z', GENESIS_HASH);
        const parsed = JSON.parse(recordJson(record));
        expect(parsed).toEqual(JSON.parse(JSON.stringify(record)));
        const { hash, ...unhashed } = parsed;
        expect(hashRecord(unhashed, undefined)).toBe(hash);
      }),
      { numRuns: 200 },
    );
  });

  it('canonicalJson sorts keys at every level and leaves out undefined fields', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, undefined, 'x'], c: undefined } })).toBe(
      '{"a":{"d":[1,null,"x"]},"b":1}',
    );
  });
});
