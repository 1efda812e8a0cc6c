import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../http/server.js';
import { pushBounded } from './aws-query.js';
import { type LoopbackServer, startLoopbackServer } from './loopback-server.js';
import {
  type AwsLoginBody,
  type AwsRole,
  boundTo,
  callerIdentity,
  canonicalArn,
  checkIamRequest,
  friendlyName,
} from './vault-aws-login.js';
import { type KubernetesRole, LoginRefused, SimulatedCluster } from './vault-kubernetes.js';
import { KvError, KvMount, vaultTime } from './vault-kv.js';
import { checkPolicy, policyAllows, type VaultCapability, type VaultPolicyRule } from './vault-policy.js';
import { type TokenMethod, TokenStore, type VaultToken } from './vault-tokens.js';

export type { VaultCapability, VaultPolicyRule } from './vault-policy.js';

export interface SimulatedVaultOptions {
  /** Milliseconds since the epoch; TTLs and created_time use it. Default `Date.now`. */
  now?: () => number;
  /** Where auth/aws/login replays the signed sts:GetCallerIdentity request (moto_server or SimulatedSts URL). */
  stsEndpoint?: string;
  /** Tests pass the spec validator: a request whose body (or path) the spec does not allow gets 400 with the problem, and is recorded in `specProblems`. */
  checkRequest?: (method: string, path: string, body: unknown) => string | undefined;
  /** Serve HTTPS with this key/cert (PEM). */
  tls?: { key: string; cert: string };
  /** Namespaces that exist besides the root (e.g. ['team-a']); a request's X-Vault-Namespace must name one of them (or be absent for root). Mounts, policies, roles and tokens live per namespace. */
  namespaces?: string[];
}

export interface VaultRequestRecord {
  method: string;
  /** Without `/v1` and without the query, e.g. `/secret/data/opsbot/slack`. */
  path: string;
  /** '' for the root namespace. */
  namespace: string;
  /** 0 when the connection was dropped. */
  status: number;
  /** The accessor of the token the request carried, when it was a live token (never the token). */
  accessor?: string;
  at: number;
}

export interface LiveVaultToken {
  accessor: string;
  policies: string[];
  expiresAt: number;
  maxExpiresAt: number;
  renewals: number;
  method: string;
  ns: string;
}

type Fault = { status: number } | { drop: true } | { delayMs: number };

/** Request bodies over this many bytes are refused with 413. */
const MAX_BODY_BYTES = 1_048_576;
const MAX_REQUESTS = 10_000;
const MAX_SPEC_PROBLEMS = 1_000;
const VERSION = '1.15.0';
const PERMISSION_DENIED = '1 error occurred:\n\t* permission denied\n\n';
const UNSUPPORTED = '1 error occurred:\n\t* unsupported operation\n\n';

/** An answer other than 200 with Vault's error body (`data` for KV's 404 on a deleted version). */
class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    readonly data?: unknown,
  ) {
    super(errors.join('; '));
    this.name = 'VaultHttpError';
  }
}

const denied = () => new VaultHttpError(403, [PERMISSION_DENIED]);
const badRequest = (message: string) => new VaultHttpError(400, [message]);
const noRoute = (path: string) =>
  new VaultHttpError(404, [
    `no handler for route ${JSON.stringify(path.slice(0, 256))}. route entry not found.`,
  ]);

interface AwsMount {
  roles: Map<string, AwsRole>;
  serverId: string | undefined;
}

interface Namespace {
  kv: Map<string, KvMount>;
  policies: Map<string, VaultPolicyRule[]>;
  aws: Map<string, AwsMount>;
  kubernetes: Map<string, Map<string, KubernetesRole>>;
}

interface Answer {
  status: number;
  body?: unknown;
}

interface Context {
  method: string;
  /** Relative to /v1/, no leading slash, no query. */
  rel: string;
  query: URLSearchParams;
  ns: string;
  space: Namespace;
  tokenId: string | undefined;
  body: unknown;
  token?: VaultToken;
}

