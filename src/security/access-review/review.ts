import type { Rule } from '../../access/policy.js';
import type { Clock } from '../../clock.js';
import type { SlackApi } from '../../integrations/slack-api.js';
import type { AuditStore } from '../../store/state.js';
import { type CredentialUse, credentialUse } from './integrations.js';
import { pruneFile } from './prune.js';
import { readWindow, type WindowRead } from './read-window.js';
import { unifiedDiff } from './unified-diff.js';
import { type Removals, removalCount, UsageTally, unusedGrants } from './usage.js';

const DAY = 86_400_000;
/** Most people whose workspace membership one review checks (users.info each). */
const MAX_PEOPLE_CHECKED = 300;
/** users.info calls in flight at once. */
const LOOKUPS_IN_FLIGHT = 4;

/** Someone the review flags: gone from the workspace, or from a user group a rule names. */
export type Flag =
  | { user: string; kind: 'deleted' }
  | { user: string; kind: 'left-group'; groups: string[]; action: string; seq: number }
  | { user: string; kind: 'unchecked' };

export interface AccessReview {
  /** The review's id: the window's last sequence number (0 for an empty window) and when it ran (epoch ms): `1042.1767225600000`. */
  id: string;
  days: number;
  /** ISO: the window's start, and when the review ran. */
  since: string;
  at: string;
  window: WindowRead;
  tally: UsageTally;
  removals: Removals;
  removalCount: number;
  flags: Flag[];
  /** Groups whose members could not be listed: their grants are kept. */
  unlistedGroups: string[];
  integrations: CredentialUse[];
  /** The unified diff of the configuration file removing the unused grants ('' when none). */
  diff: string;
  /** Why no diff could be made, when it could not. */
  diffProblem?: string;
}

export interface AccessReviewDeps {
  audit: Pick<AuditStore, 'firstSeqSince' | 'readAfter'>;
  access: { admins: readonly string[]; rules: readonly Rule[] };
  slack: Pick<SlackApi, 'usergroupMembers' | 'userInfo'>;
  clock: Pick<Clock, 'now'>;
  /** The configuration file as it is on disk now (`config.configPath`), and its name for the diff. */
  configFile: { name: string; read(): string };
  /** What opsbot's own credentials may do (see {@link credentialUse}). */
  credentials: Parameters<typeof credentialUse>[1];
}

/**
 * One access review over the last `days` days: who used which grant of the policy (user groups
 * resolved through Slack), the unused grants and the configuration file without them as a diff,
 * people who left the workspace or a user group, and what opsbot's own credentials could drop.
 */
export async function accessReview(deps: AccessReviewDeps, days: number): Promise<AccessReview> {
  const now = deps.clock.now();
  const since = new Date(now - days * DAY).toISOString();
  const { members, unlisted } = await groupMembers(deps);
  const tally = new UsageTally({ rules: deps.access.rules, admins: deps.access.admins, members });
  const used = new Set<string>();
  const window = await readWindow(deps.audit, since, (record) => {
    tally.add(record);
    if (
      (record.outcome === 'success' || record.outcome === 'error') &&
      !record.unreadable &&
      used.size < 1_000
    )
      used.add(record.action);
  });
  const removals = unusedGrants(tally);
  const count = removalCount(removals);
  let diff = '';
  let diffProblem: string | undefined;
  if (count > 0) {
    let text: string | undefined;
    try {
      text = deps.configFile.read();
    } catch {
      diffProblem = `the configuration file ${deps.configFile.name} could not be read`;
    }
    if (text !== undefined) {
      const pruned = pruneFile(text, deps.access.rules, removals);
      if (pruned.ok) diff = unifiedDiff(text, pruned.text, deps.configFile.name);
      else diffProblem = pruned.problem;
    }
  }
  return {
    id: `${window.to ?? 0}.${now}`,
    days,
    since,
    at: new Date(now).toISOString(),
    window,
    tally,
    removals,
    removalCount: count,
    flags: [...(await workspaceFlags(deps)), ...groupFlags(tally)],
    unlistedGroups: unlisted,
    integrations: credentialUse(used, deps.credentials),
    diff,
    ...(diffProblem ? { diffProblem } : {}),
  };
}

async function groupMembers(deps: AccessReviewDeps) {
  const members = new Map<string, ReadonlySet<string>>();
  const unlisted: string[] = [];
  const groups = [...new Set(deps.access.rules.flatMap((r) => r.usergroups ?? []))];
  for (const group of groups) {
    try {
      members.set(group, new Set(await deps.slack.usergroupMembers(group)));
    } catch {
      unlisted.push(group);
    }
  }
  return { members, unlisted };
}

/** People named in the policy (admins, rules' users) whom Slack says left the workspace. */
async function workspaceFlags(deps: AccessReviewDeps): Promise<Flag[]> {
  const people = [...new Set([...deps.access.admins, ...deps.access.rules.flatMap((r) => r.users ?? [])])];
  const flags: Flag[] = [];
  const queue = people.slice(0, MAX_PEOPLE_CHECKED);
  const worker = async () => {
    for (let user = queue.shift(); user !== undefined; user = queue.shift()) {
      try {
        if ((await deps.slack.userInfo(user)).deleted) flags.push({ user, kind: 'deleted' });
      } catch {
        flags.push({ user, kind: 'unchecked' });
      }
    }
  };
  await Promise.all(Array.from({ length: LOOKUPS_IN_FLIGHT }, worker));
  const order = new Map(people.map((p, i) => [p, i]));
  return flags.sort((a, b) => (order.get(a.user) ?? 0) - (order.get(b.user) ?? 0));
}

/** Allowed uses in the window that only a user group explains, by someone no longer in it. */
function groupFlags(tally: UsageTally): Flag[] {
  const seen = new Set<string>();
  const flags: Flag[] = [];
  for (const u of tally.unexplained) {
    const groups = u.viaGroups.filter((g) => tally.isListed(g));
    if (groups.length === 0 || seen.has(u.user)) continue;
    seen.add(u.user);
    flags.push({ user: u.user, kind: 'left-group', groups, action: u.action, seq: u.seq });
  }
  return flags;
}
