/**
 * Why a request was cut short by the listener rather than by its handler. A handler that awaits
 * `readBody` lets these propagate: the server answers them (`503` with `Retry-After`, `408`) and
 * closes the connection, and logs them as the client's doing, not as a handler failure.
 */
export type RefusalReason =
  /** Buffering this body would go over the listener's budget for bodies in memory. */
  | 'body_budget'
  /** This body was stalled and dropped to make room for others. */
  | 'evicted'
  /** The body did not arrive in full in time. */
  | 'body_timeout';

/** The listener refused to go on reading a request; answer `status` and close. */
export class RequestRefusedError extends Error {
  readonly status: 408 | 503;
  readonly reason: RefusalReason;
  /** For a 503: seconds the client should wait before trying again. */
  readonly retryAfterSeconds: number | undefined;

  constructor(reason: RefusalReason, retryAfterSeconds?: number) {
    super(
      reason === 'body_timeout'
        ? 'the request body did not arrive in time'
        : 'no room to buffer the request body right now',
    );
    this.name = 'RequestRefusedError';
    this.reason = reason;
    this.status = reason === 'body_timeout' ? 408 : 503;
    this.retryAfterSeconds = this.status === 503 ? retryAfterSeconds : undefined;
  }
}

/** The client closed the connection before its body arrived in full: there is no one to answer. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection before its request body arrived in full');
    this.name = 'ClientGoneError';
  }
}
