import type { Clock } from '../clock.js';
import { UserFacingError } from '../errors.js';
import type { DevEnv, DevenvApi, LaunchRequest } from '../integrations/devenv.js';
import type { SessionActor } from '../integrations/integration.js';
import type { RequestScope } from '../request-scope.js';
import type { LeaseStore } from '../store/state.js';
import { inlineCode } from '../text/escape.js';
import { sleep } from '../time/deadline.js';
import { StartLock, startLockName } from './start-lock.js';

/** How long a start waits for its new instance to show in DescribeInstances before it lets go anyway. */
export const VISIBLE_WAIT_MS = 2 * 60_000;
const VISIBLE_POLL_MS = 1_000;

export interface StartDeps {
  api: Pick<DevenvApi, 'list' | 'launch'>;
  leases: LeaseStore;
  clock: Clock;
  /** `devenv.maxPerUser`. */
  maxPerUser: number;
  random?: () => number;
}

export interface StartRequest {
  who: Exclude<SessionActor, string>;
  launch: LaunchRequest;
  /** Unique to this request: who holds the user's start lock. */
  holder: string;
  scope?: RequestScope;
  /** Told once when another start of the same user is still running and this one waits. */
  onWait?: () => Promise<void> | void;
}

/**
 * `/devenv up` after validation: the quota (`devenv.maxPerUser`) and the name hold however many
 * starts of one user run at once, in however many replicas. Under the user's start lock (a lease in
 * State, see {@link StartLock}) it lists the user's instances, refuses a name in use or a full
 * quota, launches, and keeps the lock until DescribeInstances shows the new instance (EC2 shows a
 * new instance a few seconds late), so the next start's listing counts it. A launch EC2 refused
 * lets go at once; a launch whose outcome is unknown (a timeout) keeps the lock until it lapses.
 */
export async function startDevEnv(deps: StartDeps, request: StartRequest): Promise<DevEnv> {
  const { api, clock } = deps;
  const { who, launch, scope } = request;
  const lock = new StartLock(
    { leases: deps.leases, clock, ...(deps.random ? { random: deps.random } : {}) },
    startLockName(who.teamId ?? '', who.userId),
    request.holder,
  );
  await lock.acquire(request.onWait);
  let env: DevEnv;
  let launching = false;
  try {
    const existing = await api.list(who, { owner: launch.owner }, scope);
    if (existing.some((e) => e.name === launch.name))
      throw new UserFacingError(
        `You already have a dev environment named ${inlineCode(launch.name)}. Pick another \`--name\`.`,
      );
    if (existing.length >= deps.maxPerUser)
      throw new UserFacingError(
        `You have ${existing.length} dev environment${existing.length === 1 ? '' : 's'}, the most anyone may have (${deps.maxPerUser}). Stop one first: ${existing.map((e) => `\`/devenv down ${e.name}\``).join(', ')}.`,
      );
    if (!(await lock.renew())) throw lockLost();
    launching = true;
    env = await api.launch(who, launch, scope);
  } catch (error) {
    // Nothing started (refused before launching, or EC2 answered): let go. A launch whose outcome
    // is unknown (a timeout) may have started one: the lock lapses on its own.
    if (!launching || !unknownOutcome(error)) await lock.release();
    throw error;
  }
  await waitUntilListed(deps, request, env, lock);
  return env;
}

async function waitUntilListed(deps: StartDeps, request: StartRequest, env: DevEnv, lock: StartLock) {
  const { api, clock } = deps;
  const started = clock.now();
  for (;;) {
    const listed = await api.list(request.who, { owner: request.launch.owner }, request.scope).then(
      (envs) => envs.some((e) => e.id === env.id),
      () => false,
    );
    if (listed) {
      await lock.release();
      return;
    }
    // Not seen in time: the lock lapses on its own (START_LOCK_MS after this renewal).
    if (clock.now() - started >= VISIBLE_WAIT_MS || !(await lock.renew())) return;
    await sleep(clock, VISIBLE_POLL_MS);
  }
}

function lockLost(): UserFacingError {
  return new UserFacingError(
    'Your `/devenv up` took too long to check your quota and was stopped before starting anything. Try again.',
  );
}

/** A UserFacingError or an EC2 client error: nothing was started. Anything else: it may have been. */
function unknownOutcome(error: unknown): boolean {
  if (error instanceof UserFacingError) return false;
  const fault = (error as { $fault?: unknown } | undefined)?.$fault;
  return fault !== 'client';
}
