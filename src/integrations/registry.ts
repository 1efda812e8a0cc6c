import type { STSClientConfig } from '@aws-sdk/client-sts';
import { IntegrationNotConfiguredError } from '../credentials/errors.js';
import { FreshCredentials } from '../credentials/fresh-credentials.js';
import type { CredentialMetrics } from '../credentials/metrics.js';
import { mintsSecrets } from '../credentials/minted-secrets.js';
import type { CredentialProvider } from '../credentials/provider.js';
import { type RoleSession, RoleSessions } from '../credentials/role-sessions.js';
import { catalogOf, type SecretCatalog, type SecretSpec } from '../credentials/secret-spec.js';
import { ErrorCode, UserFacingError } from '../errors.js';
import type { SecretMasker } from '../log.js';
import { noteCredentialUse, type RequestScope } from '../request-scope.js';
import type {
  AnyIntegration,
  AssumedRoleIntegration,
  CredentialedCalls,
  IntegrationApis,
  PlatformDeps,
  SecretIntegration,
  SessionCalls,
} from './integration.js';

/** The integrations an app is built with: names checked once, secrets and APIs derived from them. */
export class IntegrationRegistry {
  readonly modules: readonly AnyIntegration[];

  constructor(modules: readonly AnyIntegration[]) {
    const seen = new Set<string>();
    for (const m of modules) {
      if (seen.has(m.name)) throw new Error(`two integrations are named "${m.name}"`);
      if (m.kind === 'secret' && m.secret.name !== m.name) {
        throw new Error(`integration "${m.name}" declares a secret named "${m.secret.name}"`);
      }
      seen.add(m.name);
    }
    this.modules = modules;
  }

  has(name: string): boolean {
    return this.modules.some((m) => m.name === name);
  }

  get(name: string): AnyIntegration | undefined {
    return this.modules.find((m) => m.name === name);
  }

  /** Every secret the provider loads: the integrations' plus `extra` (opsbot's own, such as `audit`). */
  catalog(extra: readonly SecretSpec[] = []): SecretCatalog {
    const secrets = this.modules
      .filter((m): m is SecretIntegration => m.kind === 'secret')
      .map((m) => m.secret);
    return catalogOf([...secrets, ...extra]);
  }
}

export interface BuildIntegrationsDeps extends PlatformDeps {
  provider: CredentialProvider;
  credentialMetrics: CredentialMetrics;
  /** Masks every credential the integrations mint at run time, for as long as it is valid. */
  redactor: SecretMasker;
  /** STS client settings for assumed-role integrations (tests and the sandbox set an endpoint). */
  sts?: STSClientConfig;
}

export interface BuiltIntegrations {
  /** The API object of every integration that has one; commands get the ones they declare. */
  apis: Partial<IntegrationApis>;
  /** False when the integration's secret does not exist, or its role is not configured. */
  isConfigured(name: string): boolean;
  /** The answer to a command that needs it while it is not configured: what to add, and where. */
  notConfigured(name: string): UserFacingError;
  /**
   * Runs the `prepare` of every integration whose secret exists (call it once the secrets' first
   * load is done); settles when all have finished or failed (a failure is logged: the first call
   * that needs the integration tries again). {@link prepared} is true from then on.
   */
  prepare(): Promise<void>;
  readonly prepared: boolean;
  /**
   * What opsbot's own credential for `name` may do, as the vendor reports it (the integration's
   * `grants`); undefined when the integration has no such hook, is not configured, or cannot say.
   */
  grants(name: string): Promise<Readonly<Record<string, string>> | undefined>;
  close(): void;
}

/**
 * Builds each integration's API on the shared machinery: secret-backed ones on
 * {@link FreshCredentials} (clients per secret version, refresh-and-retry once on an auth failure),
 * assumed-role ones on {@link RoleSessions} (one STS session per Slack user). The app loops over
 * this; nothing here names a particular integration.
 */
export function buildIntegrations(
  registry: IntegrationRegistry,
  deps: BuildIntegrationsDeps,
): BuiltIntegrations {
  const apis: Record<string, unknown> = {};
  const closers: (() => void)[] = [];
  const roles = new Map<string, string | undefined>();

  for (const m of registry.modules) {
    if (m.kind === 'secret') {
      if (!isBuilt(m)) continue;
      const built = secretApi(m, deps);
      closers.push(built.close);
      apis[m.name] = built.api;
    } else {
      const roleArn = m.roleArn(deps);
      roles.set(m.name, roleArn);
      const sessions = roleArn ? roleSessions(m, roleArn, deps) : undefined;
      if (sessions) closers.push(() => sessions.close());
      apis[m.name] = m.createApi(sessionCalls(m, sessions, deps), deps);
    }
  }

  let prepared = false;
  return {
    apis: apis as Partial<IntegrationApis>,
    get prepared() {
      return prepared;
    },
    async prepare() {
      const preparing = registry.modules.flatMap((m) =>
        m.kind === 'secret' && m.prepare && deps.provider.isConfigured(m.name)
          ? [
              m.prepare(deps).catch((error: unknown) => {
                deps.log.warn(
                  { err: error, integration: m.name },
                  'could not prepare an integration; its first call tries again',
                );
              }),
            ]
          : [],
      );
      await Promise.all(preparing);
      prepared = true;
    },
    async grants(name) {
      const m = registry.get(name);
      const api = (apis as Record<string, unknown>)[name];
      if (m?.kind !== 'secret' || !m.grants || api === undefined || !deps.provider.isConfigured(name))
        return undefined;
      return (m.grants as (api: unknown) => Promise<Readonly<Record<string, string>> | undefined>)(api);
    },
    isConfigured: (name) => {
      const m = registry.get(name);
      if (!m) return false;
      return m.kind === 'secret' ? deps.provider.isConfigured(name) : roles.get(name) !== undefined;
    },
    notConfigured: (name) => {
      const m = registry.get(name);
      const title = m?.title ?? name;
      return m?.kind === 'assumed-role'
        ? new UserFacingError(
            `${title} is not configured: opsbot has no role to assume for it. Ask an opsbot admin to set its role ARN in the configuration file (README.md, "Configuration file").`,
            { code: ErrorCode.NotConfigured },
          )
        : new IntegrationNotConfiguredError(title, deps.provider.secretName(name));
    },
    close: () => {
      for (const close of closers.splice(0)) close();
    },
  };
}

