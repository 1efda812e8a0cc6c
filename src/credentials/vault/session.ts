import type { Clock } from '../../clock.js';
import type { Logger, SecretMasker } from '../../log.js';
import { deadlineSignal } from '../../time/deadline.js';
import { type VaultHttp, VaultHttpError } from './http.js';
import { loginResultOf, type VaultLogin, type VaultLoginResult } from './login.js';

/** A token is renewed once two thirds of its lease have passed. */
const RENEW_AT_FRACTION = 2 / 3;
/** A renewal that failed for a passing reason is tried again this often (sooner near the expiry). */
const RENEW_RETRY_MS = 30_000;
/** A token this close to its expiry is not sent: a new login is made first. */
const EXPIRY_MARGIN_MS = 5_000;
/** Revoking the token on shutdown waits at most this long. */
const REVOKE_DEADLINE_MS = 2_000;
/** A login waits at most this long (the caller's own deadline may be shorter). */
const LOGIN_DEADLINE_MS = 5_000;
/** A replaced token stays masked in logs this long after it stops being used. */
const MASK_AFTER_MS = 60_000;

interface Held extends VaultLoginResult {
  /** When the lease ends on the clock (Infinity: never). */
  expiresAt: number;
}

export interface VaultSessionOptions {
  vault: VaultHttp;
  login: VaultLogin;
  clock: Clock;
  log: Logger;
  /** Every token is masked in logs from the moment it arrives. */
  masker: SecretMasker;
}

/** What the session did, for tests, metrics and the benchmark. */
export interface VaultSessionStats {
  logins: number;
  renewals: number;
  /** Renewals refused (or the lease's maximum reached), answered by a new login. */
  reLogins: number;
}

/**
 * opsbot's Vault token: obtained by logging in with its identity, renewed (`renew-self`) before its
 * lease ends, obtained again by a new login when renewal is refused or the token's maximum TTL is
 * near, never sent within seconds of its expiry, dropped on a 403 so the next call logs in again,
 * and revoked (`revoke-self`) on shutdown. Concurrent callers share one login.
 *
 * @example
 * const session = new VaultSession({ vault, login: awsIamLogin({ role: 'opsbot', mount: 'aws' }), clock, log, masker });
 * const token = await session.token(signal);
 */
export class VaultSession {
  readonly #o: VaultSessionOptions;
  #held: Held | undefined;
  #loggingIn: Promise<Held> | undefined;
  #cancelTimer: () => void = () => {};
  #closed = false;
  /** A renewal or background login under way (for {@link settled}). */
  #busy: Promise<void> | undefined;
  readonly stats: VaultSessionStats = { logins: 0, renewals: 0, reLogins: 0 };

  constructor(options: VaultSessionOptions) {
    this.#o = options;
  }

  get method(): VaultLogin['method'] {
    return this.#o.login.method;
  }

  get describe(): string {
    return this.#o.login.describe;
  }

