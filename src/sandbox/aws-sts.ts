import { createHash, randomBytes } from 'node:crypto';
import {
  type AuthorizationProblem,
  AwsQueryError,
  type AwsService,
  FaultQueue,
  isoSeconds,
  leaf,
  node,
  pushBounded,
  type QueryAnswer,
  type QueryEndpoint,
  type QueryFault,
  type QueryParams,
  type QueryRequest,
  QueryServer,
  type RawRequest,
  type SigV4Authorization,
  signatureFormProblem,
  signatureMatches,
  XML_DECLARATION,
} from './aws-query.js';

export const STS_API_VERSION = '2011-06-15';
const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
export const DEFAULT_ACCOUNT_ID = '123456789012';

/** What STS allows in RoleSessionName and SourceIdentity. */
const STS_NAME = /^[\w+=,.@-]{2,64}$/;
const ROLE_ARN = /^arn:(aws[\w-]*):iam::(\d{12}):role\/((?:[\u0021-\u007e]+\/)?)([\w+=,.@-]{1,64})$/;
const MIN_DURATION = 900;
const MAX_TAGS = 50;
/** Bytes of session policy plus tags the packed form holds (PackedPolicySize is its percentage). */
const PACKED_CAPACITY = 2_048;

export interface StsOptions {
  /** The clock sessions expire by (milliseconds since the epoch). Default `Date.now`. */
  now?: () => number;
  /** The account of base credentials without an explicit ARN. Default `123456789012`. */
  accountId?: string;
  /** Live sessions kept (expired ones first, then the oldest, are dropped beyond it). Default 10,000. */
  maxSessions?: number;
  /** Entries kept in `assumeRoleCalls`. Default 10,000. */
  maxCalls?: number;
}

export interface RoleOptions {
  /** Who may assume it (by the caller's ARN); everyone by default. */
  trust?: (
    callerArn: string,
    request: { sessionName: string; sourceIdentity?: string; tags: StsTag[] },
  ) => boolean;
  /** The role's MaxSessionDuration, 3600..43200 seconds; default 3600. Role chaining caps it at 3600. */
  maxSessionDurationSeconds?: number;
}

export interface StsTag {
  key: string;
  value: string;
}

/** One AssumeRole call, granted or refused (once its signature was verified). */
export interface AssumeRoleCall {
  callerAccessKeyId: string;
  callerArn: string;
  roleArn: string;
  sessionName: string;
  sourceIdentity: string | undefined;
  tags: StsTag[];
  durationSeconds: number;
  /** When, on the injected clock. */
  at: number;
  /** The minted access key id (ASIA…), when granted. */
  accessKeyId?: string;
  /** The error code, when refused. */
  error?: string;
}

/** A session minted by AssumeRole. */
export interface StsSession {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Milliseconds since the epoch (whole seconds, as STS reports it). */
  expiresAt: number;
  roleArn: string;
  /** `arn:aws:sts::<account>:assumed-role/<role name>/<session name>` */
  arn: string;
  /** `AROA…:<session name>` */
  assumedRoleId: string;
  account: string;
  sessionName: string;
  sourceIdentity: string | undefined;
  tags: StsTag[];
  callerAccessKeyId: string;
  createdAt: number;
}

/** Who signed a request: base credentials (`addCredentials`) or a session STS minted. */
export type StsPrincipal =
  | { kind: 'base'; accessKeyId: string; arn: string; userId: string; account: string }
  | {
      kind: 'session';
      accessKeyId: string;
      arn: string;
      userId: string;
      account: string;
      session: StsSession;
    };

/** Why a request's credentials were refused; each service words it its own way. */
export type AuthFailure =
  | AuthorizationProblem
  | {
      problem: 'unknown-key' | 'bad-token' | 'signature' | 'scope' | 'expired';
      message: string;
      accessKeyId: string;
    };

