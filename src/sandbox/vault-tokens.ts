import { randomBytes, randomUUID } from 'node:crypto';

/**
 * The simulated Vault's token store (`vault/token_store.go` in spirit): service tokens
 * (`hvs.` + random), each with an accessor, policies, a TTL and a maximum TTL counted from its
 * creation, renewals that extend by the token's TTL (or the increment asked) and never past the
 * maximum, and revocation. Time is the injected clock's.
 */

/** Vault's system default (and maximum) TTL: 768h. */
export const DEFAULT_TTL_SECONDS = 768 * 3_600;
const MAX_TOKENS = 10_000;

export type TokenMethod = 'aws' | 'kubernetes' | 'token';

export interface VaultToken {
  id: string;
  accessor: string;
  policies: string[];
  ns: string;
  method: TokenMethod;
  metadata: Record<string, string>;
  displayName: string;
  entityId: string;
  renewable: boolean;
  /** The TTL a renewal without increment extends by. */
  ttlSeconds: number;
  issuedAt: number;
  expiresAt: number;
  maxExpiresAt: number;
  renewals: number;
  revoked: boolean;
}

export interface NewToken {
  policies: string[];
  ns: string;
  method: TokenMethod;
  metadata?: Record<string, string>;
  displayName?: string;
  ttlSeconds?: number;
  maxTtlSeconds?: number;
  renewable?: boolean;
}

export type Renewal =
  | { ok: true; token: VaultToken; leaseSeconds: number; warning?: string }
  | { ok: false; status: number; error: string };

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function base62(n: number): string {
  let out = '';
  for (const b of randomBytes(n)) out += BASE62[b % 62];
  return out;
}

function duration(seconds: number): string {
  return seconds % 3_600 === 0
    ? `${seconds / 3_600}h`
    : seconds % 60 === 0
      ? `${seconds / 60}m`
      : `${seconds}s`;
}

export class TokenStore {
  readonly #byId = new Map<string, VaultToken>();
  readonly #byAccessor = new Map<string, VaultToken>();
  readonly #revoked = new Set<string>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  create(options: NewToken): VaultToken {
    const maxTtl = options.maxTtlSeconds || DEFAULT_TTL_SECONDS;
    const ttl = Math.min(options.ttlSeconds || DEFAULT_TTL_SECONDS, maxTtl);
    if (!Number.isInteger(ttl) || ttl <= 0 || !Number.isInteger(maxTtl)) {
      throw new Error('token: ttlSeconds and maxTtlSeconds must be positive whole seconds');
    }
    this.#prune();
    const now = this.#now();
    const token: VaultToken = {
      id: `hvs.${base62(24)}`,
      accessor: base62(24),
      policies: ['default', ...options.policies.filter((p) => p !== 'default')],
      ns: options.ns,
      method: options.method,
      metadata: { ...(options.metadata ?? {}) },
      displayName: options.displayName ?? options.method,
      entityId: options.method === 'token' ? '' : randomUUID(),
      renewable: options.renewable ?? true,
      ttlSeconds: ttl,
      issuedAt: now,
      expiresAt: now + ttl * 1_000,
      maxExpiresAt: now + maxTtl * 1_000,
      renewals: 0,
      revoked: false,
    };
    this.#byId.set(token.id, token);
    this.#byAccessor.set(token.accessor, token);
    return token;
  }

  /** The token when it is live (known, not revoked, not expired on the clock). */
  live(id: string | undefined): VaultToken | undefined {
    if (!id) return undefined;
    const token = this.#byId.get(id);
    if (!token || token.revoked || this.#now() >= token.expiresAt) return undefined;
    return token;
  }

  renew(token: VaultToken, incrementSeconds: number | undefined): Renewal {
    if (!token.renewable) return { ok: false, status: 400, error: 'lease is not renewable' };
    const now = this.#now();
    const wanted = incrementSeconds && incrementSeconds > 0 ? incrementSeconds : token.ttlSeconds;
    const room = Math.max(0, Math.floor((token.maxExpiresAt - now) / 1_000));
    const granted = Math.min(wanted, room);
    if (granted <= 0) return { ok: false, status: 403, error: 'permission denied' };
    token.expiresAt = now + granted * 1_000;
    token.renewals += 1;
    const warning =
      granted < wanted
        ? `TTL of "${duration(wanted)}" exceeded the effective max_ttl of "${duration(granted)}"; TTL value is capped accordingly`
        : undefined;
    return { ok: true, token, leaseSeconds: granted, ...(warning ? { warning } : {}) };
  }

  revoke(token: VaultToken): void {
    token.revoked = true;
    this.#revoked.add(token.accessor);
    this.#byId.delete(token.id);
  }

  wasRevoked(accessor: string): boolean {
    return this.#revoked.has(accessor);
  }

  liveTokens(): VaultToken[] {
    const now = this.#now();
    return [...this.#byId.values()].filter((t) => !t.revoked && now < t.expiresAt);
  }

  /** Keeps the store bounded: expired tokens go first, then the oldest. */
  #prune(): void {
    if (this.#byId.size < MAX_TOKENS) return;
    const now = this.#now();
    for (const [id, t] of this.#byId) if (now >= t.expiresAt) this.#byId.delete(id);
    while (this.#byId.size >= MAX_TOKENS) {
      const oldest = this.#byId.keys().next().value as string;
      this.#byId.delete(oldest);
    }
    for (const [accessor, t] of this.#byAccessor)
      if (!this.#byId.has(t.id)) this.#byAccessor.delete(accessor);
    if (this.#revoked.size > MAX_TOKENS) this.#revoked.clear();
  }
}
