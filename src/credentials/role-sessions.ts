import {
  AssumeRoleCommand,
  type AssumeRoleCommandOutput,
  STSClient,
  type STSClientConfig,
} from '@aws-sdk/client-sts';
import type { Clock } from '../clock.js';
import { ErrorCode, InternalError, UserFacingError } from '../errors.js';
import type { Logger } from '../log.js';

/** Temporary AWS credentials minted by STS for one Slack user. */
export interface AwsSessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** An assumed-role session acting as one Slack user; CloudTrail names them via `sourceIdentity`. */
export interface RoleSession {
  userId: string;
  roleArn: string;
  sourceIdentity: string;
  sessionName: string;
  credentials: AwsSessionCredentials;
}

export interface RoleSessionsOptions {
  /** The dev-env role, `arn:aws:iam::<12 digits>:role/<name>` (any partition). */
  roleArn: string;
  /** AWS_REGION; ECS sets it. */
  region?: string;
  /**
   * AWS SDK client config overrides (tests: `{ endpoint, credentials }`). In production leave it
   * out: the SDK's default credential chain finds the ECS task role.
   */
  clientConfig?: STSClientConfig;
  clock: Clock;
  log: Logger;
  /** Called with every minted secret value (secretAccessKey, sessionToken) so the log redactor masks it. */
  onSecret?: (value: string) => void;
  /**
   * Called with each value passed to `onSecret` once its credentials have expired (plus a minute),
   * so a redactor may stop masking values that are useless by then. Never called before expiry.
   */
  onRetire?: (value: string) => void;
  /** Default 900 (the STS minimum), range 900..3600 (role chaining caps sessions at one hour). */
  durationSeconds?: number;
  /** Re-assume this long before expiration; default 120_000 ms. */
  refreshMarginMs?: number;
  /** Max users cached at once (least recently used are dropped first); default 1000. */
  maxSessions?: number;
}

export type RoleSessionErrorKind = 'access_denied' | 'opsbot_credentials' | 'invalid' | 'transient';

/**
 * AWS would not give opsbot a session for this Slack user. The message is safe for Slack and says
 * what to do next; the SDK error is kept as `cause` for the log.
 */
export class RoleSessionError extends UserFacingError {
  readonly kind: RoleSessionErrorKind;
  readonly roleArn: string;
  readonly userId: string;

  constructor(
    kind: RoleSessionErrorKind,
    roleArn: string,
    userId: string,
    options?: { cause?: unknown; awsError?: string },
  ) {
    super(`opsbot could not act as you in AWS: ${advice(kind, roleArn, options?.awsError)}`, {
      code: CODES[kind],
      cause: options?.cause,
    });
    this.kind = kind;
    this.roleArn = roleArn;
    this.userId = userId;
  }
}

const CODES: Record<RoleSessionErrorKind, ErrorCode> = {
  access_denied: ErrorCode.CredentialRejected,
  opsbot_credentials: ErrorCode.CredentialUnavailable,
  invalid: ErrorCode.NotConfigured,
  transient: ErrorCode.UpstreamUnavailable,
};

function advice(kind: RoleSessionErrorKind, roleArn: string, awsError: string | undefined): string {
  const what = awsError ? ` (${awsError})` : '';
  switch (kind) {
    case 'access_denied':
      return (
        `the role ${roleArn} does not trust opsbot's task role (sts:AssumeRole, sts:SetSourceIdentity ` +
        `and sts:TagSession)${what}. Ask an opsbot admin to check the dev-env role's trust policy.`
      );
    case 'opsbot_credentials':
      return (
        `opsbot's own AWS credentials are missing or were rejected${what}. ` +
        'Ask an opsbot admin to check the task role opsbot runs under.'
      );
    case 'invalid':
      return (
        `AWS STS refused to let opsbot assume ${roleArn}${what}. ` +
        "Ask an opsbot admin to check the dev-env role (its maximum session duration, and opsbot's role settings)."
      );
    case 'transient':
      return 'AWS STS is not answering right now; try again in a minute.';
  }
}

/** IAM role ARN: any partition, a 12-digit account, an optional path, a role name of IAM's characters. */
const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/(?:[\u0021-\u007e]+\/)?[\w+=,.@-]{1,64}$/;
/** A Slack user id. Checked before STS is called: arbitrary text never reaches AWS. */
const SLACK_USER_ID = /^[UW][A-Z0-9]{2,20}$/;
/** What STS allows in RoleSessionName and SourceIdentity. */
const STS_NAME = /^[\w+=,.@-]{2,64}$/;