interface BaseCredential {
  accessKeyId: string;
  secretAccessKey: string;
  arn: string;
  userId: string;
  account: string;
}

interface Role {
  arn: string;
  name: string;
  account: string;
  partition: string;
  roleId: string;
  trust: RoleOptions['trust'];
  maxSessionDurationSeconds: number;
}

const MAX_BASE_CREDENTIALS = 1_000;
const MAX_ROLES = 1_000;

/**
 * A simulated AWS STS (query protocol, API 2011-06-15) on 127.0.0.1: `AssumeRole` and
 * `GetCallerIdentity`, answered in STS's XML shapes. Every request must be SigV4-signed by a
 * known access key — base credentials from {@link addCredentials} (opsbot's task role) or a session
 * it minted — and the signature is verified for real (canonical request, HMAC chain), so a wrong
 * secret gets `SignatureDoesNotMatch`, an unknown key `InvalidClientTokenId`, and a session past
 * its Expiration on the injected clock `ExpiredToken`. The request time itself is not checked
 * against the clock: the SDK signs with real time while the sandbox's clock may run ahead.
 *
 * It is also the credential authority for the simulated EC2 ({@link authenticate}).
 *
 * @example
 * const sts = new SimulatedSts({ now: clock.now.bind(clock) });
 * const { url } = await sts.start();
 * sts.addCredentials('AKIDTASKROLE', 'task-secret');
 * sts.addRole('arn:aws:iam::123456789012:role/opsbot-dev-env');
 */
export class SimulatedSts implements QueryEndpoint {
  readonly service = 'sts' as const;
  readonly apiVersion = STS_API_VERSION;
  readonly accountId: string;
  /** Every AssumeRole whose signature checked out, oldest first (bounded by `maxCalls`). */
  readonly assumeRoleCalls: AssumeRoleCall[] = [];
  /** Calls received by action (refused ones included). */
  readonly callCounts: Record<string, number> = {};
  readonly #now: () => number;
  readonly #maxSessions: number;
  readonly #maxCalls: number;
  readonly #base = new Map<string, BaseCredential>();
  readonly #roles = new Map<string, Role>();
  readonly #sessions = new Map<string, StsSession>();
  readonly #faults = new FaultQueue();
  #server: QueryServer | undefined;

  constructor(options: StsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
    this.#maxSessions = options.maxSessions ?? 10_000;
    this.#maxCalls = options.maxCalls ?? 10_000;
  }

  /** The injected clock's time. */
  now(): number {
    return this.#now();
  }

  /** Serves STS alone (see `SimulatedAws` for STS and EC2 on one port). */
  async start(port = 0, host = '127.0.0.1'): Promise<{ url: string }> {
    this.#server ??= new QueryServer([this]);
    return this.#server.start(port, host);
  }

  async stop(): Promise<void> {
    await this.#server?.stop();
  }

  get url(): string {
    return this.#server?.url ?? '';
  }

