import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/rest';
import type { Clock } from '../clock.js';
import type { MintsSecrets } from '../credentials/minted-secrets.js';
import type { Logger, SecretMasker } from '../log.js';
import { type RateLimitPolicy, type RateLimits, retryAfterMs } from './rate-limits.js';

/** A GitHub App (`appId`, `installationId`, `privateKey`) or a fine-grained token. */
export type GitHubSecret = { appId: string; installationId: string; privateKey: string } | { token: string };

export type GitHubPermission = 'pull_requests' | 'checks' | 'issues' | 'actions' | 'metadata';

/** What one call touches: the token is minted for exactly this (where GitHub allows it). */
export interface GitHubAccess {
  owner: string;
  repo: string;
  permissions: Partial<Record<GitHubPermission, 'read' | 'write'>>;
}

export interface GitHubClientDeps {
  /** `OPSBOT_GITHUB_API_URL`: GitHub Enterprise Server (`https://ghe.example.com/api/v3`), the sandbox. */
  apiUrl?: string;
  clock: Clock;
  log: Logger;
  /** The app's shared rate limits: GitHub's waits are kept per repository. */
  rateLimits: RateLimits;
  /** Longest rate-limit wait taken silently before telling the user (5 s). */
  maxWaitMs?: number;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Re-mint a token this long before it expires. */
const EXPIRY_MARGIN_MS = 5 * 60_000;
/** An App JWT (auth-app signs one per mint) is valid for 10 minutes. */
const JWT_LIFETIME_MS = 10 * 60_000;
/** Installation tokens live an hour; used only if GitHub's answer has no readable expires_at. */
const TOKEN_LIFETIME_MS = 60 * 60_000;
const MAX_CACHED_TOKENS = 200;

type Response<T> = { data: T; status: number };

/**
 * A GitHub client built from one version of the `github` secret. With a GitHub App it mints an
 * installation token per repository and permission set on demand, caches it until 5 minutes before
 * its `expires_at` (auth-app's own cache assumes 59 minutes), and on a 401 forces a fresh token once
 * before giving up (auth-app never re-mints on a 401). With a fine-grained PAT it uses the token.
 * Rate limits: short waits (Retry-After, x-ratelimit-reset) are taken and retried once, per
 * repository; longer ones become a RateLimitedError telling the user when to try again.
 * Every installation token and App JWT it mints is registered with the redactor the registry hands
 * it ({@link maskMintedSecretsWith}) until it expires.
 */
export class GitHubClient implements MintsSecrets {
  readonly #octokit: Octokit;
  readonly #appAuth: ReturnType<typeof createAppAuth> | undefined;
  readonly #pat: string | undefined;
  readonly #deps: GitHubClientDeps;
  readonly #tokens = new Map<string, CachedToken>();
  readonly #minting = new Map<string, Promise<CachedToken>>();
  readonly #policy: RateLimitPolicy;
  #masker: SecretMasker | undefined;
  mints = 0;

