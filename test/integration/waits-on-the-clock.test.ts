import { describe, expect, it } from 'vitest';
import { AuditKeyring } from '../../src/audit/keyring.js';
import { Readiness } from '../../src/health.js';
import { HttpServer } from '../../src/http/server.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogs } from '../helpers/log-capture.js';

/**
 * The waits that used their own timers now run on the clock they are given: a fake clock decides
 * when a deadline passes. Each deadline below is far longer than a test may take (10 minutes), so
 * a wait on a real timer instead of the clock could only end in a test timeout.
 */
const TEN_MINUTES = 600_000;

/** Whether `promise` has settled once pending callbacks have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  const mark = () => {
    done = true;
  };
  promise.then(mark, mark);
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('Readiness on the clock', () => {
  it('counts a check as not ready once its time is up on the clock it was given', async () => {
    const clock = new FakeClock();
    const readiness = new Readiness(clock);
    readiness.register('hung', () => new Promise(() => {}));
    readiness.register('ok', () => true);
    const report = readiness.report(TEN_MINUTES);
    expect(await settled(report)).toBe(false);
    clock.advance(TEN_MINUTES - 1);
    expect(await settled(report)).toBe(false);
    clock.advance(1);
    expect(await report).toEqual({ ready: false, checks: { hung: false, ok: true } });
    expect(clock.delays()).toEqual([]);
  });
});

describe('HttpServer.close on the clock', () => {
  it('gives up draining when the deadline passes on its clock', async () => {
    const clock = new FakeClock();
    const { log } = captureLogs();
    const server = new HttpServer({
      log,
      clock,
      routes: [{ method: 'GET', path: '/hang', handler: () => new Promise(() => {}) }],
    });
    const { port } = await server.listen(0, '127.0.0.1');
    const hung = fetch(`http://127.0.0.1:${port}/hang`).catch(() => 'aborted');
    await expect.poll(() => server.inFlight).toBe(1);
    const closing = server.close(TEN_MINUTES);
    expect(clock.delays()).toEqual([TEN_MINUTES]);
    clock.advance(TEN_MINUTES);
    expect(await closing).toEqual({ drained: false });
    expect(await hung).toBe('aborted');
  });
});

describe('AuditKeyring on the clock', () => {
  it('stops holding appends back once its settle time is up on its clock, and settle() cancels the timer', async () => {
    const source = { isLoaded: () => false, current: () => undefined as never, pending: () => undefined };
    const clock = new FakeClock();
    const keyring = new AuditKeyring(source, { clock, settleTimeoutMs: TEN_MINUTES });
    const ready = keyring.ready();
    expect(ready).toBeInstanceOf(Promise);
    clock.advance(TEN_MINUTES - 1);
    expect(await settled(ready as Promise<void>)).toBe(false);
    clock.advance(1);
    await ready;
    expect(keyring.ready()).toBeUndefined();

    const settledByHand = new AuditKeyring(source, { clock, settleTimeoutMs: TEN_MINUTES });
    expect(clock.delays()).toEqual([TEN_MINUTES]);
    settledByHand.settle();
    expect(clock.delays()).toEqual([]);
  });
});