const DEFAULT_DURATION_SECONDS = 900;
const MIN_DURATION_SECONDS = 900;
/** Role chaining (the ECS task role assuming the dev-env role) caps sessions at one hour. */
const MAX_DURATION_SECONDS = 3_600;
const DEFAULT_REFRESH_MARGIN_MS = 120_000;
const DEFAULT_MAX_SESSIONS = 1_000;
/** Each AssumeRole call, retries included, is abandoned after this long (on the injected clock). */
const ASSUME_ROLE_DEADLINE_MS = 5_000;
/** A connection that does not open in this long fails the attempt (real time: the SDK's own timer). */
const CONNECTION_TIMEOUT_MS = 1_000;
/** Retired secret values stay masked this long past expiry. */
const RETIRE_GRACE_MS = 60_000;
/** A Slack team (workspace) id. */
const SLACK_TEAM_ID = /^[TE][A-Z0-9]{2,20}$/;

/** Who a session is for, beyond the user: session tags for ABAC in the role's policy. */
export interface SessionContext {
  /** The Slack team: `SourceIdentity` becomes `slack.<team>.<user>`, tag `slack-team`. */
  teamId?: string;
  /** The opsbot action (`devenv:up`): tag `opsbot-action`. Sessions are cached per action. */
  action?: string;
  /** Who approved the request (a Slack user id): tag `opsbot-approved-by`. Cached per approver. */
  approvedBy?: string;
}

interface SessionSpec {
  key: string;
  userId: string;
  sourceIdentity: string;
  sessionName: string;
  tags: Array<{ Key: string; Value: string }>;
}

/** A session tag value: STS allows letters, digits, spaces and `_.:/=+-@`, up to 256 characters. */
function stsTagValue(value: string): string {
  return value.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '-').slice(0, 256);
}

interface Cached {
  session: RoleSession;
  /** When forUser stops returning it (clock ms). */
  refreshAt: number;
}

/**
 * Per-Slack-user AWS sessions: AssumeRole on the dev-env role with SourceIdentity = the Slack user
 * id, so CloudTrail names the person behind every call. Sessions are cached until shortly before
 * they expire; concurrent callers for one user share one AssumeRole call.
 *
 * @example
 * const sessions = new RoleSessions({ roleArn, region, clock: systemClock, log, onSecret: (v) => redactor.register(v) });
 * const { credentials } = await sessions.forUser(command.user_id);
 * const ec2 = new EC2Client({ region, credentials });
 */
export class RoleSessions {
  readonly #roleArn: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #onSecret: ((value: string) => void) | undefined;
  readonly #onRetire: ((value: string) => void) | undefined;
  readonly #durationSeconds: number;
  readonly #refreshMarginMs: number;
  readonly #maxSessions: number;
  readonly #client: STSClient;
  /** Insertion order is recency order: the first key is the least recently used. */
  readonly #cache = new Map<string, Cached>();
  readonly #pending = new Map<string, { id: number; promise: Promise<RoleSession> }>();
  #nextCallId = 1;
  readonly #inFlight = new Set<AbortController>();
  readonly #retireTimers = new Set<() => void>();
  #assumeCalls = 0;
  #closed = false;

