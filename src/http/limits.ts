/**
 * What opsbot's HTTP listener holds for clients it has not yet authenticated, at most. Every route
 * is public (Slack and Datadog call in from the internet), so a client that connects and sends
 * slowly, or sends much, must cost a bounded amount of memory however many of them there are.
 *
 * Worst case with the defaults: 1,024 connections (about 13 KiB each with a request pending, so
 * ~14 MB) plus 16 MiB of buffered bodies, plus what Node itself keeps per socket (16 KiB headers,
 * a 16 KiB stream buffer for a body nobody reads yet): well under 100 MB above the idle process.
 */
export interface HttpLimits {
  /**
   * Open connections at most. Beyond it a new connection is answered `503` with `Retry-After` and
   * closed, unless a stalled one (see {@link stalledAfterMs}) can be closed to make room.
   */
  maxConnections: number;
  /**
   * Bytes of request bodies held in memory across all requests at once (each route also caps its
   * own bodies). Beyond it the unfinished body that began longest ago is dropped to make room, if
   * it began before this one; otherwise this request is answered `503` with `Retry-After`.
   */
  maxBufferedBodyBytes: number;
  /** A request's headers must have arrived within this long of the connection opening (or going idle). */
  headersTimeoutMs: number;
  /** A body must have arrived in full within this long of its handler starting to read it; else `408`. */
  bodyTimeoutMs: number;
  /**
   * With connections at their limit, a connection that has waited this long for a request's
   * headers, or been this long receiving a body, is closed (oldest first) to let a new one in.
   * Slack and Datadog send a request in one go, within milliseconds; only slow or malicious clients
   * stall.
   */
  stalledAfterMs: number;
  /** The `Retry-After` (seconds) of a `503` for lack of room. */
  retryAfterSeconds: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: 1_024,
  maxBufferedBodyBytes: 16 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
  stalledAfterMs: 1_000,
  retryAfterSeconds: 2,
};

/** The defaults with `overrides` applied; throws a RangeError for a limit that is not a positive number. */
export function resolveLimits(overrides: Partial<HttpLimits> = {}): HttpLimits {
  const limits = { ...DEFAULT_HTTP_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
      throw new RangeError(`HTTP limit ${name} must be a positive number, not ${String(value)}`);
  }
  return limits;
}
