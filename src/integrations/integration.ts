import type { IntegrationName } from '../config.js';
import type { Credential } from '../credentials/provider.js';
import type { SecretShapes } from '../credentials/schemas.js';

/**
 * The one shape every integration has (DESIGN.md, "One integration shape"): how to build a client
 * from one version of its secret, and how to recognise the service rejecting that credential. The
 * secret's JSON schema lives in `credentials/schemas.ts`.
 *
 * @example
 * const github: Integration<'github', Octokit> = {
 *   name: 'github',
 *   createClient: (secret) => new Octokit({ auth: secret.token }),
 *   isAuthFailure: (error) => (error as { status?: number }).status === 401,
 * };
 */
export interface Integration<I extends IntegrationName, C> {
  name: I;
  /** Called once per secret version; clients built from an old version are dropped when it changes. */
  createClient(secret: SecretShapes[I], credential: Credential<I>): C;
  /** HTTP 401/403, Slack `invalid_auth`, GitHub "Bad credentials"…: the credential was rejected. */
  isAuthFailure(error: unknown): boolean;
  /** Releases what a client holds (sockets), when its version is retired. */
  closeClient?(client: C): void;
}
