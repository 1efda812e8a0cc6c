import type { SecretSpec } from '../credentials/secret-spec.js';
import type { Logger } from '../log.js';

/**
 * The endpoints the rotation function calls, read from the same variables as the server
 * (`OPSBOT_SLACK_API_URL`, `OPSBOT_GITHUB_API_URL`, `OPSBOT_JIRA_URL`, `OPSBOT_DATADOG_SITE`,
 * `OPSBOT_DATADOG_API_URL`); unset means the vendor's public API.
 */
export interface RotationEndpoints {
  slackApiUrl?: string;
  githubApiUrl?: string;
  jiraUrl?: string;
  datadogSite: string;
  datadogApiUrl?: string;
}

/** What a rotation step gets besides the values: which secret and version, where the vendors are. */
export interface RotationContext {
  /** The secret's short name (`datadog` for `<prefix>datadog`). */
  name: string;
  /** The version being made: Secrets Manager's `ClientRequestToken`. */
  token: string;
  /** True when `/opsbot rotate --emergency` (or a leak) started this rotation: retire the old value now. */
  emergency: boolean;
  endpoints: RotationEndpoints;
  log: Logger;
  now(): number;
  /**
   * Another secret's `AWSCURRENT`, parsed by its spec; undefined when it does not exist (the
   * `datadog-rotation` keys that may create and revoke Datadog keys). Never the bot's own secrets.
   */
  readSecret<T>(spec: SecretSpec<T>): Promise<T | undefined>;
}

/**
 * How one kind of secret is rotated (Secrets Manager's four steps), contributed by the module that
 * owns the secret (an integration's `rotation`, the audit trail's). Every method must be safe to
 * run again for the same `ctx.token`: Secrets Manager retries a step that failed or timed out.
 *
 * - createSecret: if `AWSPENDING` already holds `ctx.token`, nothing. Else, when
 *   {@link automatic} says so, `create(current)` makes the new value and it is stored as
 *   `AWSPENDING` under `ctx.token`; when not, the person must have put it there already, and the
 *   step fails with {@link RotationNeedsPersonError}, saying exactly what to put where.
 * - setSecret: `set(pending, current)` makes the vendor accept the new value (Datadog's webhook
 *   header); most kinds have nothing to do.
 * - testSecret: `test(pending)` proves the new value against the vendor (GitHub `GET /app`, Jira
 *   `myself`, Slack `auth.test`…); a failure leaves `AWSCURRENT` serving and says why
 *   ({@link RotationTestError}).
 * - finishSecret: `AWSCURRENT` moves to `ctx.token`; then `retire(previous, current)` revokes what
 *   the previous value holds at the vendor (old Datadog keys) when nothing uses it any more: at once
 *   when `ctx.emergency`, else the kind decides (e.g. the version before the previous one).
 */
export interface RotationKind<S = unknown> {
  spec: SecretSpec<S>;
  /** True when this value rotates with no person (the audit key; a Slack secret with a `refreshToken`). */
  automatic(current: S): boolean;
  /**
   * What a person makes when {@link automatic} is false, for {@link RotationNeedsPersonError}: "new
   * `<personMakes>`" (`GitHub App private key (or fine-grained token)`). Default: `<title> value`.
   */
  personMakes?: string;
  create?(current: S, ctx: RotationContext): Promise<S>;
  set?(pending: S, current: S, ctx: RotationContext): Promise<void>;
  test(pending: S, ctx: RotationContext): Promise<void>;
  retire?(previous: S, current: S, ctx: RotationContext): Promise<void>;
}

/** A person-made value with no `AWSPENDING` version to promote: what to put, where, then what to run. */
export class RotationNeedsPersonError extends Error {
  constructor(secretName: string, what: string) {
    super(
      `${secretName} is rotated by a person: put the new ${what} as its AWSPENDING version (aws secretsmanager put-secret-value --secret-id ${secretName} --version-stages AWSPENDING --secret-string file://new.json), then run /opsbot rotate again`,
    );
    this.name = 'RotationNeedsPersonError';
  }
}

/** testSecret refused the new value: why, in words an operator can act on (never the value). */
export class RotationTestError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RotationTestError';
  }
}