/**
 * A simulated HashiCorp Vault / OpenBao 1.15 on 127.0.0.1, speaking Vault's HTTP API for what opsbot
 * uses: KV v2 (`data`, `metadata`, `delete`, `destroy`), the AWS IAM and Kubernetes auth methods, the
 * token's `renew-self` / `revoke-self` / `lookup-self`, ACL policies on every request, `sys/health`
 * and `sys/seal-status`, sealing, namespaces (`X-Vault-Namespace` header only: a namespace given as
 * a path prefix is not supported), faults, and a bounded request log that names tokens by accessor.
 *
 * @example
 * const vault = new SimulatedVault({ now: clock.now, stsEndpoint: moto.url, checkRequest: vaultSpecCheck });
 * await vault.start();
 * vault.enableKvV2();
 * vault.putPolicy('opsbot', [{ path: 'secret/data/opsbot/*', capabilities: ['read'] }]);
 * vault.putAwsRole('opsbot', { boundIamPrincipalArns: [taskRoleArn], policies: ['opsbot'] });
 * vault.writeSecret('secret', 'opsbot/slack', { botToken, signingSecret });
 */
export class SimulatedVault {
  readonly #now: () => number;
  readonly #options: SimulatedVaultOptions;
  readonly #spaces = new Map<string, Namespace>();
  readonly #tokens: TokenStore;
  readonly #cluster: SimulatedCluster;
  readonly #requests: VaultRequestRecord[] = [];
  readonly #specProblems: string[] = [];
  readonly #faults: { left: number; fault: Fault; prefix: string }[] = [];
  readonly #clusterId = randomUUID();
  #sealed = false;
  #server: LoopbackServer | undefined;

  readonly #quotas = new Map<string, { rate: number; tokens: number; at: number }>();

