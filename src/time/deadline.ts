import type { Clock } from '../clock.js';

export interface Deadline {
  /** Aborts when the parent does, or when the time is up (with the reason given). */
  signal: AbortSignal;
  /** Stops the timer and detaches from the parent; call it once the work is over. */
  cancel(): void;
}

/**
 * An AbortSignal that fires after `ms` on `clock` (so tests step it with a fake clock, which
 * `AbortSignal.timeout` cannot do) or as soon as `parent` fires, whichever comes first.
 *
 * The timer is armed at the end of the current synchronous turn: work started by a timer while a
 * fake clock is being stepped (`clock.advance(5_000)` running a poll) gets its full time from where
 * that step ends, instead of expiring within the same step before its I/O could even start. With
 * the system clock the difference is one microtask.
 *
 * @example
 * const deadline = deadlineSignal(clock, 2_500, stopSignal, () => new Error('no answer within 2.5 s'));
 * try { return await abortable(source.describe(name, { signal: deadline.signal }), deadline.signal); }
 * finally { deadline.cancel(); }
 */
export function deadlineSignal(clock: Clock, ms: number, parent: AbortSignal, reason: () => Error): Deadline {
  const controller = new AbortController();
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, cancel: () => {} };
  }
  const onParentAbort = () => controller.abort(parent.reason);
  parent.addEventListener('abort', onParentAbort, { once: true });
  let cancelled = false;
  let cancelTimer = () => {};
  queueMicrotask(() => {
    if (cancelled || controller.signal.aborted) return;
    cancelTimer = clock.schedule(() => controller.abort(reason()), ms);
  });
  return {
    signal: controller.signal,
    cancel() {
      cancelled = true;
      cancelTimer();
      parent.removeEventListener('abort', onParentAbort);
    },
  };
}

/**
 * `work`, or a rejection with the signal's reason as soon as it aborts: the caller never waits past
 * its deadline, even on work that ignores the signal (a wedged socket, a buggy source).
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => {}); // settles later, unobserved
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Resolves when `work` settles or after `ms` on `clock`, whichever comes first; never rejects. */
export function waitAtMost(clock: Clock, work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const cancel = clock.schedule(resolve, ms);
    work.then(
      () => {
        cancel();
        resolve();
      },
      () => {
        cancel();
        resolve();
      },
    );
  });
}

/**
 * Whether `work` settled (resolved or rejected) within `ms` on `clock`; never rejects. For "let
 * what is running finish, but not past the deadline": draining requests, stopping a loop.
 *
 * @example
 * const drained = await finishedWithin(clock, Promise.allSettled(inFlight), 5_000);
 */
export function finishedWithin(clock: Clock, work: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const cancel = clock.schedule(() => resolve(false), ms);
    const settled = () => {
      cancel();
      resolve(true);
    };
    work.then(settled, settled);
  });
}

/**
 * `work`'s value, or a rejection with `late()` once `ms` pass on `clock` first. For work that must
 * answer in time or be treated as failed (an audit write an action waits on, a store's first read).
 * The work itself is not cancelled: pass it a {@link deadlineSignal} too when it can stop.
 *
 * @example
 * const record = await within(clock, audit.append(event), 2_000, () => new AuditWriteTimeoutError(2_000));
 */
export function within<T>(clock: Clock, work: Promise<T>, ms: number, late: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cancel = clock.schedule(() => {
      work.catch(() => {}); // settles later, unobserved
      reject(late());
    }, ms);
    work.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        cancel();
        reject(error);
      },
    );
  });
}

/** The period of the idle interval that keeps the process alive while a sleep asks it to. */
const KEEP_ALIVE_MS = 60_000;

/**
 * Resolves after `ms` on `clock`. The clock's timers never keep the process alive; with
 * `keepAlive` an idle interval does until the sleep ends: for work a caller awaits (a store waiting
 * out a backoff holds writes), so the process cannot exit with it unfinished.
 *
 * @example
 * await sleep(clock, fullJitterDelay(attempt, POLICY, random));
 */
export function sleep(clock: Clock, ms: number, options: { keepAlive?: boolean } = {}): Promise<void> {
  return new Promise<void>((resolve) => {
    const hold = options.keepAlive ? setInterval(() => {}, KEEP_ALIVE_MS) : undefined;
    clock.schedule(() => {
      if (hold) clearInterval(hold);
      resolve();
    }, ms);
  });
}
