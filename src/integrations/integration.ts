import type { Clock } from '../clock.js';
import type { ConfigSection } from '../config/section.js';
import type { Config } from '../config.js';
import type { RoleSession } from '../credentials/role-sessions.js';
import type { Credential } from '../credentials/secret-entry.js';
import type { SecretSpec } from '../credentials/secret-spec.js';
import type { Logger } from '../log.js';
import type { Registry } from '../metrics.js';
import type { RequestScope } from '../request-scope.js';
import type { RotationKind } from '../rotation/kind.js';
import type { RateLimits } from './rate-limits.js';

/**
 * The API objects handlers get, by integration name. Each integration module adds its own entry by
 * declaration merging, so a command that declares `needs: ['github']` gets `ctx.apis.github` typed
 * as `GitHubApi`, and nothing else:
 *
 * @example
 * declare module './integration.js' {
 *   interface IntegrationApis { github: GitHubApi }
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by each integration module (declaration merging)
export interface IntegrationApis {}

export type IntegrationKey = keyof IntegrationApis & string;

/** What every integration is built with: settings, logging, time, metrics, shared rate limits. */
export interface PlatformDeps {
  config: Config;
  log: Logger;
  clock: Clock;
  metrics: Registry;
  /** One per app: Retry-After / reset waits per key, shared by every integration. */
  rateLimits: RateLimits;
  /**
   * AWS client settings beyond the default chain (the sandbox points EC2 at a simulated endpoint).
   * In production leave it out: the SDK honours `AWS_ENDPOINT_URL_EC2` itself.
   */
  awsClients?: { ec2?: { endpoint?: string; requestTimeoutMs?: number } };
}

/** Runs calls with a client built from the integration's current secret (refresh once on auth failure). */
export interface CredentialedCalls<C> {
  run<R>(fn: (client: C, credential: Credential) => Promise<R>, scope?: RequestScope): Promise<R>;
}

/** Who a session acts for: a Slack user (with their team and the action, for session tags). */
export type SessionActor = string | { userId: string; teamId?: string; action?: string };

/** Runs calls with a client under an STS session assumed for one Slack user (or opsbot itself). */
export interface SessionCalls<C> {
  asUser<R>(
    who: SessionActor,
    fn: (client: C, session: RoleSession) => Promise<R>,
    scope?: RequestScope,
  ): Promise<R>;
  /** As opsbot's own service (`reaper` → SourceIdentity `opsbot.reaper`), never as a person. */
  asService<R>(name: string, fn: (client: C, session: RoleSession) => Promise<R>): Promise<R>;
}

/**
 * An integration whose credential is a secret in Secrets Manager (src/ARCHITECTURE.md, "One integration
 * shape"): its secret's shape, how to build a client from one version of it, how to recognise the
 * service rejecting it, and the API object handlers get. Register it in `src/integrations/index.ts`.
 * `createClient`/`createApi` may be left out while only the secret exists (the integration is
 * declared, its commands not built yet).
 */
export interface SecretIntegration<Name extends string = string, S = never, C = unknown, A = unknown> {
  kind: 'secret';
  name: Name;
  title: string;
  secret: SecretSpec<S> & { name: Name };
  /** Called once per secret version; clients built from an old version are dropped when it changes. */
  createClient?(secret: S, deps: PlatformDeps, credential: Credential<S>): C;
  /** HTTP 401, Slack `invalid_auth`…: the credential was rejected (one refresh and retry follow). */
  isAuthFailure?(error: unknown): boolean;
  /** Releases what a client holds (sockets), when its version is retired. */
  closeClient?(client: C): void;
  /**
   * When the credential itself stops working (epoch ms), if the secret says so (Slack's rotating
   * bot token): past it, opsbot checks the source for a newer version and never sends the old one.
   */
  expiresAt?(secret: S): number | undefined;
  createApi?(calls: CredentialedCalls<C>, deps: PlatformDeps): A;
  /**
   * Work to finish before the replica says it is ready, when the integration's secret exists at
   * start-up: loading a client library whose import blocks the event loop for a second or more is
   * done here, while the load balancer sends no traffic, not later under a user's command.
   */
  prepare?(deps: PlatformDeps): Promise<void>;
  /**
   * What opsbot's own credential may do at the vendor, as the vendor reports it (GitHub: the App's
   * permissions), for the access review's "what the bot could drop"; undefined when unknown.
   */
  grants?(api: A): Promise<Readonly<Record<string, string>> | undefined>;
  /**
   * How the rotation function rotates this secret (src/rotation/kind.ts): made anew with no person
   * (`automatic`), or put as AWSPENDING by a person; tested against the vendor before it becomes
   * current. Left out: the rotation function does not rotate it.
   */
  rotation?: RotationKind<S>;
  /** Its section of the configuration file (`github:`…), merged into the file schema. */
  config?: ConfigSection;
}

/**
 * An integration that acts as the Slack user through an assumed IAM role (dev environments): no
 * secret; a short STS session per user whose `SourceIdentity` names them in CloudTrail.
 */
export interface AssumedRoleIntegration<Name extends string = string, C = unknown, A = unknown> {
  kind: 'assumed-role';
  name: Name;
  title: string;
  /** The role to assume, from the configuration; undefined: the integration is not configured. */
  roleArn(deps: PlatformDeps): string | undefined;
  createClient(session: RoleSession, deps: PlatformDeps): C;
  /** AWS rejected the session (expired, revoked): it is dropped and assumed once more. */
  isAuthFailure?(error: unknown): boolean;
  closeClient?(client: C): void;
  createApi(calls: SessionCalls<C>, deps: PlatformDeps): A;
  /** Its section of the configuration file (`devenv:`), merged into the file schema. */
  config?: ConfigSection;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds integrations of every secret and client type
type Erased = any;

export type AnyIntegration =
  | SecretIntegration<string, Erased, Erased, Erased>
  | AssumedRoleIntegration<string, Erased, Erased>;

/**
 * Declares a secret-backed integration with its types inferred (see {@link SecretIntegration}).
 * The secret is named and titled after the integration (`github` → `<prefix>github`).
 */
export function secretIntegration<Name extends string, S, C = never, A = never>(
  integration: Omit<SecretIntegration<Name, S, C, A>, 'secret'> & {
    secret: Omit<SecretSpec<S>, 'name' | 'title'>;
  },
): SecretIntegration<Name, S, C, A> {
  const { name, title } = integration;
  return { ...integration, secret: { ...integration.secret, name, title } };
}

/** Declares an assumed-role integration with its types inferred (see {@link AssumedRoleIntegration}). */
export function assumedRoleIntegration<Name extends string, C, A>(
  integration: AssumedRoleIntegration<Name, C, A>,
): AssumedRoleIntegration<Name, C, A> {
  return integration;
}