  constructor(options: SimulatedVaultOptions = {}) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#tokens = new TokenStore(this.#now);
    this.#cluster = new SimulatedCluster(this.#now);
    for (const ns of ['', ...(options.namespaces ?? [])]) {
      const name = normalizeNamespace(ns);
      if (name.length > 0 && !/^[\w.-]+(\/[\w.-]+)*$/.test(name)) {
        throw new Error(`SimulatedVault: bad namespace ${JSON.stringify(ns)}`);
      }
      this.#spaces.set(name, { kv: new Map(), policies: new Map(), aws: new Map(), kubernetes: new Map() });
    }
  }

  async start(): Promise<{ url: string }> {
    if (!this.#server) {
      const handle = (req: IncomingMessage, res: ServerResponse) => {
        this.#handle(req, res).catch(() => {
          if (!res.headersSent) res.writeHead(500).end();
          else res.destroy();
        });
      };
      this.#server = await startLoopbackServer(handle, this.#options.tls ? { tls: this.#options.tls } : {});
    }
    return { url: this.#server.url };
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    await server?.stop();
  }

  get url(): string {
    return this.#server?.url ?? '';
  }

  get requests(): readonly VaultRequestRecord[] {
    return this.#requests;
  }

  get specProblems(): readonly string[] {
    return this.#specProblems;
  }

  // -- setup, in process ------------------------------------------------------------------------

  enableKvV2(mount = 'secret', ns = ''): void {
    const space = this.#space(ns);
    checkMount(mount);
    if (!space.kv.has(mount)) space.kv.set(mount, new KvMount(this.#now));
  }

  putPolicy(name: string, rules: VaultPolicyRule[], ns = ''): void {
    checkPolicy(name, rules);
    this.#space(ns).policies.set(
      name,
      rules.map((r) => ({ path: r.path.replace(/^\//, ''), capabilities: [...r.capabilities] })),
    );
  }

  putAwsRole(
    name: string,
    role: {
      boundIamPrincipalArns: string[];
      policies: string[];
      ttlSeconds?: number;
      maxTtlSeconds?: number;
    },
    options: { mount?: string; ns?: string } = {},
  ): void {
    checkRoleName(name);
    if (role.boundIamPrincipalArns.length === 0)
      throw new Error('putAwsRole: at least one bound principal ARN');
    this.#awsMount(options).roles.set(name, {
      ...role,
      boundIamPrincipalArns: [...role.boundIamPrincipalArns],
      policies: [...role.policies],
    });
  }

  setAwsIamServerId(value: string | undefined, options: { mount?: string; ns?: string } = {}): void {
    this.#awsMount(options).serverId = value === '' ? undefined : value;
  }

  putKubernetesRole(
    name: string,
    role: {
      serviceAccountNames: string[];
      namespaces: string[];
      policies: string[];
      ttlSeconds?: number;
      maxTtlSeconds?: number;
    },
    options: { mount?: string; ns?: string } = {},
  ): void {
    checkRoleName(name);
    const mount = options.mount ?? 'kubernetes';
    checkMount(mount);
    const space = this.#space(options.ns ?? '');
    const roles = space.kubernetes.get(mount) ?? new Map<string, KubernetesRole>();
    roles.set(name, {
      ...role,
      serviceAccountNames: [...role.serviceAccountNames],
      namespaces: [...role.namespaces],
      policies: [...role.policies],
    });
    space.kubernetes.set(mount, roles);
  }

  mintServiceAccountJwt(sa: { namespace: string; name: string; expiresInSeconds?: number }): string {
    return this.#cluster.mint(sa);
  }

  createToken(options: {
    policies: string[];
    ttlSeconds?: number;
    maxTtlSeconds?: number;
    renewable?: boolean;
    ns?: string;
  }): string {
    const ns = normalizeNamespace(options.ns ?? '');
    this.#space(ns);
    return this.#tokens.create({ ...options, ns, method: 'token', displayName: 'token' }).id;
  }

  writeSecret(mount: string, path: string, data: Record<string, unknown>, ns = ''): number {
    return this.#kv(mount, ns).write(path, data).version;
  }

  deleteVersions(mount: string, path: string, versions: number[], ns = ''): void {
    this.#kv(mount, ns).deleteVersions(path, versions);
  }

  destroyVersions(mount: string, path: string, versions: number[], ns = ''): void {
    this.#kv(mount, ns).destroyVersions(path, versions);
  }

  deleteMetadata(mount: string, path: string, ns = ''): void {
    this.#kv(mount, ns).deleteMetadata(path);
  }

  seal(): void {
    this.#sealed = true;
  }

  unseal(): void {
    this.#sealed = false;
  }

  failNext(count: number, fault: Fault, pathPrefix = ''): void {
    if (!Number.isInteger(count) || count < 1) throw new Error('failNext: count must be a positive integer');
    if (this.#faults.length >= 1_000) this.#faults.shift();
    this.#faults.push({ left: count, fault, prefix: pathPrefix.replace(/^\/?(v1\/)?/, '/') });
  }

  /**
   * A rate-limit quota, as `sys/quotas/rate-limit` sets one: at most `rate` requests per second on
   * paths under `pathPrefix` (e.g. `auth/aws/login`); beyond it Vault answers 429 `rate limit quota
   * exceeded` with `Retry-After`. Undefined `rate` removes it.
   */
  setRateLimitQuota(pathPrefix: string, rate: number | undefined): void {
    const prefix = `/${pathPrefix.replace(/^\/?(v1\/)?/, '')}`;
    if (rate === undefined) return void this.#quotas.delete(prefix);
    if (!(rate > 0)) throw new Error('setRateLimitQuota: rate must be positive');
    this.#quotas.set(prefix, { rate, tokens: rate, at: this.#now() });
  }

  liveTokens(): LiveVaultToken[] {
    return this.#tokens.liveTokens().map((t) => ({
      accessor: t.accessor,
      policies: [...t.policies],
      expiresAt: t.expiresAt,
      maxExpiresAt: t.maxExpiresAt,
      renewals: t.renewals,
      method: t.method,
      ns: t.ns,
    }));
  }

  revoked(accessor: string): boolean {
    return this.#tokens.wasRevoked(accessor);
  }

  // -- HTTP -------------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const target = new URL(req.url ?? '/', 'http://vault.invalid');
    const ns = normalizeNamespace(headerOf(req, 'x-vault-namespace') ?? '');
    const record: VaultRequestRecord = {
      method,
      path: target.pathname.replace(/^\/v1(?=\/)/, ''),
      namespace: ns,
      status: 0,
      at: this.#now(),
    };
    const finish = (answer: Answer, close = false) => {
      record.status = answer.status;
      pushBounded(this.#requests, record, MAX_REQUESTS);
      send(res, answer, close);
    };

    const fault = this.#takeFault(record.path);
    if (fault && 'drop' in fault) {
      pushBounded(this.#requests, record, MAX_REQUESTS);
      req.socket.destroy();
      return;
    }
    if (fault && 'delayMs' in fault) {
      await new Promise((r) => setTimeout(r, Math.min(Math.max(0, fault.delayMs), 60_000)));
    }

    const raw = await readBody(req, MAX_BODY_BYTES).catch(() => undefined);
    if (raw === undefined) return void req.socket.destroy();
    if (raw === 'too_large') {
      return finish(errorAnswer(new VaultHttpError(413, ['http: request body too large'])), true);
    }
    if (fault && 'status' in fault) return finish(faultAnswer(fault.status, record.path));
    if (this.#overQuota(record.path)) {
      res.setHeader('retry-after', '1');
      return finish(
        errorAnswer(
          new VaultHttpError(429, [`request path "${record.path.slice(1)}": rate limit quota exceeded`]),
        ),
      );
    }

    try {
      if (!target.pathname.startsWith('/v1/')) throw noRoute(target.pathname.replace(/^\//, ''));
      let body: unknown;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch (error) {
          throw badRequest(`failed to parse JSON input: ${(error as Error).message}`);
        }
      }
      const problem = this.#options.checkRequest?.(method === 'PUT' ? 'POST' : method, record.path, body);
      if (problem !== undefined) {
        pushBounded(this.#specProblems, `${method} ${record.path}: ${problem}`, MAX_SPEC_PROBLEMS);
        throw badRequest(`request refused by Vault's API description: ${problem}`);
      }
      const rel = record.path.slice(1);
      if (rel === 'sys/health') return finish(this.#health(method));
      if (rel === 'sys/seal-status') return finish(this.#sealStatus(method));
      if (this.#sealed) throw new VaultHttpError(503, ['Vault is sealed']);
      const space = this.#spaces.get(ns);
      if (!space) throw noRoute(rel);
      const tokenId =
        headerOf(req, 'x-vault-token') ?? /^Bearer (.+)$/.exec(headerOf(req, 'authorization') ?? '')?.[1];
      const ctx: Context = { method, rel, query: target.searchParams, ns, space, tokenId, body };
      try {
        finish(await this.#route(ctx));
      } finally {
        if (ctx.token) record.accessor = ctx.token.accessor;
      }
    } catch (error) {
      if (error instanceof VaultHttpError) return finish(errorAnswer(error));
      throw error;
    }
  }

  /** Takes one request from the quota covering `path`, if any; true when none is left this second. */
  #overQuota(path: string): boolean {
    for (const [prefix, quota] of this.#quotas) {
      if (!path.startsWith(prefix)) continue;
      const now = this.#now();
      quota.tokens = Math.min(quota.rate, quota.tokens + ((now - quota.at) / 1_000) * quota.rate);
      quota.at = now;
      if (quota.tokens < 1) return true;
      quota.tokens -= 1;
    }
    return false;
  }

  async #route(ctx: Context): Promise<Answer> {
    const { rel, method } = ctx;
    const write = method === 'POST' || method === 'PUT';
    if (rel === 'auth/token/renew-self') return write ? this.#renewSelf(ctx) : unsupported();
    if (rel === 'auth/token/revoke-self') return write ? this.#revokeSelf(ctx) : unsupported();
    if (rel === 'auth/token/lookup-self')
      return method === 'GET' || write ? this.#lookupSelf(ctx) : unsupported();
    const login = /^auth\/(.+)\/login$/.exec(rel)?.[1];
    if (login !== undefined) {
      const aws = ctx.space.aws.get(login);
      const kubernetes = ctx.space.kubernetes.get(login);
      if (!aws && !kubernetes) throw noRoute(rel);
      if (!write) return unsupported();
      return aws
        ? this.#awsLogin(ctx, login, aws)
        : this.#kubernetesLogin(ctx, kubernetes as Map<string, KubernetesRole>);
    }
    for (const [mount, kv] of ctx.space.kv) {
      if (rel.startsWith(`${mount}/`)) return this.#kvRequest(ctx, kv, rel.slice(mount.length + 1));
    }
    throw noRoute(rel);
  }

  // -- auth -------------------------------------------------------------------------------------

  async #awsLogin(ctx: Context, mount: string, aws: AwsMount): Promise<Answer> {
    const body = asObject(ctx.body) as AwsLoginBody;
    try {
      const signed = checkIamRequest(body, {
        stsEndpoint: this.#options.stsEndpoint,
        serverId: aws.serverId,
      });
      if (!this.#options.stsEndpoint)
        throw new LoginRefused(400, 'error making upstream request: no STS endpoint configured');
      const caller = await callerIdentity(this.#options.stsEndpoint, signed);
      const canonical = canonicalArn(caller.arn);
      const roleName =
        typeof body.role === 'string' && body.role !== '' ? body.role : friendlyName(caller.arn);
      const role = aws.roles.get(roleName);
      if (!role) throw new LoginRefused(400, `entry for role ${roleName} not found`);
      if (!boundTo(role, caller.arn)) {
        throw new LoginRefused(
          400,
          `IAM Principal ${JSON.stringify(caller.arn)} does not belong to the role ${JSON.stringify(roleName)}`,
        );
      }
      return this.#loginAnswer(
        ctx,
        'aws',
        role,
        {
          account_id: caller.account,
          auth_type: 'iam',
          canonical_arn: canonical,
          client_arn: caller.arn,
          client_user_id: caller.userId.split(':')[0] ?? '',
          inferred_aws_region: '',
          inferred_entity_id: '',
          inferred_entity_type: '',
          role_id: `${mount}/${roleName}`,
        },
        friendlyName(caller.arn),
      );
    } catch (error) {
      if (error instanceof LoginRefused) throw new VaultHttpError(error.status, [error.message]);
      throw error;
    }
  }

  #kubernetesLogin(ctx: Context, roles: Map<string, KubernetesRole>): Answer {
    const body = asObject(ctx.body);
    const roleName = body.role;
    const jwt = body.jwt;
    if (typeof roleName !== 'string' || roleName === '') throw badRequest('missing role');
    if (typeof jwt !== 'string' || jwt === '') throw badRequest('missing jwt');
    const role = roles.get(roleName);
    if (!role) throw badRequest(`invalid role name ${JSON.stringify(roleName)}`);
    try {
      const sa = this.#cluster.verify(jwt);
      SimulatedCluster.authorize(role, sa);
      return this.#loginAnswer(
        ctx,
        'kubernetes',
        role,
        {
          role: roleName,
          service_account_name: sa.name,
          service_account_namespace: sa.namespace,
          service_account_secret_name: '',
          service_account_uid: sa.uid,
        },
        `${sa.namespace}-${sa.name}`,
      );
    } catch (error) {
      if (error instanceof LoginRefused) {
        throw new VaultHttpError(error.status, [
          error.message === 'permission denied' ? PERMISSION_DENIED : error.message,
        ]);
      }
      throw error;
    }
  }

  #loginAnswer(
    ctx: Context,
    method: TokenMethod,
    role: { policies: string[]; ttlSeconds?: number; maxTtlSeconds?: number },
    metadata: Record<string, string>,
    displayName: string,
  ): Answer {
    const token = this.#tokens.create({
      policies: role.policies,
      ns: ctx.ns,
      method,
      metadata,
      displayName: `${method}-${displayName}`,
      ...(role.ttlSeconds !== undefined ? { ttlSeconds: role.ttlSeconds } : {}),
      ...(role.maxTtlSeconds !== undefined ? { maxTtlSeconds: role.maxTtlSeconds } : {}),
    });
    ctx.token = token;
    return { status: 200, body: envelope(null, { auth: authBlock(token, token.ttlSeconds) }) };
  }

  #self(ctx: Context): VaultToken {
    const token = this.#tokens.live(ctx.tokenId);
    if (!token || token.ns !== ctx.ns) throw denied();
    ctx.token = token;
    return token;
  }

  #renewSelf(ctx: Context): Answer {
    const token = this.#self(ctx);
    const increment = parseIncrement(asObject(ctx.body).increment);
    const renewal = this.#tokens.renew(token, increment);
    if (!renewal.ok)
      throw new VaultHttpError(renewal.status, [renewal.status === 403 ? PERMISSION_DENIED : renewal.error]);
    return {
      status: 200,
      body: envelope(null, {
        auth: authBlock(token, renewal.leaseSeconds),
        ...(renewal.warning ? { warnings: [renewal.warning] } : {}),
      }),
    };
  }

  #revokeSelf(ctx: Context): Answer {
    this.#tokens.revoke(this.#self(ctx));
    return { status: 204 };
  }

  #lookupSelf(ctx: Context): Answer {
    const t = this.#self(ctx);
    const now = this.#now();
    return {
      status: 200,
      body: envelope({
        accessor: t.accessor,
        creation_time: Math.floor(t.issuedAt / 1_000),
        creation_ttl: t.ttlSeconds,
        display_name: t.displayName,
        entity_id: t.entityId,
        expire_time: vaultTime(t.expiresAt),
        explicit_max_ttl: 0,
        id: t.id,
        issue_time: vaultTime(t.issuedAt),
        meta: Object.keys(t.metadata).length ? { ...t.metadata } : null,
        num_uses: 0,
        orphan: true,
        path: t.method === 'token' ? 'auth/token/create' : `auth/${t.method}/login`,
        policies: [...t.policies],
        renewable: t.renewable,
        ttl: Math.max(0, Math.floor((t.expiresAt - now) / 1_000)),
        type: 'service',
      }),
    };
  }

  // -- KV v2 ------------------------------------------------------------------------------------

  #kvRequest(ctx: Context, kv: KvMount, sub: string): Answer {
    const m = /^(data|metadata|delete|destroy)\/(.+)$/.exec(sub);
    if (!m) throw noRoute(ctx.rel);
    const [, op, path] = m as unknown as [string, string, string];
    const write = ctx.method === 'POST' || ctx.method === 'PUT';
    const capability: VaultCapability | undefined =
      ctx.method === 'GET'
        ? 'read'
        : ctx.method === 'DELETE'
          ? 'delete'
          : write
            ? op === 'data' && !kv.has(path)
              ? 'create'
              : 'update'
            : undefined;
    if (!capability) return unsupported();
    this.#authorize(ctx, capability);
    try {
      switch (op) {
        case 'data':
          if (ctx.method === 'GET') return this.#kvRead(ctx, kv, path);
          if (ctx.method === 'DELETE') {
            kv.deleteLatest(path);
            return { status: 204 };
          }
          return this.#kvWrite(ctx, kv, path);
        case 'metadata': {
          if (ctx.method === 'DELETE') {
            kv.deleteMetadata(path);
            return { status: 204 };
          }
          if (ctx.method !== 'GET') return unsupported();
          const metadata = kv.metadata(path);
          if (!metadata) throw new VaultHttpError(404, []);
          return { status: 200, body: envelope(metadata) };
        }
        default: {
          if (!write) return unsupported();
          const versions = asObject(ctx.body).versions;
          const list = Array.isArray(versions)
            ? versions.map((v) => (typeof v === 'string' ? Number(v) : v))
            : [];
          if (!list.every((v): v is number => typeof v === 'number'))
            throw badRequest('versions must be integers');
          if (op === 'delete') kv.deleteVersions(path, list);
          else kv.destroyVersions(path, list);
          return { status: 204 };
        }
      }
    } catch (error) {
      if (error instanceof KvError) throw new VaultHttpError(error.status, [error.message]);
      throw error;
    }
  }

  #kvRead(ctx: Context, kv: KvMount, path: string): Answer {
    const versionText = ctx.query.get('version') ?? '0';
    if (!/^\d{1,9}$/.test(versionText))
      throw badRequest(`invalid version ${JSON.stringify(versionText.slice(0, 32))}`);
    const read = kv.read(path, Number(versionText));
    if (!read.found) throw new VaultHttpError(404, []);
    if (!read.live) throw new VaultHttpError(404, [], envelope({ data: null, metadata: read.metadata }));
    return { status: 200, body: envelope({ data: read.data, metadata: read.metadata }) };
  }

  #kvWrite(ctx: Context, kv: KvMount, path: string): Answer {
    const body = asObject(ctx.body);
    const data = body.data;
    if (data === null || typeof data !== 'object' || Array.isArray(data))
      throw badRequest('no data provided');
    const options = body.options === undefined ? {} : asObject(body.options);
    const casRaw = options.cas;
    const cas = casRaw === undefined ? undefined : Number(casRaw);
    if (cas !== undefined && (!Number.isInteger(cas) || cas < 0)) throw badRequest('invalid cas value');
    const metadata = kv.write(path, data as Record<string, unknown>, cas);
    return { status: 200, body: envelope(metadata) };
  }

  #authorize(ctx: Context, capability: VaultCapability): void {
    const token = this.#self(ctx);
    if (token.policies.includes('root')) return;
    const policies = token.policies
      .map((name) => ctx.space.policies.get(name))
      .filter((p): p is VaultPolicyRule[] => p !== undefined);
    if (!policyAllows(policies, ctx.rel, capability)) throw denied();
  }

  // -- sys --------------------------------------------------------------------------------------

  #health(method: string): Answer {
    if (method !== 'GET' && method !== 'HEAD') return unsupported();
    const sealed = this.#sealed;
    return {
      status: sealed ? 503 : 200,
      body: {
        initialized: true,
        sealed,
        standby: sealed,
        performance_standby: false,
        replication_performance_mode: sealed ? 'unknown' : 'disabled',
        replication_dr_mode: sealed ? 'unknown' : 'disabled',
        server_time_utc: Math.floor(this.#now() / 1_000),
        version: VERSION,
        ...(sealed ? {} : { cluster_name: 'vault-cluster-sandbox', cluster_id: this.#clusterId }),
      },
    };
  }

  #sealStatus(method: string): Answer {
    if (method !== 'GET') return unsupported();
    return {
      status: 200,
      body: {
        type: 'shamir',
        initialized: true,
        sealed: this.#sealed,
        t: 1,
        n: 1,
        progress: 0,
        nonce: '',
        version: VERSION,
        build_date: '2023-09-22T16:53:10Z',
        migration: false,
        recovery_seal: false,
        storage_type: 'inmem',
        ...(this.#sealed ? {} : { cluster_name: 'vault-cluster-sandbox', cluster_id: this.#clusterId }),
      },
    };
  }

  // -- helpers ----------------------------------------------------------------------------------

  #takeFault(path: string): Fault | undefined {
    const index = this.#faults.findIndex((f) => path.startsWith(f.prefix) && f.left > 0);
    if (index === -1) return undefined;
    const entry = this.#faults[index] as { left: number; fault: Fault };
    entry.left -= 1;
    if (entry.left <= 0) this.#faults.splice(index, 1);
    return entry.fault;
  }

  #space(ns: string): Namespace {
    const space = this.#spaces.get(normalizeNamespace(ns));
    if (!space)
      throw new Error(`SimulatedVault: no namespace ${JSON.stringify(ns)} (pass it in options.namespaces)`);
    return space;
  }

  #kv(mount: string, ns: string): KvMount {
    const kv = this.#space(ns).kv.get(mount);
    if (!kv)
      throw new Error(`SimulatedVault: no KV v2 mount ${JSON.stringify(mount)} (call enableKvV2 first)`);
    return kv;
  }

  #awsMount(options: { mount?: string; ns?: string }): AwsMount {
    const mount = options.mount ?? 'aws';
    checkMount(mount);
    const space = this.#space(options.ns ?? '');
    let aws = space.aws.get(mount);
    if (!aws) {
      aws = { roles: new Map(), serverId: undefined };
      space.aws.set(mount, aws);
    }
    return aws;
  }
}

