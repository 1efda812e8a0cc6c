import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAlertArgs } from '../../../src/console/alert-args.js';
import { type AlertSpec, DATADOG_TRANSITIONS } from '../../../src/sandbox/datadog-webhook-sender.js';

const last: AlertSpec = {
  transition: 'Triggered',
  monitorId: 1005,
  cycleKey: '42',
  name: 'High CPU on web',
  priority: 2,
  scope: 'host:web-1',
  tags: ['env:prod'],
};

describe(':alert arguments', () => {
  it('starts a new alert for no transition, a title, or Triggered; the caller names its monitor', () => {
    for (const arg of ['', 'Disk full on db-1', 'Triggered', 'triggered Disk full']) {
      const parsed = parseAlertArgs(arg, last);
      expect(parsed).toMatchObject({ fresh: true, spec: { transition: 'Triggered' } });
      expect('spec' in parsed && parsed.spec.monitorId).toBeUndefined();
    }
  });

  it('continues the last alert for a bare Warn or No Data, as README says', () => {
    for (const [arg, transition] of [
      ['Warn', 'Warn'],
      ['no data', 'No Data'],
      ['Recovered', 'Recovered'],
      ['re-triggered Disk fuller', 'Re-Triggered'],
    ] as const) {
      expect(parseAlertArgs(arg, last)).toMatchObject({
        fresh: false,
        spec: { transition, monitorId: 1005, cycleKey: '42' },
      });
    }
  });

  it('starts a new alert for Warn or No Data with a title, or with no alert before', () => {
    expect(parseAlertArgs('Warn Disk 85% on db-1', last)).toMatchObject({
      fresh: true,
      spec: { transition: 'Warn', name: 'Disk 85% on db-1' },
    });
    expect(parseAlertArgs('Warn', undefined)).toMatchObject({ fresh: true, spec: { transition: 'Warn' } });
    expect(parseAlertArgs('Recovered', undefined)).toEqual({
      problem: ':alert Recovered continues an alert: send :alert Triggered first.',
    });
  });

  it('never throws; a continued alert always keeps the last monitor and cycle', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom(...DATADOG_TRANSITIONS)),
        fc.boolean(),
        (arg, withLast) => {
          const parsed = parseAlertArgs(arg, withLast ? last : undefined);
          if ('problem' in parsed) {
            expect(withLast).toBe(false);
            return;
          }
          expect(DATADOG_TRANSITIONS).toContain(parsed.spec.transition);
          expect((parsed.spec.name ?? '').length).toBeLessThanOrEqual(200);
          if (parsed.fresh) expect(parsed.spec.monitorId).toBeUndefined();
          else expect(parsed.spec).toMatchObject({ monitorId: 1005, cycleKey: '42' });
        },
      ),
    );
  });
});
