/**
 * The store's errors, the same for every implementation: callers retry or answer 503 on these, and
 * each implementation says in the message what was busy (a locked SQLite file, a throttled table).
 */

/** The store could not do the operation in time (locked, throttled, contended); it was not done. */
export class StateBusyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`${message}; the operation was not done`, options);
    this.name = 'StateBusyError';
  }
}

/** The store was closed (opsbot is stopping); the operation was not done. */
export class StateClosedError extends Error {
  constructor(what = 'the state store') {
    super(`${what} is closed (opsbot is stopping); the operation was not done`);
    this.name = 'StateClosedError';
  }
}