function normalizeNamespace(ns: string): string {
  return ns.trim().replace(/^\/+|\/+$/g, '');
}

function checkMount(mount: string): void {
  if (
    !/^[\w.-]+(\/[\w.-]+)*$/.test(mount) ||
    ['auth', 'sys', 'identity', 'cubbyhole'].includes(mount.split('/')[0] ?? '')
  ) {
    throw new Error(`SimulatedVault: bad mount path ${JSON.stringify(mount)}`);
  }
}

function checkRoleName(name: string): void {
  if (!/^[\w.@-]{1,128}$/.test(name))
    throw new Error(`SimulatedVault: bad role name ${JSON.stringify(name)}`);
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text === '' ? undefined : text;
}

function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** renew-self's `increment`: whole seconds, or a Go duration (`"1h30m"`, `"3600s"`). */
function parseIncrement(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '' || value === 0) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'string') {
    if (/^\d{1,9}$/.test(value)) return Number(value);
    const units: Record<string, number> = { h: 3_600, m: 60, s: 1, ms: 0.001 };
    const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
    if (parts.length > 0 && parts.map((p) => p[0]).join('') === value) {
      return Math.floor(parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] as string] as number), 0));
    }
  }
  throw badRequest(`invalid increment ${JSON.stringify(String(value).slice(0, 32))}`);
}