/** A secret-backed integration with its client and API (not only its secret) declared. */
type BuiltSecretIntegration<S, C, A> = SecretIntegration<string, S, C, A> &
  Required<Pick<SecretIntegration<string, S, C, A>, 'createClient' | 'createApi'>>;

function isBuilt<S, C, A>(m: SecretIntegration<string, S, C, A>): m is BuiltSecretIntegration<S, C, A> {
  return m.createClient !== undefined && m.createApi !== undefined;
}

/**
 * One secret-backed integration on {@link FreshCredentials}, in its own types: the secret is read
 * through the module's spec, so its client factory gets what the spec's schema parses to.
 */
function secretApi<S, C, A>(
  m: BuiltSecretIntegration<S, C, A>,
  deps: BuildIntegrationsDeps,
): { api: A; close(): void } {
  const fresh = new FreshCredentials<S, C>({
    provider: deps.provider,
    factory: {
      secret: m.secret,
      createClient: (secret, credential) => {
        const client = m.createClient(secret, deps, credential);
        // Tokens it mints later (installation tokens, JWTs) are masked for as long as they are valid.
        if (mintsSecrets(client)) client.maskMintedSecretsWith(deps.redactor);
        return client;
      },
      isAuthFailure: (error) => m.isAuthFailure?.(error) ?? false,
      ...(m.closeClient ? { closeClient: (client: C) => m.closeClient?.(client) } : {}),
      ...(m.expiresAt ? { expiresAt: (secret: S) => m.expiresAt?.(secret) } : {}),
    },
    metrics: deps.credentialMetrics,
    log: deps.log,
    now: () => deps.clock.now(),
  });
  const calls: CredentialedCalls<C> = { run: (fn, scope) => fresh.withFreshCredentials(fn, scope) };
  return { api: m.createApi(calls, deps), close: () => fresh.close() };
}

function roleSessions(m: AssumedRoleIntegration, roleArn: string, deps: BuildIntegrationsDeps): RoleSessions {
  return new RoleSessions({
    roleArn,
    ...(deps.config.aws.region ? { region: deps.config.aws.region } : {}),
    ...(deps.sts ? { clientConfig: deps.sts } : {}),
    clock: deps.clock,
    log: deps.log.child({ component: `${m.name}-sessions` }),
    // Cached until 5 minutes before expiry (15-minute sessions: each serves about 10 minutes).
    refreshMarginMs: 300_000,
    onSecret: (value) => deps.redactor.register(value),
    // Useless once the session has expired: stop masking them, so masked values do not pile up.
    onRetire: (value) => deps.redactor.retire(value),
  });
}

function sessionCalls(
  m: AssumedRoleIntegration,
  sessions: RoleSessions | undefined,
  deps: BuildIntegrationsDeps,
): SessionCalls<unknown> {
  const clients = new Map<string, { expiresAt: number; client: unknown }>();
  const run = async <R>(
    key: string,
    acquire: (sessions: RoleSessions) => Promise<RoleSession>,
    forget: (sessions: RoleSessions) => void,
    fn: (client: unknown, session: RoleSession) => Promise<R>,
    scope?: RequestScope,
  ): Promise<R> => {
    if (!sessions) throw new Error(`${m.title} is not configured`);
    const once = async () => {
      const session = await acquire(sessions);
      noteCredentialUse(scope, m.name, session.sessionName);
      const expiresAt = session.credentials.expiration.getTime();
      let cached = clients.get(key);
      // A client per session: never one built from credentials that expired.
      if (!cached || cached.expiresAt !== expiresAt) {
        if (cached) m.closeClient?.(cached.client);
        cached = { expiresAt, client: m.createClient(session, deps) };
        clients.delete(key);
        clients.set(key, cached);
        while (clients.size > 1_000) {
          const [oldest, entry] = clients.entries().next().value as [string, { client: unknown }];
          m.closeClient?.(entry.client);
          clients.delete(oldest);
        }
      }
      return fn(cached.client, session);
    };
    try {
      return await once();
    } catch (error) {
      if (!m.isAuthFailure?.(error)) throw error;
      // The session was revoked or expired early: assume the role once more.
      forget(sessions);
      clients.delete(key);
      return once();
    }
  };
  return {
    asUser(who, fn, scope) {
      const actor = typeof who === 'string' ? { userId: who } : who;
      // An approved request runs under the requester's session, tagged with the approver.
      const approvedBy = scope?.approvedBy;
      const context = {
        ...(actor.teamId ? { teamId: actor.teamId } : {}),
        ...(actor.action ? { action: actor.action } : {}),
        ...(approvedBy ? { approvedBy } : {}),
      };
      return run(
        `${actor.userId}|${actor.teamId ?? ''}|${actor.action ?? ''}|${approvedBy ?? ''}`,
        (s) => s.forUser(actor.userId, context),
        (s) => s.forget(actor.userId),
        fn,
        scope,
      );
    },
    asService(name, fn) {
      return run(
        `service:${name}`,
        (s) => s.forService(name),
        (s) => s.forget(`opsbot.${name}`),
        fn,
      );
    },
  };
}
