import { ErrorCode, UserFacingError } from '../errors.js';

/**
 * The audit record of an action with a side effect could not be stored before it ran, so it was not
 * run: audit fails closed. The user is told to try again, and whom to tell if it keeps happening.
 */
export class AuditUnavailableError extends UserFacingError {
  constructor(requestId: string, options?: { cause?: unknown }) {
    super(
      'opsbot cannot record this action in its audit trail right now, so it did not run it. Try again in ' +
        `a minute; if it keeps happening, tell an opsbot admin (request id ${requestId}).`,
      {
        code: ErrorCode.UpstreamUnavailable,
        ...(options?.cause === undefined ? {} : { cause: options.cause }),
      },
    );
  }
}

/** The store did not confirm an audit record within the time an action may wait for it. */
export class AuditWriteTimeoutError extends Error {
  constructor(ms: number) {
    super(
      `the audit record was not stored within ${ms} ms (is the state database locked or full? check /readyz)`,
    );
    this.name = 'AuditWriteTimeoutError';
  }
}

/**
 * The trail's last record is chained with the audit key, but this process has no key (the `audit`
 * secret is not loaded): opsbot does not chain records without the key after keyed ones, since
 * `--verify` reports those as a break. Appends are refused (audit fails closed) until the key loads.
 */
export class AuditKeyMissingError extends Error {
  constructor(keyVersion: string) {
    super(
      `the audit trail is chained with the audit key (its last record with version ${keyVersion}), but the audit secret is not loaded: opsbot does not chain records without the key after keyed ones. Restore the audit secret (README.md, "Audit trail"); records are stored again once it loads`,
    );
    this.name = 'AuditKeyMissingError';
  }
}