  constructor(secret: GitHubSecret, deps: GitHubClientDeps) {
    this.#deps = deps;
    this.#policy = { ...githubRateLimits, maxWaitMs: deps.maxWaitMs ?? githubRateLimits.maxWaitMs };
    const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    this.#octokit = new Octokit({
      ...(deps.apiUrl ? { baseUrl: deps.apiUrl.replace(/\/$/, '') } : {}),
      log: quiet,
      userAgent: 'opsbot',
      request: { retries: 0 },
    });
    if ('token' in secret) this.#pat = secret.token;
    else {
      this.#appAuth = createAppAuth({
        appId: secret.appId,
        privateKey: secret.privateKey,
        installationId: secret.installationId,
        request: this.#jwtMaskingRequest(),
        log: quiet,
      });
    }
  }

  /** Registers every token and JWT minted from now on with `masker`, until each expires. */
  maskMintedSecretsWith(masker: SecretMasker): void {
    this.#masker = masker;
  }

  get kind(): 'app' | 'token' {
    return this.#appAuth ? 'app' : 'token';
  }

  async request<T>(
    route: string,
    params: Record<string, unknown>,
    access: GitHubAccess,
  ): Promise<Response<T>> {
    const key = `github:${access.owner}/${access.repo}`.toLowerCase();
    // A repository GitHub asked us to leave alone is not called at all, not even to mint a token.
    const send = (force: boolean) =>
      this.#deps.rateLimits.run(key, this.#policy, async () =>
        this.#send<T>(route, params, await this.#token(access, force)),
      );
    try {
      return await send(false);
    } catch (error) {
      if (statusOf(error) !== 401 || !this.#appAuth) throw error;
      // An installation token can die before its expiry (revoked, key rotated): mint once more.
      return send(true);
    }
  }

  /**
   * What the GitHub App may be granted (`GET /app` with the App's JWT: its `permissions`), for the
   * access review; undefined with a fine-grained token, whose permissions GitHub does not report.
   */
  async appPermissions(): Promise<Readonly<Record<string, string>> | undefined> {
    if (!this.#appAuth) return undefined;
    const { token } = (await this.#appAuth({ type: 'app' })) as { token: string };
    this.#masker?.register(token, { until: this.#deps.clock.now() + JWT_LIFETIME_MS });
    const response = (await this.#octokit.request('GET /app', {
      headers: { authorization: `bearer ${token}` },
    })) as unknown as { data: { permissions?: Record<string, string> } };
    const permissions = response.data.permissions ?? {};
    return Object.fromEntries(
      Object.entries(permissions)
        .filter(([k, v]) => typeof v === 'string' && /^[a-z_]{1,60}$/.test(k))
        .slice(0, 100),
    );
  }

  async #send<T>(route: string, params: Record<string, unknown>, token: string): Promise<Response<T>> {
    const response = await this.#octokit.request(route, {
      ...params,
      headers: { authorization: `token ${token}` },
    });
    return response as unknown as Response<T>;
  }

  async #token(access: GitHubAccess, force: boolean): Promise<string> {
    if (this.#pat) return this.#pat;
    const permissions = Object.fromEntries(
      Object.entries(access.permissions).sort(([a], [b]) => a.localeCompare(b)),
    );
    const key = `${access.repo}|${JSON.stringify(permissions)}`;
    const cached = this.#tokens.get(key);
    if (!force && cached && cached.expiresAt - this.#deps.clock.now() > EXPIRY_MARGIN_MS) return cached.token;
    let pending = this.#minting.get(key);
    if (!pending) {
      pending = this.#mint(access.repo, permissions).finally(() => this.#minting.delete(key));
      this.#minting.set(key, pending);
    }
    const minted = await pending;
    this.#tokens.delete(key);
    this.#tokens.set(key, minted);
    while (this.#tokens.size > MAX_CACHED_TOKENS)
      this.#tokens.delete(this.#tokens.keys().next().value as string);
    return minted.token;
  }

  async #mint(repo: string, permissions: Record<string, string>): Promise<CachedToken> {
    this.mints++;
    const auth = (await (this.#appAuth as ReturnType<typeof createAppAuth>)({
      type: 'installation',
      repositoryNames: [repo],
      permissions,
      refresh: true,
    })) as { token: string; expiresAt: string };
    const parsed = Date.parse(auth.expiresAt);
    const expiresAt = Number.isFinite(parsed) ? parsed : this.#deps.clock.now() + TOKEN_LIFETIME_MS;
    this.#masker?.register(auth.token, { until: expiresAt });
    return { token: auth.token, expiresAt };
  }

  /**
   * Octokit's request, for auth-app: the App JWT it signs for each mint (`authorization: bearer …`)
   * is registered with the redactor before the request leaves.
   */
  #jwtMaskingRequest(): Octokit['request'] {
    const base = this.#octokit.request;
    const send = base as unknown as (route: string, params?: Record<string, unknown>) => Promise<unknown>;
    const wrapped = (route: string, params?: Record<string, unknown>) => {
      const headers = params?.headers as Record<string, unknown> | undefined;
      const jwt = /^bearer\s+(\S+)$/i.exec(String(headers?.authorization ?? ''))?.[1];
      if (jwt) this.#masker?.register(jwt, { until: this.#deps.clock.now() + JWT_LIFETIME_MS });
      return send(route, params);
    };
    return Object.assign(wrapped, {
      endpoint: base.endpoint,
      defaults: base.defaults,
    }) as unknown as Octokit['request'];
  }
}

export function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** How long GitHub asks us to wait, if this error is a primary or secondary rate limit. */
export function rateLimitWait(error: unknown, nowMs: number): number | undefined {
  const status = statusOf(error);
  if (status !== 403 && status !== 429) return undefined;
  const e = error as { response?: { headers?: Record<string, string | undefined> }; message?: string };
  const headers = e.response?.headers ?? {};
  const retryAfter = retryAfterMs(headers['retry-after']);
  if (retryAfter !== undefined) return retryAfter;
  if (headers['x-ratelimit-remaining'] === '0') {
    const reset = Number(headers['x-ratelimit-reset']);
    if (Number.isFinite(reset)) return Math.max(1_000, reset * 1_000 - nowMs);
  }
  if (/secondary rate limit/i.test(e.message ?? '')) return 60_000;
  return undefined;
}

/** GitHub's primary and secondary rate limits: waits of up to 5 s are taken, with one retry. */
export const githubRateLimits: RateLimitPolicy = {
  service: 'GitHub',
  maxWaitMs: 5_000,
  maxAttempts: 2,
  waitOf: rateLimitWait,
};