  /** A token with time left on it: the held one, else a new login (shared by concurrent callers). */
  async token(signal?: AbortSignal): Promise<string> {
    if (this.#closed) throw new Error('the Vault session is closed');
    const held = this.#held;
    if (held && this.#usable(held)) return held.token;
    return (await this.#loginOnce(signal)).token;
  }

  /** Resolves once no login or renewal is under way (tests and benchmarks step a fake clock with it). */
  async settled(): Promise<void> {
    while (this.#loggingIn || this.#busy) {
      await Promise.allSettled([this.#loggingIn, this.#busy]);
    }
  }

  /** Vault refused `token` (403): forget it, so the next {@link token} logs in again. */
  invalidate(token: string): void {
    if (this.#held?.token !== token) return;
    this.#o.log.info({ accessor: this.#held.accessor }, 'Vault refused the token: logging in again');
    this.#drop();
  }

  /** Stops renewing and revokes the token (bounded); a development `VAULT_TOKEN` is not opsbot's to revoke. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelTimer();
    const held = this.#held;
    this.#held = undefined;
    if (!held || this.#o.login.method === 'token') return;
    const deadline = deadlineSignal(
      this.#o.clock,
      REVOKE_DEADLINE_MS,
      new AbortController().signal,
      () => new Error('revoke-self timed out'),
    );
    try {
      await this.#o.vault.request({
        method: 'POST',
        path: 'auth/token/revoke-self',
        token: held.token,
        signal: deadline.signal,
      });
      this.#o.log.info({ accessor: held.accessor }, 'Vault token revoked');
    } catch (error) {
      this.#o.log.warn(
        { accessor: held.accessor, err: { message: (error as Error).message } },
        'could not revoke the Vault token on shutdown; it expires with its lease',
      );
    } finally {
      deadline.cancel();
      this.#o.masker.retire(held.token, { after: MASK_AFTER_MS });
    }
  }

  #usable(held: Held): boolean {
    if (held.expiresAt === Number.POSITIVE_INFINITY) return true;
    const margin = Math.min(EXPIRY_MARGIN_MS, (held.leaseSeconds * 1_000) / 10);
    return this.#o.clock.now() < held.expiresAt - margin;
  }

  #loginOnce(signal?: AbortSignal): Promise<Held> {
    this.#loggingIn ??= this.#login(signal).finally(() => {
      this.#loggingIn = undefined;
    });
    return this.#loggingIn;
  }

  async #login(signal?: AbortSignal): Promise<Held> {
    const deadline = deadlineSignal(
      this.#o.clock,
      LOGIN_DEADLINE_MS,
      signal ?? new AbortController().signal,
      () => new Error(`no answer to the Vault login within ${LOGIN_DEADLINE_MS / 1_000} s`),
    );
    try {
      const result = await this.#o.login.login(this.#o.vault, deadline.signal);
      if (this.#closed) throw new Error('the Vault session is closed');
      this.stats.logins += 1;
      const held = this.#hold(result);
      this.#o.log.info(
        {
          method: this.#o.login.method,
          accessor: held.accessor,
          leaseSeconds: held.leaseSeconds,
          renewable: held.renewable,
          policies: held.policies,
        },
        'logged into Vault',
      );
      return held;
    } finally {
      deadline.cancel();
    }
  }

  #hold(result: VaultLoginResult): Held {
    const previous = this.#held;
    const expiresAt =
      result.leaseSeconds > 0 ? this.#o.clock.now() + result.leaseSeconds * 1_000 : Number.POSITIVE_INFINITY;
    this.#o.masker.register(
      result.token,
      expiresAt === Number.POSITIVE_INFINITY ? {} : { until: expiresAt + MASK_AFTER_MS },
    );
    if (previous && previous.token !== result.token)
      this.#o.masker.retire(previous.token, { after: MASK_AFTER_MS });
    const held: Held = { ...result, expiresAt };
    this.#held = held;
    this.#schedule(held);
    return held;
  }

  #drop(): void {
    this.#cancelTimer();
    if (this.#held) this.#o.masker.retire(this.#held.token, { after: MASK_AFTER_MS });
    this.#held = undefined;
  }

  /** Renewal at two thirds of the lease (or a new login when the token cannot be renewed). */
  #schedule(held: Held): void {
    this.#cancelTimer();
    if (held.expiresAt === Number.POSITIVE_INFINITY || this.#closed) return;
    const leaseMs = held.leaseSeconds * 1_000;
    this.#cancelTimer = this.#o.clock.schedule(
      () => this.#track(this.#renew(held)),
      leaseMs * RENEW_AT_FRACTION,
    );
  }

  async #renew(held: Held): Promise<void> {
    if (this.#closed || this.#held !== held) return;
    if (!held.renewable) return this.#replace(held, 'the token is not renewable');
    try {
      const { body } = await this.#o.vault.request({
        method: 'POST',
        path: 'auth/token/renew-self',
        token: held.token,
        body: { increment: `${held.leaseSeconds}s` },
      });
      if (this.#closed || this.#held !== held) return;
      const renewed = loginResultOf(body);
      this.stats.renewals += 1;
      const next = this.#hold({ ...held, ...renewed, token: held.token, accessor: held.accessor });
      this.#o.log.debug({ accessor: next.accessor, leaseSeconds: next.leaseSeconds }, 'Vault token renewed');
      // Vault caps a renewal at the token's maximum TTL: a shorter lease than asked means the end is
      // near, so a new login takes over before it (at two thirds of what is left).
      if (renewed.leaseSeconds < held.leaseSeconds) {
        this.#cancelTimer();
        this.#cancelTimer = this.#o.clock.schedule(
          () => this.#track(this.#replace(next, 'the token reaches its maximum TTL')),
          renewed.leaseSeconds * 1_000 * RENEW_AT_FRACTION,
        );
      }
    } catch (error) {
      if (this.#closed || this.#held !== held) return;
      if (error instanceof VaultHttpError && (error.status === 400 || error.status === 403)) {
        return this.#replace(held, `renewal refused (${error.status})`);
      }
      // Vault away for a moment: try again, sooner as the expiry nears; token() logs in past it.
      const left = held.expiresAt - this.#o.clock.now();
      this.#o.log.warn(
        { accessor: held.accessor, err: { message: (error as Error).message }, leftMs: left },
        'could not renew the Vault token; retrying',
      );
      if (left > EXPIRY_MARGIN_MS) {
        this.#cancelTimer = this.#o.clock.schedule(
          () => this.#track(this.#renew(held)),
          Math.min(RENEW_RETRY_MS, left / 3),
        );
      }
    }
  }

  /** Background work a timer started: kept for {@link settled}, never rejected (it logs its own failures). */
  #track(work: Promise<void>): void {
    const tracked: Promise<void> = work
      .catch(() => undefined)
      .finally(() => {
        if (this.#busy === tracked) this.#busy = undefined;
      });
    this.#busy = tracked;
  }

  /** A new login in the background; the held token serves until it is in. */
  async #replace(held: Held, why: string): Promise<void> {
    if (this.#closed || this.#held !== held) return;
    this.stats.reLogins += 1;
    this.#o.log.info({ accessor: held.accessor, why }, 'logging into Vault again');
    try {
      await this.#loginOnce();
    } catch (error) {
      this.#o.log.warn(
        { err: { message: (error as Error).message } },
        'Vault login failed; the next call tries again',
      );
      if (this.#held === held) {
        const left = held.expiresAt - this.#o.clock.now();
        if (left > EXPIRY_MARGIN_MS) {
          this.#cancelTimer = this.#o.clock.schedule(
            () => this.#track(this.#replace(held, why)),
            Math.min(RENEW_RETRY_MS, left / 3),
          );
        }
      }
    }
  }
}
