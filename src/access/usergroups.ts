import type { Clock } from '../clock.js';
import { ErrorCode, UserFacingError } from '../errors.js';
import type { MembershipCheck } from './policy.js';

/** Slack could not tell us who is in a user group, and no recent enough list stands in. */
export class UsergroupLookupError extends UserFacingError {
  constructor(options?: { cause?: unknown }) {
    super("I couldn't check your Slack user groups just now. Try again in a minute.", {
      code: ErrorCode.UpstreamUnavailable,
      ...(options && 'cause' in options ? { cause: options.cause } : {}),
    });
  }
}

export interface UsergroupMembershipDeps {
  /** The members of one user group (Slack `usergroups.users.list`). */
  fetchMembers: (usergroupId: string) => Promise<string[]>;
  clock: Pick<Clock, 'now'>;
  /** How long a member list is trusted before it is fetched again. Default 5 minutes. */
  ttlMs?: number;
  /** How old a list may be and still stand in while fetching fails. Default 1 hour. */
  staleMs?: number;
  /** How many groups' lists are kept; the least recently used go first. Default 1,000. */
  maxGroups?: number;
}

interface Entry {
  members: ReadonlySet<string>;
  fetchedAt: number;
}

/**
 * User-group membership for access rules, cached per group: at most one fetch per group per TTL,
 * shared by concurrent callers. While fetching fails, a list younger than `staleMs` stands in;
 * without one the check throws {@link UsergroupLookupError} (the policy then rethrows it instead
 * of denying).
 *
 * @example
 * const membership = new UsergroupMembership({ fetchMembers: (id) => slack.usergroupMembers(id), clock });
 * await policy.evaluate(request, membership.isMember);
 */
export class UsergroupMembership {
  readonly #fetchMembers: (usergroupId: string) => Promise<string[]>;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #ttlMs: number;
  readonly #staleMs: number;
  readonly #maxGroups: number;
  /** In least-recently-used first order (a Map iterates in insertion order). */
  readonly #cache = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<ReadonlySet<string>>>();
  #fetches = 0;
  #hits = 0;

  constructor(deps: UsergroupMembershipDeps) {
    this.#fetchMembers = deps.fetchMembers;
    this.#clock = deps.clock;
    this.#ttlMs = deps.ttlMs ?? 300_000;
    this.#staleMs = deps.staleMs ?? 3_600_000;
    this.#maxGroups = deps.maxGroups ?? 1_000;
    if (!(this.#ttlMs >= 0) || !(this.#staleMs >= 0)) throw new RangeError('ttlMs and staleMs must be >= 0');
    if (!Number.isInteger(this.#maxGroups) || this.#maxGroups < 1) {
      throw new RangeError('maxGroups must be a positive integer');
    }
  }

  /** A {@link MembershipCheck}, bound: pass `membership.isMember` as it is. */
  readonly isMember: MembershipCheck = async (usergroupId, userId) =>
    (await this.#members(usergroupId)).has(userId);

  /** `fetches` started, `hits` answered without starting one (cached or shared), `groups` cached. */
  stats(): { fetches: number; hits: number; groups: number } {
    return { fetches: this.#fetches, hits: this.#hits, groups: this.#cache.size };
  }

  #members(group: string): Promise<ReadonlySet<string>> {
    const cached = this.#cache.get(group);
    if (cached && this.#clock.now() - cached.fetchedAt < this.#ttlMs) {
      this.#hits++;
      this.#remember(group, cached);
      return Promise.resolve(cached.members);
    }
    const pending = this.#inFlight.get(group);
    if (pending) {
      this.#hits++;
      return pending;
    }
    const fetch = this.#fetch(group).finally(() => this.#inFlight.delete(group));
    this.#inFlight.set(group, fetch);
    return fetch;
  }

  async #fetch(group: string): Promise<ReadonlySet<string>> {
    this.#fetches++;
    const startedAt = this.#clock.now();
    try {
      const members = new Set(await this.#fetchMembers(group));
      this.#remember(group, { members, fetchedAt: startedAt });
      return members;
    } catch (error) {
      const old = this.#cache.get(group);
      if (old && this.#clock.now() - old.fetchedAt < this.#staleMs) return old.members;
      throw new UsergroupLookupError({ cause: error });
    }
  }

  /** Stores or refreshes an entry as the most recently used, evicting beyond `maxGroups`. */
  #remember(group: string, entry: Entry): void {
    this.#cache.delete(group);
    this.#cache.set(group, entry);
    for (const oldest of this.#cache.keys()) {
      if (this.#cache.size <= this.#maxGroups) break;
      this.#cache.delete(oldest);
    }
  }
}
