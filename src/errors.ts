/**
 * Typed errors. Only a {@link UserFacingError}'s text may reach Slack; it says what to do next.
 * Everything else is internal: logged (redacted) with a request id, and the user sees a short
 * apology carrying that id. Wrap with `cause` so the chain survives into the log.
 */

export const ErrorCode = {
  ConfigInvalid: 'opsbot_config_invalid',
  UserInput: 'opsbot_user_input',
  AccessDenied: 'opsbot_access_denied',
  NotConfigured: 'opsbot_not_configured',
  CredentialRejected: 'opsbot_credential_rejected',
  CredentialUnavailable: 'opsbot_credential_unavailable',
  SecretInvalid: 'opsbot_secret_invalid',
  UpstreamUnavailable: 'opsbot_upstream_unavailable',
  RateLimited: 'opsbot_rate_limited',
  Internal: 'opsbot_internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface CodedError extends Error {
  readonly code: ErrorCode;
}

/** Base class of every error opsbot raises on purpose. */
export abstract class OpsbotError extends Error implements CodedError {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An error whose message is safe to show in Slack and tells the user what to do next.
 *
 * @example
 * throw new UserFacingError('`acme/web#x` is not a pull request. Try `/gh pr acme/web#42`.');
 */
export class UserFacingError extends OpsbotError {
  readonly code: ErrorCode;

  constructor(message: string, options?: { code?: ErrorCode; cause?: unknown }) {
    super(message, options);
    this.code = options?.code ?? ErrorCode.UserInput;
  }
}

/** Configuration could not be loaded; `problems` lists every one of them, one line each. */
export class ConfigError extends OpsbotError {
  readonly code = ErrorCode.ConfigInvalid;
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super(formatProblems(problems), options);
    this.problems = problems;
  }
}

function formatProblems(problems: readonly string[]): string {
  const noun = problems.length === 1 ? 'problem' : 'problems';
  return [
    `opsbot cannot start: ${problems.length} configuration ${noun}:`,
    ...problems.map((p) => `  - ${p}`),
  ].join('\n');
}

/** Something inside opsbot failed; never shown to users verbatim. */
export class InternalError extends OpsbotError {
  readonly code = ErrorCode.Internal;
}

/** The text a Slack user may see for any error: the message of a UserFacingError, else an apology. */
export function userMessageFor(error: unknown, requestId: string): string {
  if (error instanceof UserFacingError) return error.message;
  return `Sorry, something went wrong on our side. If it keeps happening, give your admin this id: ${requestId}`;
}
