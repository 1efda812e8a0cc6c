import type { Clock } from '../clock.js';
import { ErrorCode, UserFacingError } from '../errors.js';
import type { MembershipCheck } from './policy.js';

export class UsergroupLookupError extends UserFacingError {
  constructor(options?: { cause?: unknown }) {
    super("I couldn't check your Slack user groups just now. Try again in a minute.", {
      code: ErrorCode.UpstreamUnavailable,
      ...options,
    });
  }
}

export interface UsergroupMembershipDeps {
  /** usergroups.users.list */
  fetchMembers: (usergroupId: string) => Promise<string[]>;
  clock: Pick<Clock, 'now'>;
  /** How long a member list is trusted (5 minutes). */
  ttlMs?: number;
  /** How long an old list may stand in while Slack fails (1 hour). */
  staleMs?: number;
  maxGroups?: number;
}

interface Entry {
  members: Set<string>;
  fetchedAt: number;
}

/**
 * User-group membership for access rules, cached per group for 5 minutes: at most one
 * usergroups.users.list per group per TTL, shared by concurrent callers. While Slack fails, a list
 * up to an hour old stands in; with none, the check fails (and the policy denies, saying why).
 */
export class UsergroupMembership {
  readonly #deps: Required<UsergroupMembershipDeps>;
  readonly #cache = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<Set<string>>>();
  #fetches = 0;
  #hits = 0;

  constructor(deps: UsergroupMembershipDeps) {
    this.#deps = { ttlMs: 300_000, staleMs: 3_600_000, maxGroups: 1_000, ...deps };
  }

  readonly isMember: MembershipCheck = async (usergroupId, userId) =>
    (await this.#members(usergroupId)).has(userId);

  stats(): { fetches: number; hits: number; groups: number } {
    return { fetches: this.#fetches, hits: this.#hits, groups: this.#cache.size };
  }

  async #members(group: string): Promise<Set<string>> {
    const now = this.#deps.clock.now();
    const cached = this.#cache.get(group);
    if (cached && now - cached.fetchedAt < this.#deps.ttlMs) {
      this.#hits++;
      this.#touch(group, cached);
      return cached.members;
    }
    let pending = this.#inFlight.get(group);
    if (!pending) {
      this.#fetches++;
      pending = this.#deps
        .fetchMembers(group)
        .then((members) => {
          const entry = { members: new Set(members), fetchedAt: this.#deps.clock.now() };
          this.#touch(group, entry);
          return entry.members;
        })
        .catch((error: unknown) => {
          const old = this.#cache.get(group);
          if (old && this.#deps.clock.now() - old.fetchedAt < this.#deps.staleMs) return old.members;
          throw new UsergroupLookupError({ cause: error });
        })
        .finally(() => this.#inFlight.delete(group));
      this.#inFlight.set(group, pending);
    }
    return pending;
  }

  #touch(group: string, entry: Entry): void {
    this.#cache.delete(group);
    this.#cache.set(group, entry);
    while (this.#cache.size > this.#deps.maxGroups) {
      this.#cache.delete(this.#cache.keys().next().value as string);
    }
  }
}