  /**
   * Registers base (long-lived) credentials, e.g. the bot's task role. `arn` is who they are
   * (default `arn:aws:iam::<account>:user/opsbot`); GetCallerIdentity answers it.
   */
  addCredentials(
    accessKeyId: string,
    secretAccessKey: string,
    options: { arn?: string; userId?: string } = {},
  ): void {
    if (!/^[A-Z0-9]{4,128}$/.test(accessKeyId))
      throw new Error(`addCredentials: bad access key id ${accessKeyId}`);
    if (secretAccessKey.length === 0) throw new Error('addCredentials: empty secret');
    if (!this.#base.has(accessKeyId) && this.#base.size >= MAX_BASE_CREDENTIALS) {
      throw new Error(`addCredentials: at most ${MAX_BASE_CREDENTIALS} base credentials`);
    }
    const arn = options.arn ?? `arn:aws:iam::${this.accountId}:user/opsbot`;
    const account = /^arn:[\w-]+:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1] ?? this.accountId;
    const assumed = /:assumed-role\/[^/]+\/([^/]+)$/.exec(arn);
    const userId =
      options.userId ??
      (assumed
        ? `AROA${idChars(`role:${arn}`, 17)}:${assumed[1]}`
        : `AIDA${idChars(`user:${accessKeyId}`, 17)}`);
    this.#base.set(accessKeyId, { accessKeyId, secretAccessKey, arn, userId, account });
  }

  /** True for base credentials registered with {@link addCredentials}. */
  hasCredentials(accessKeyId: string): boolean {
    return this.#base.has(accessKeyId);
  }

  removeCredentials(accessKeyId: string): void {
    this.#base.delete(accessKeyId);
  }

  /** Registers a role AssumeRole may assume (`arn:aws:iam::<12 digits>:role/[path/]<name>`). */
  addRole(arn: string, options: RoleOptions = {}): void {
    const m = ROLE_ARN.exec(arn);
    if (!m) throw new Error(`addRole: not a role ARN: ${arn}`);
    if (!this.#roles.has(arn) && this.#roles.size >= MAX_ROLES)
      throw new Error(`addRole: at most ${MAX_ROLES} roles`);
    const max = options.maxSessionDurationSeconds ?? 3_600;
    if (!Number.isInteger(max) || max < 3_600 || max > 43_200) {
      throw new Error('addRole: maxSessionDurationSeconds must be 3600..43200');
    }
    this.#roles.set(arn, {
      arn,
      partition: m[1] as string,
      account: m[2] as string,
      name: m[4] as string,
      roleId: `AROA${idChars(`role:${arn}`, 17)}`,
      trust: options.trust,
      maxSessionDurationSeconds: max,
    });
  }

  removeRole(arn: string): void {
    this.#roles.delete(arn);
  }

  /** A minted session by its access key id (expired ones included until dropped). */
  session(accessKeyId: string): StsSession | undefined {
    const s = this.#sessions.get(accessKeyId);
    return s ? { ...s, tags: s.tags.map((t) => ({ ...t })) } : undefined;
  }

  /** Every minted session still held, oldest first. */
  sessions(): StsSession[] {
    return [...this.#sessions.values()].map((s) => ({ ...s, tags: s.tags.map((t) => ({ ...t })) }));
  }

  /** Revokes every session minted so far: their keys become unknown (`InvalidClientTokenId`). */
  revokeSessions(): void {
    this.#sessions.clear();
  }

  /** Fails (or delays) the next matching call(s), e.g. `{ action: 'AssumeRole', code: 'Throttling' }`. */
  failNext(fault: QueryFault): void {
    this.#faults.add(fault);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /**
   * Checks a request's SigV4 signature against the known credentials: the principal, or why not.
   * `service` is the service the request is for (its credential scope must name it).
   */
  authenticate(
    raw: RawRequest,
    auth: SigV4Authorization | AuthorizationProblem,
    service: AwsService,
  ): StsPrincipal | AuthFailure {
    if ('problem' in auth) return auth;
    const { accessKeyId } = auth;
    const base = this.#base.get(accessKeyId);
    const session = base ? undefined : this.#sessions.get(accessKeyId);
    if (!base && !session) {
      return {
        problem: 'unknown-key',
        message: 'The security token included in the request is invalid.',
        accessKeyId,
      };
    }
    const formProblem = signatureFormProblem(auth, service);
    if (formProblem) return { problem: 'scope', message: formProblem, accessKeyId };
    const secret = (base?.secretAccessKey ?? session?.secretAccessKey) as string;
    const tokenSigned = auth.signedHeaders.includes('x-amz-security-token');
    if (
      session ? auth.securityToken !== session.sessionToken || !tokenSigned : auth.securityToken !== undefined
    ) {
      return {
        problem: 'bad-token',
        message: 'The security token included in the request is invalid.',
        accessKeyId,
      };
    }
    if (!signatureMatches(raw, auth, secret)) {
      return {
        problem: 'signature',
        message:
          'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
        accessKeyId,
      };
    }
    if (session) {
      if (this.#now() >= session.expiresAt) {
        return {
          problem: 'expired',
          message: 'The security token included in the request is expired',
          accessKeyId,
        };
      }
      return {
        kind: 'session',
        accessKeyId,
        arn: session.arn,
        userId: session.assumedRoleId,
        account: session.account,
        session,
      };
    }
    const b = base as BaseCredential;
    return { kind: 'base', accessKeyId, arn: b.arn, userId: b.userId, account: b.account };
  }

  async answer(request: QueryRequest): Promise<QueryAnswer> {
    try {
      const action = request.action;
      if (!action) throw new AwsQueryError('MissingAction', 'Missing Action');
      if (action !== 'AssumeRole' && action !== 'GetCallerIdentity') {
        throw new AwsQueryError(
          'InvalidAction',
          `Could not find operation ${action.slice(0, 64)} for version ${STS_API_VERSION}`,
        );
      }
      this.callCounts[action] = (this.callCounts[action] ?? 0) + 1;
      const principal = this.authenticate(request.raw, request.auth, 'sts');
      if ('problem' in principal) throw stsAuthError(principal);
      const result =
        action === 'AssumeRole'
          ? await this.#assumeRole(principal, request.params)
          : await FaultQueue.apply(this.#faults.take(action)).then(() => callerIdentityXml(principal));
      return {
        status: 200,
        xml:
          `${XML_DECLARATION}<${action}Response xmlns="${STS_NS}">` +
          node(`${action}Result`, result) +
          node('ResponseMetadata', leaf('RequestId', request.requestId)) +
          `</${action}Response>`,
      };
    } catch (error) {
      const e =
        error instanceof AwsQueryError
          ? error
          : new AwsQueryError('InternalFailure', 'An internal error has occurred', 500);
      return { status: e.status, xml: this.errorXml(e, request.requestId) };
    }
  }

  errorXml(error: AwsQueryError, requestId: string): string {
    return (
      `${XML_DECLARATION}<ErrorResponse xmlns="${STS_NS}">` +
      node('Error', leaf('Type', error.type), leaf('Code', error.code), leaf('Message', error.message)) +
      leaf('RequestId', requestId) +
      '</ErrorResponse>'
    );
  }

  /** Records the call (faulted and refused ones too), then mints a session. */
  async #assumeRole(caller: StsPrincipal, params: QueryParams): Promise<string> {
    const roleArn = params.get('RoleArn');
    const sessionName = params.get('RoleSessionName');
    const durationText = params.get('DurationSeconds');
    const sourceIdentityParam = params.get('SourceIdentity');
    const tags = params
      .structs('Tags.member')
      .map((t) => ({ key: t.get('Key') ?? '', value: t.get('Value') ?? '' }));
    const durationSeconds = durationText === undefined ? 3_600 : Number(durationText);
    // Role chaining: a session's SourceIdentity carries over to the sessions it assumes.
    const sourceIdentity =
      sourceIdentityParam ?? (caller.kind === 'session' ? caller.session.sourceIdentity : undefined);
    const call: AssumeRoleCall = {
      callerAccessKeyId: caller.accessKeyId,
      callerArn: caller.arn,
      roleArn: roleArn ?? '',
      sessionName: sessionName ?? '',
      sourceIdentity,
      tags,
      durationSeconds,
      at: this.#now(),
    };
    try {
      await FaultQueue.apply(this.#faults.take('AssumeRole'));
      const session = this.#mint(caller, call, params.get('Policy'), sourceIdentityParam, durationText);
      call.accessKeyId = session.accessKeyId;
      return (
        (session.sourceIdentity !== undefined ? leaf('SourceIdentity', session.sourceIdentity) : '') +
        node('AssumedRoleUser', leaf('AssumedRoleId', session.assumedRoleId), leaf('Arn', session.arn)) +
        node(
          'Credentials',
          leaf('AccessKeyId', session.accessKeyId),
          leaf('SecretAccessKey', session.secretAccessKey),
          leaf('SessionToken', session.sessionToken),
          leaf('Expiration', isoSeconds(session.expiresAt)),
        ) +
        (tags.length > 0 || params.has('Policy')
          ? leaf('PackedPolicySize', packedPolicySize(tags, params.get('Policy')))
          : '')
      );
    } catch (error) {
      call.error = error instanceof AwsQueryError ? error.code : 'InternalFailure';
      throw error;
    } finally {
      pushBounded(this.assumeRoleCalls, call, this.#maxCalls);
    }
  }

  #mint(
    caller: StsPrincipal,
    call: AssumeRoleCall,
    policy: string | undefined,
    sourceIdentityParam: string | undefined,
    durationText: string | undefined,
  ): StsSession {
    const { roleArn, sessionName, tags, sourceIdentity } = call;
    if (!roleArn)
      throw validation(`Value null at 'roleArn' failed to satisfy constraint: Member must not be null`);
    if (roleArn.length < 20 || roleArn.length > 2_048) {
      throw validation(
        `Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20`,
      );
    }
    if (!sessionName) {
      throw validation(
        `Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null`,
      );
    }
    if (!STS_NAME.test(sessionName)) {
      throw validation(
        sessionName.length > 64 || sessionName.length < 2
          ? `Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must have length ${sessionName.length > 64 ? 'less than or equal to 64' : 'greater than or equal to 2'}`
          : `Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
      );
    }
    if (durationText !== undefined && !/^\d{1,6}$/.test(durationText)) {
      throw new AwsQueryError('MalformedInput', `Invalid value '${durationText}' for DurationSeconds`);
    }
    if (call.durationSeconds < MIN_DURATION) {
      throw validation(
        `Value '${call.durationSeconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to ${MIN_DURATION}`,
      );
    }
    if (call.durationSeconds > 43_200) {
      throw validation(
        `Value '${call.durationSeconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200`,
      );
    }
    if (sourceIdentityParam !== undefined) {
      if (!STS_NAME.test(sourceIdentityParam)) {
        throw validation(
          `Value '${sourceIdentityParam}' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length 2..64`,
        );
      }
      if (sourceIdentityParam.toLowerCase().startsWith('aws:')) {
        throw validation('SourceIdentity cannot begin with the prefix aws:');
      }
      if (
        caller.kind === 'session' &&
        caller.session.sourceIdentity !== undefined &&
        caller.session.sourceIdentity !== sourceIdentityParam
      ) {
        throw new AwsQueryError(
          'AccessDenied',
          `User: ${caller.arn} is not authorized to perform: sts:SetSourceIdentity on resource: ${roleArn}: the source identity of a chained session cannot change`,
          403,
        );
      }
    }
    if (tags.length > MAX_TAGS) {
      throw validation(
        `Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TAGS}`,
      );
    }
    const seen = new Set<string>();
    for (const tag of tags) {
      if (tag.key.length < 1 || tag.key.length > 128 || !/^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u.test(tag.key)) {
        throw validation(
          `Value '${tag.key}' at 'tags.member.key' failed to satisfy constraint: Member must be 1..128 characters of [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]`,
        );
      }
      if (tag.value.length > 256 || !/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u.test(tag.value)) {
        throw validation(
          `Value at 'tags.member.value' failed to satisfy constraint: Member must be at most 256 characters of [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]`,
        );
      }
      if (tag.key.toLowerCase().startsWith('aws:'))
        throw validation('Tag keys cannot begin with the prefix aws:');
      if (seen.has(tag.key.toLowerCase())) throw validation(`Duplicate tag keys found: ${tag.key}`);
      seen.add(tag.key.toLowerCase());
    }
    if (policy !== undefined && policy.length > PACKED_CAPACITY) {
      throw validation(
        `Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to ${PACKED_CAPACITY}`,
      );
    }
    if (packedPolicySize(tags, policy) > 100) {
      throw new AwsQueryError(
        'PackedPolicyTooLarge',
        'Packed size of the session policy and session tags exceeds the limit.',
      );
    }

    const role = this.#roles.get(roleArn);
    const trusted =
      role &&
      (!role.trust ||
        role.trust(caller.arn, { sessionName, sourceIdentity, tags: tags.map((t) => ({ ...t })) }));
    if (!role || !trusted) {
      throw new AwsQueryError(
        'AccessDenied',
        `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
        403,
      );
    }
    // Role chaining caps sessions at one hour, whatever the role's maximum.
    const max = caller.kind === 'session' ? 3_600 : role.maxSessionDurationSeconds;
    if (call.durationSeconds > max) {
      throw validation(
        caller.kind === 'session'
          ? 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.'
          : 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
        false,
      );
    }

    const now = this.#now();
    const session: StsSession = {
      accessKeyId: `ASIA${randomChars(16)}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `IQoJb3JpZ2luX2VjE${randomBytes(240).toString('base64')}`,
      expiresAt: Math.floor((now + call.durationSeconds * 1_000) / 1_000) * 1_000,
      roleArn,
      arn: `arn:${role.partition}:sts::${role.account}:assumed-role/${role.name}/${sessionName}`,
      assumedRoleId: `${role.roleId}:${sessionName}`,
      account: role.account,
      sessionName,
      sourceIdentity,
      tags: tags.map((t) => ({ ...t })),
      callerAccessKeyId: caller.accessKeyId,
      createdAt: now,
    };
    this.#store(session);
    return session;
  }

  #store(session: StsSession): void {
    if (this.#sessions.size >= this.#maxSessions) {
      const now = this.#now();
      for (const [key, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(key);
      while (this.#sessions.size >= this.#maxSessions) {
        const oldest = this.#sessions.keys().next().value as string;
        this.#sessions.delete(oldest);
      }
    }
    this.#sessions.set(session.accessKeyId, session);
  }
}

function callerIdentityXml(principal: StsPrincipal): string {
  return leaf('Arn', principal.arn) + leaf('UserId', principal.userId) + leaf('Account', principal.account);
}

function stsAuthError(failure: AuthFailure): AwsQueryError {
  switch (failure.problem) {
    case 'missing':
      return new AwsQueryError('MissingAuthenticationToken', failure.message, 403);
    case 'incomplete':
      return new AwsQueryError('IncompleteSignature', failure.message, 400);
    case 'unknown-key':
    case 'bad-token':
      return new AwsQueryError('InvalidClientTokenId', failure.message, 403);
    case 'scope':
    case 'signature':
      return new AwsQueryError('SignatureDoesNotMatch', failure.message, 403);
    case 'expired':
      return new AwsQueryError('ExpiredToken', failure.message, 400);
  }
}

function validation(detail: string, prefixed = true): AwsQueryError {
  return new AwsQueryError('ValidationError', prefixed ? `1 validation error detected: ${detail}` : detail);
}

/** Percentage of the packed session policy + tags capacity used (what STS reports). */
function packedPolicySize(tags: StsTag[], policy: string | undefined): number {
  const bytes = tags.reduce((n, t) => n + t.key.length + t.value.length + 4, 0) + (policy?.length ?? 0) / 4;
  return Math.ceil((bytes * 100) / PACKED_CAPACITY);
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomChars(n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  for (const b of bytes) out += ID_ALPHABET[b & 31];
  return out;
}

/** Stable id characters derived from `seed` (unique ids such as AROA…/AIDA… that do not change). */
function idChars(seed: string, n: number): string {
  const bytes = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < n; i++) out += ID_ALPHABET[(bytes[i] as number) & 31];
  return out;
}
