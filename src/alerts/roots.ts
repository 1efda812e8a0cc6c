import type { SlackApi } from '../integrations/slack-api.js';
import { MAX_DURATION_MS } from '../store/limits.js';
import type { MessageRef, MessageRefStore } from '../store/state.js';
import type { AlertEvent, Transition } from './payload.js';
import { ALERT_EVENT_TYPE } from './render.js';

/**
 * Messages opsbot posts for alerts, remembered in State (`messages`) so that a restart (or another
 * replica) keeps threading. A ref is created with ts `pending` *before* its message is posted: a
 * ref still pending when work resumes means "this may have been posted already", and the message
 * is looked for in Slack by its metadata before anything is posted again. Sends are at least once;
 * refs make them idempotent, so no alert gets two roots.
 */
export const PENDING_TS = 'pending';
/** How long a root (or digest) is remembered: 30 days, State's longest. */
export const REF_TTL_MS = MAX_DURATION_MS;

/** What a root keeps: enough to render it again, and who acted on it. */
export interface RootData {
  monitorId: string;
  scope: string;
  cycleKey: string;
  title: string;
  /** The monitor's page in the Datadog web app of the configured site. */
  monitorUrl: string;
  priority?: number;
  tags: string[];
  link?: string;
  snapshot?: string;
  /** The latest transition shown. */
  state: Transition;
  openedAt: number;
  transitions: Array<{ t: Transition; at: number; id: string }>;
  ack?: { by: string; at: number };
  /** `until`: epoch ms, or until the alert recovers (opsbot cancels the downtime then). */
  mute?: { by: string; until: number | 'recovered'; downtimeId: string; at: number };
  /** Set while ts is pending: when posting began (bounds the search for a lost post). */
  pendingSince?: number;
}

/** A digest: one message per burst per channel, listing alerts folded into it. */
export interface DigestData {
  seq: number;
  openedAt: number;
  entries: Array<{ id: string; m: string; t: string; tr: Transition; l?: string }>;
  /** How many entries the message in Slack shows. */
  shown: number;
  pendingSince?: number;
}

/** Most alerts one digest message lists; the next one starts a new digest. */
export const DIGEST_MAX_ENTRIES = 40;
/** A digest older than this is left as it is and a new one starts. */
export const DIGEST_WINDOW_MS = 2 * 60_000;
const TRANSITIONS_KEPT = 10;

export const rootKey = (cycle: string) => `alert:${cycle}`;
export const replyKey = (alertId: string) => `alert-reply:${alertId}`;
export const digestKey = (channel: string) => `alert-digest:${channel}`;

export function newRoot(alert: AlertEvent, appUrl: string): RootData {
  return {
    monitorId: alert.monitorId,
    scope: alert.scope,
    cycleKey: alert.cycleKey,
    title: alert.title,
    monitorUrl: `${appUrl}/monitors/${alert.monitorId}`,
    ...(alert.priority ? { priority: alert.priority } : {}),
    tags: alert.tags.slice(0, 20),
    ...(alert.link ? { link: alert.link } : {}),
    ...(alert.snapshot ? { snapshot: alert.snapshot } : {}),
    state: alert.transition,
    openedAt: alert.at,
    transitions: [{ t: alert.transition, at: alert.at, id: alert.id }],
  };
}

/** The root after a later notification of its cycle (idempotent: an id already applied changes nothing). */
export function applyTransition(root: RootData, alert: AlertEvent): RootData {
  if (root.transitions.some((t) => t.id === alert.id)) return root;
  const transitions = [...root.transitions, { t: alert.transition, at: alert.at, id: alert.id }]
    .sort((a, b) => a.at - b.at)
    .slice(-TRANSITIONS_KEPT);
  // Renotify repeats the state it is in; anything else is the new state. A notification that
  // arrives late (older than the newest one applied) changes the history only.
  const latest = transitions.at(-1) as { t: Transition; id: string };
  const newest = latest.id === alert.id;
  if (!newest) return { ...root, transitions };
  const state = latest.t === 'Renotify' ? root.state : latest.t;
  return {
    ...root,
    title: alert.title,
    state,
    transitions,
    ...(alert.snapshot ? { snapshot: alert.snapshot } : {}),
    ...(alert.link ? { link: alert.link } : {}),
  };
}

/** Takes the mute off a root (only `downtimeId`'s, when given: a newer mute stays). */
export function clearMute(messages: MessageRefStore, key: string, downtimeId?: string) {
  return updateRef<RootData>(messages, key, (data) => {
    if (!data.mute || (downtimeId && data.mute.downtimeId !== downtimeId)) return undefined;
    const { mute: _, ...rest } = data;
    return { data: rest };
  });
}

export function readData<T>(ref: MessageRef | undefined): T | undefined {
  if (!ref?.data) return undefined;
  try {
    return JSON.parse(ref.data) as T;
  } catch {
    return undefined;
  }
}

/**
 * Changes a ref's data with compare-and-set, retrying when someone else changed it first (a
 * button press while the dispatcher updates the same root). `change` returns undefined to leave
 * it as it is. Returns the ref as stored afterwards.
 */
export async function updateRef<T>(
  messages: MessageRefStore,
  key: string,
  change: (data: T, ref: MessageRef) => { data: T; ts?: string } | undefined,
): Promise<{ ref: MessageRef; data: T } | undefined> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const ref = await messages.get(key);
    const data = readData<T>(ref);
    if (!ref || data === undefined) return undefined;
    const next = change(data, ref);
    if (!next) return { ref, data };
    const stored = await messages.compareAndSet(key, ref.version, {
      channel: ref.channel,
      ts: next.ts ?? ref.ts,
      data: JSON.stringify(next.data),
    });
    if (stored) return { ref: stored, data: next.data };
  }
  throw new Error(`could not update ${key}: it kept changing`);
}

/** Slack ts (seconds.micros) of an epoch-ms time. */
export function tsOf(ms: number): string {
  return (Math.max(0, ms) / 1_000).toFixed(6);
}

/**
 * Makes sure the message behind a pending ref exists exactly once: when this call did not create
 * the ref (`fresh` false), a previous attempt may have posted it before dying, so Slack is searched
 * for it by metadata first; only when it is not there is it posted. The ts is then stored.
 */
export async function ensurePosted<T extends { pendingSince?: number }>(
  deps: { messages: MessageRefStore; slack: SlackApi },
  key: string,
  fresh: boolean,
  post: (data: T) => Promise<string>,
  threadTs?: string,
  /** The metadata key the message carries, when it is not `key` (a digest's carries its number). */
  searchKey = key,
): Promise<{ ref: MessageRef; data: T; posted: boolean }> {
  const ref = await deps.messages.get(key);
  const data = readData<T>(ref);
  if (!ref || data === undefined) throw new Error(`${key} is not remembered`);
  if (ref.ts !== PENDING_TS) return { ref, data, posted: false };
  const since = (data.pendingSince ?? 0) - 60_000;
  const found = fresh
    ? undefined
    : await deps.slack.findByMetadata({
        channel: ref.channel,
        ...(threadTs ? { threadTs } : {}),
        oldestTs: tsOf(since),
        eventType: ALERT_EVENT_TYPE,
        key: searchKey,
      });
  const ts = found ?? (await post(data));
  const stored = await updateRef<T>(deps.messages, key, (current, r) =>
    r.ts === PENDING_TS ? { data: { ...current, pendingSince: undefined }, ts } : undefined,
  );
  if (!stored) throw new Error(`${key} disappeared while posting`);
  return { ...stored, posted: found === undefined };
}