function unsupported(): never {
  throw new VaultHttpError(405, [UNSUPPORTED]);
}

function envelope(
  data: unknown,
  extra: { auth?: unknown; warnings?: string[] } = {},
): Record<string, unknown> {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: extra.warnings ?? null,
    auth: extra.auth ?? null,
  };
}

function authBlock(token: VaultToken, leaseSeconds: number): Record<string, unknown> {
  return {
    client_token: token.id,
    accessor: token.accessor,
    policies: [...token.policies],
    token_policies: [...token.policies],
    metadata: Object.keys(token.metadata).length ? { ...token.metadata } : null,
    lease_duration: leaseSeconds,
    renewable: token.renewable,
    entity_id: token.entityId,
    token_type: 'service',
    orphan: true,
    mfa_requirement: null,
    num_uses: 0,
  };
}

function errorAnswer(error: VaultHttpError): Answer {
  return { status: error.status, body: error.data ?? { errors: error.errors } };
}

function faultAnswer(status: number, path: string): Answer {
  const message =
    status === 503
      ? 'Vault is sealed'
      : status === 429
        ? `request path ${JSON.stringify(path.slice(1))}: rate limit quota exceeded`
        : status === 403
          ? PERMISSION_DENIED
          : status === 404
            ? undefined
            : 'internal error';
  return { status, body: { errors: message === undefined ? [] : [message] } };
}

function send(res: ServerResponse, answer: Answer, close: boolean): void {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (close) headers.connection = 'close';
  if (answer.body === undefined || answer.status === 204) {
    res.writeHead(answer.status, headers).end();
    return;
  }
  const text = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}