  constructor(options: RoleSessionsOptions) {
    if (typeof options.roleArn !== 'string' || !ROLE_ARN.test(options.roleArn)) {
      throw new RangeError(
        `RoleSessions: roleArn must be an IAM role ARN like arn:aws:iam::123456789012:role/opsbot-dev-env, got ${JSON.stringify(options.roleArn)}`,
      );
    }
    const duration = options.durationSeconds ?? DEFAULT_DURATION_SECONDS;
    if (!Number.isInteger(duration) || duration < MIN_DURATION_SECONDS || duration > MAX_DURATION_SECONDS) {
      throw new RangeError(
        `RoleSessions: durationSeconds must be a whole number from ${MIN_DURATION_SECONDS} to ${MAX_DURATION_SECONDS}, got ${duration}`,
      );
    }
    const margin = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    if (!Number.isFinite(margin) || margin < 0 || margin >= duration * 1_000) {
      throw new RangeError(
        `RoleSessions: refreshMarginMs must be at least 0 and less than the session duration (${duration * 1_000} ms), got ${margin}`,
      );
    }
    const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (!Number.isInteger(maxSessions) || maxSessions < 1) {
      throw new RangeError(
        `RoleSessions: maxSessions must be a whole number of at least 1, got ${maxSessions}`,
      );
    }
    this.#roleArn = options.roleArn;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#onSecret = options.onSecret;
    this.#onRetire = options.onRetire;
    this.#durationSeconds = duration;
    this.#refreshMarginMs = margin;
    this.#maxSessions = maxSessions;
    this.#client = new STSClient({
      ...(options.region ? { region: options.region } : {}),
      maxAttempts: 2,
      requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS },
      ...options.clientConfig,
    });
  }

  /** Count of AssumeRole calls made (for tests/metrics). */
  get assumeCalls(): number {
    return this.#assumeCalls;
  }

  /**
   * The session for this Slack user: cached until `refreshMarginMs` before expiry; concurrent
   * callers for the same user share one AssumeRole call (single-flight).
   *
   * @throws RangeError when `userId` is not a Slack user id (STS is not called).
   * @throws RoleSessionError when AWS refuses or does not answer.
   */
  forUser(userId: string, context: SessionContext = {}): Promise<RoleSession> {
    if (typeof userId !== 'string' || !SLACK_USER_ID.test(userId)) {
      return Promise.reject(
        new RangeError(`RoleSessions: ${JSON.stringify(String(userId).slice(0, 40))} is not a Slack user id`),
      );
    }
    const team = context.teamId && SLACK_TEAM_ID.test(context.teamId) ? context.teamId : undefined;
    const action = context.action ? stsTagValue(context.action) : undefined;
    const approver =
      context.approvedBy && SLACK_USER_ID.test(context.approvedBy) ? context.approvedBy : undefined;
    const tags = [
      { Key: 'slack-user', Value: userId },
      ...(team ? [{ Key: 'slack-team', Value: team }] : []),
      ...(action ? [{ Key: 'opsbot-action', Value: action }] : []),
      ...(approver ? [{ Key: 'opsbot-approved-by', Value: approver }] : []),
    ];
    return this.#session({
      key: `${userId}|${team ?? ''}|${action ?? ''}|${approver ?? ''}`,
      userId,
      sourceIdentity: team ? `slack.${team}.${userId}` : `slack.${userId}`,
      sessionName: `opsbot-${userId}`,
      tags,
    });
  }

  /**
   * A session for opsbot's own work (the dev-env reaper): `SourceIdentity` `opsbot.<name>`, so
   * CloudTrail tells it apart from people.
   */
  forService(name: string): Promise<RoleSession> {
    if (!/^[a-z][a-z0-9-]{1,30}$/.test(name))
      return Promise.reject(new RangeError(`RoleSessions: ${JSON.stringify(name)} is not a service name`));
    return this.#session({
      key: `service:${name}`,
      userId: `opsbot.${name}`,
      sourceIdentity: `opsbot.${name}`,
      sessionName: `opsbot-${name}`,
      tags: [{ Key: 'opsbot-action', Value: name }],
    });
  }

  #session(spec: SessionSpec): Promise<RoleSession> {
    if (this.#closed) return Promise.reject(new InternalError('RoleSessions is closed'));
    const { key } = spec;
    const cached = this.#cache.get(key);
    if (cached) {
      if (this.#clock.now() < cached.refreshAt) {
        this.#cache.delete(key);
        this.#cache.set(key, cached);
        return Promise.resolve(cached.session);
      }
      this.#cache.delete(key);
    }
    const pending = this.#pending.get(key);
    if (pending) return pending.promise;
    const id = this.#nextCallId++;
    const promise = this.#assume(spec, id).finally(() => {
      if (this.#pending.get(key)?.id === id) this.#pending.delete(key);
    });
    this.#pending.set(key, { id, promise });
    return promise;
  }

  /** Drops a user's cached session (after AWS rejected it). The next forUser assumes the role afresh. */
  forget(userId: string): void {
    const mine = (key: string) =>
      key.startsWith(`${userId}|`) || key === `service:${userId.replace(/^opsbot\./, '')}`;
    for (const key of [...this.#cache.keys()]) if (mine(key)) this.#cache.delete(key);
    // A call already under way may have been issued before the rejection: do not hand it out.
    for (const key of [...this.#pending.keys()]) if (mine(key)) this.#pending.delete(key);
  }

  /** Destroys the STS client and abandons calls under way. Retired values stay masked. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const controller of this.#inFlight) controller.abort();
    for (const cancel of this.#retireTimers) cancel();
    this.#retireTimers.clear();
    this.#cache.clear();
    this.#pending.clear();
    this.#client.destroy();
  }

  async #assume(spec: SessionSpec, callId: number): Promise<RoleSession> {
    const { userId, sessionName, sourceIdentity } = spec;
    if (!STS_NAME.test(sessionName) || !STS_NAME.test(sourceIdentity)) {
      // Unreachable with the ids checked as they are; guards a future loosening of those checks.
      throw new RangeError(`RoleSessions: ${JSON.stringify(userId)} cannot name an STS session`);
    }
    const controller = new AbortController();
    this.#inFlight.add(controller);
    const cancelDeadline = this.#clock.schedule(() => controller.abort(), ASSUME_ROLE_DEADLINE_MS);
    const requestedAt = this.#clock.now();
    this.#assumeCalls += 1;
    let out: AssumeRoleCommandOutput;
    try {
      out = await this.#client.send(
        new AssumeRoleCommand({
          RoleArn: this.#roleArn,
          RoleSessionName: sessionName,
          SourceIdentity: sourceIdentity,
          DurationSeconds: this.#durationSeconds,
          Tags: spec.tags,
        }),
        { abortSignal: controller.signal },
      );
    } catch (error) {
      const failure = toRoleSessionError(this.#roleArn, userId, error, controller.signal.aborted);
      this.#log.warn(
        { userId, roleArn: this.#roleArn, kind: failure.kind, aws: describeSdkError(error) },
        'AssumeRole for a Slack user failed',
      );
      throw failure;
    } finally {
      cancelDeadline();
      this.#inFlight.delete(controller);
    }

    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !(c.Expiration instanceof Date)) {
      throw new RoleSessionError('invalid', this.#roleArn, userId, {
        awsError: 'no credentials in the answer',
      });
    }
    // Masked before anything else can see them.
    this.#onSecret?.(c.SecretAccessKey);
    this.#onSecret?.(c.SessionToken);

    const session: RoleSession = {
      userId,
      roleArn: this.#roleArn,
      sourceIdentity,
      sessionName,
      credentials: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration,
      },
    };
    const expiresAt = c.Expiration.getTime();
    const lifetimeMs = this.#durationSeconds * 1_000;
    // The earlier of STS's expiration and our own reckoning: a local clock behind AWS's must not
    // keep handing out a session AWS already considers expired.
    const refreshAt = Math.min(expiresAt, requestedAt + lifetimeMs) - this.#refreshMarginMs;
    this.#scheduleRetire([c.SecretAccessKey, c.SessionToken], Math.max(expiresAt, requestedAt + lifetimeMs));

    this.#log.info(
      { userId, roleArn: this.#roleArn, sessionName, expiration: c.Expiration.toISOString() },
      'assumed the dev-env role for a Slack user',
    );
    // Cached only if forget() or close() has not disowned this call meanwhile.
    if (!this.#closed && this.#pending.get(spec.key)?.id === callId)
      this.#store(spec.key, { session, refreshAt });
    return session;
  }

  #store(key: string, entry: Cached): void {
    this.#cache.delete(key);
    this.#cache.set(key, entry);
    while (this.#cache.size > this.#maxSessions) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
  }

  #scheduleRetire(values: string[], expiresAt: number): void {
    const onRetire = this.#onRetire;
    if (!onRetire) return;
    const cancel = this.#clock.schedule(
      () => {
        this.#retireTimers.delete(cancel);
        for (const value of values) onRetire(value);
      },
      expiresAt + RETIRE_GRACE_MS - this.#clock.now(),
    );
    this.#retireTimers.add(cancel);
  }
}

interface SdkErrorLike {
  name?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException']);
const OPSBOT_CREDENTIALS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
]);
const TRANSIENT = new Set([
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'IDPCommunicationError',
  'InternalFailure',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
  'AbortError',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Name, code, HTTP status and request id: enough for the log, and never a credential. */
function describeSdkError(error: unknown): Record<string, unknown> {
  const e = (error ?? {}) as SdkErrorLike;
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    ...(e.code ? { code: e.code } : {}),
    ...(e.$metadata?.httpStatusCode ? { status: e.$metadata.httpStatusCode } : {}),
    ...(e.$metadata?.requestId ? { requestId: e.$metadata.requestId } : {}),
  };
}

function toRoleSessionError(
  roleArn: string,
  userId: string,
  error: unknown,
  aborted: boolean,
): RoleSessionError {
  const e = (error ?? {}) as SdkErrorLike;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const status = e.$metadata?.httpStatusCode;
  const requestId = e.$metadata?.requestId ? `, request id ${e.$metadata.requestId}` : '';
  const awsError = status ? `${name}, HTTP ${status}${requestId}` : undefined;
  return new RoleSessionError(classify(name, e.code, status, e.$fault, aborted), roleArn, userId, {
    cause: error,
    ...(awsError ? { awsError } : {}),
  });
}

function classify(
  name: string,
  code: string | undefined,
  status: number | undefined,
  fault: string | undefined,
  aborted: boolean,
): RoleSessionErrorKind {
  if (aborted) return 'transient';
  if (ACCESS_DENIED.has(name)) return 'access_denied';
  if (OPSBOT_CREDENTIALS.has(name)) return 'opsbot_credentials';
  if (TRANSIENT.has(name) || status === 429 || (status !== undefined && status >= 500)) return 'transient';
  if (code && NETWORK_CODES.has(code)) return 'transient';
  if (fault === 'server') return 'transient';
  if (status === 403) return 'access_denied';
  if (status === 401) return 'opsbot_credentials';
  if (status !== undefined && status >= 400) return 'invalid';
  // No HTTP status at all: the request never got an answer (socket errors, timeouts).
  return 'transient';
}
