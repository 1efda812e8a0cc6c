import { describe, expect, it } from 'vitest';
import { abortable, deadlineSignal, finishedWithin, waitAtMost, within } from '../../../src/time/deadline.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** A promise settled from outside, and whether it has settled yet (for "still waiting" checks). */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Whether `promise` has settled once every queued microtask and pending I/O callback has run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

class LateError extends Error {}

describe('finishedWithin', () => {
  it('is true as soon as the work resolves, and cancels its timer', async () => {
    const clock = new FakeClock();
    const work = deferred<string>();
    const finished = finishedWithin(clock, work.promise, 5_000);
    expect(clock.delays()).toEqual([5_000]);
    clock.advance(4_999);
    expect(await settled(finished)).toBe(false);
    work.resolve('done');
    expect(await finished).toBe(true);
    expect(clock.delays()).toEqual([]);
  });

  it('is true when the work rejects: it finished, and the rejection is not thrown', async () => {
    const clock = new FakeClock();
    const work = deferred<void>();
    const finished = finishedWithin(clock, work.promise, 1_000);
    work.reject(new Error('the batch failed'));
    expect(await finished).toBe(true);
    expect(clock.delays()).toEqual([]);
  });

  it('is false once the time is up on the clock, and a late end changes nothing', async () => {
    const clock = new FakeClock();
    const work = deferred<void>();
    const finished = finishedWithin(clock, work.promise, 2_000);
    clock.advance(2_000);
    expect(await finished).toBe(false);
    work.reject(new Error('too late'));
    expect(await settled(work.promise)).toBe(true);
  });

  it('with no time left (a deadline already passed) answers false at the next clock step', async () => {
    const clock = new FakeClock();
    const finished = finishedWithin(clock, new Promise(() => {}), -50);
    expect(clock.delays()).toEqual([0]);
    clock.advance(0);
    expect(await finished).toBe(false);
  });
});

describe('within', () => {
  it("is the work's value when it answers in time, and cancels its timer", async () => {
    const clock = new FakeClock();
    const work = deferred<number>();
    const answer = within(clock, work.promise, 3_000, () => new LateError('late'));
    clock.advance(2_999);
    work.resolve(42);
    await expect(answer).resolves.toBe(42);
    expect(clock.delays()).toEqual([]);
  });

  it("rejects with the work's own error when it fails in time", async () => {
    const clock = new FakeClock();
    const failure = new Error('the store refused');
    const answer = within(clock, Promise.reject(failure), 3_000, () => new LateError('late'));
    await expect(answer).rejects.toBe(failure);
    expect(clock.delays()).toEqual([]);
  });

  it('rejects with late() once the time is up, and only then builds the error', async () => {
    const clock = new FakeClock();
    let built = 0;
    const answer = within(clock, new Promise<never>(() => {}), 3_000, () => {
      built++;
      return new LateError('no answer within 3 s');
    });
    expect(built).toBe(0);
    clock.advance(3_000);
    await expect(answer).rejects.toThrow(LateError);
    expect(built).toBe(1);
  });

  it('a work that fails after its deadline is no unhandled rejection', async () => {
    const clock = new FakeClock();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const work = deferred<void>();
      const answer = within(clock, work.promise, 100, () => new LateError('late'));
      clock.advance(100);
      await expect(answer).rejects.toThrow(LateError);
      work.reject(new Error('failed after the deadline'));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('waitAtMost', () => {
  it('resolves when the work settles, either way, or when the time is up; never rejects', async () => {
    const clock = new FakeClock();
    await expect(waitAtMost(clock, Promise.reject(new Error('x')), 1_000)).resolves.toBeUndefined();
    expect(clock.delays()).toEqual([]);
    const waiting = waitAtMost(clock, new Promise(() => {}), 1_000);
    clock.advance(999);
    expect(await settled(waiting)).toBe(false);
    clock.advance(1);
    expect(await settled(waiting)).toBe(true);
  });
});

describe('deadlineSignal', () => {
  const reason = () => new LateError('no answer within 2.5 s');

  it('aborts after ms on the clock, counted from the end of the current synchronous turn', async () => {
    const clock = new FakeClock();
    const deadline = deadlineSignal(clock, 2_500, new AbortController().signal, reason);
    // Armed at the end of this turn: a clock step taken now does not count against it.
    clock.advance(10_000);
    expect(deadline.signal.aborted).toBe(false);
    await Promise.resolve();
    expect(clock.delays()).toEqual([2_500]);
    clock.advance(2_499);
    expect(deadline.signal.aborted).toBe(false);
    clock.advance(1);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.signal.reason).toBeInstanceOf(LateError);
  });

  it("aborts with the parent's reason as soon as the parent does", async () => {
    const clock = new FakeClock();
    const parent = new AbortController();
    const deadline = deadlineSignal(clock, 2_500, parent.signal, reason);
    await Promise.resolve();
    const stopping = new Error('stopping');
    parent.abort(stopping);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.signal.reason).toBe(stopping);
  });

  it('is aborted at once under a parent that already is, and arms no timer', async () => {
    const clock = new FakeClock();
    const parent = new AbortController();
    parent.abort(new Error('stopped'));
    const deadline = deadlineSignal(clock, 2_500, parent.signal, reason);
    expect(deadline.signal.aborted).toBe(true);
    await Promise.resolve();
    expect(clock.delays()).toEqual([]);
    deadline.cancel();
  });

  it('cancel() stops the timer and detaches from the parent, before or after the timer is armed', async () => {
    const clock = new FakeClock();
    const parent = new AbortController();
    const early = deadlineSignal(clock, 2_500, parent.signal, reason);
    early.cancel();
    const late = deadlineSignal(clock, 2_500, parent.signal, reason);
    await Promise.resolve();
    late.cancel();
    expect(clock.delays()).toEqual([]);
    clock.advance(10_000);
    parent.abort(new Error('stopping'));
    expect(early.signal.aborted).toBe(false);
    expect(late.signal.aborted).toBe(false);
  });

  it('with abortable: the caller never waits past the deadline on work that ignores the signal', async () => {
    const clock = new FakeClock();
    const deadline = deadlineSignal(clock, 2_500, new AbortController().signal, reason);
    const answer = abortable(new Promise<never>(() => {}), deadline.signal);
    await Promise.resolve();
    clock.advance(2_500);
    await expect(answer).rejects.toThrow(LateError);
    deadline.cancel();
  });
});
