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
