import type { AlertAction } from '../command-kit/command-spec.js';
import type { SlackApi } from '../integrations/slack-api.js';
import type { MessageRefStore } from '../store/state.js';
import { truncate } from '../text/escape.js';
import { type AlertEvent, cycleOf, withSaneDate } from './payload.js';
import {
  alertMetadata,
  digestMessage,
  plainDigestMessage,
  plainReplyMessage,
  plainRootMessage,
  replyMessage,
  rootMessage,
} from './render.js';
import {
  applyTransition,
  DIGEST_MAX_ENTRIES,
  DIGEST_WINDOW_MS,
  type DigestData,
  digestKey,
  ensurePosted,
  newRoot,
  PENDING_TS,
  REF_TTL_MS,
  type RootData,
  readData,
  replyKey,
  rootKey,
  updateRef,
} from './roots.js';

/** What an alert in the outbox carries: the notification and the channel it was routed to. */
export interface QueuedAlert {
  alert: AlertEvent;
  channel: string;
}

/** An alert as the outbox holds it (dated sanely, whatever version stored it); throws on bad JSON. */
export function readQueued(payload: string): QueuedAlert {
  const queued = JSON.parse(payload) as QueuedAlert;
  return { ...queued, alert: withSaneDate(queued.alert) };
}

export interface DeliverDeps {
  messages: MessageRefStore;
  slack: SlackApi;
  now: () => number;
  appUrl: string;
  /** Whether roots offer "Create Jira issue" (while Jira is configured). */
  /** Other commands' buttons on alert roots (Create Jira issue…), as offered now. */
  alertActions?: () => readonly AlertAction[];
  /** Waits for the channel's next slot: posts ≈1/s (Slack's per-channel limit), updates more often. */
  pace: (kind: 'post' | 'update') => Promise<void>;
  /** A root muted "until recovered" has recovered: cancel its downtime (returns when done). */
  onRecoveredWhileMuted?: (root: RootData) => Promise<void>;
  /** A message could not be rendered and was shown in its plain form instead (to log and count). */
  renderFailed?: (error: unknown, key: string) => void;
}

/**
 * The message `render` builds, or, when it throws (for whatever reason: a date no clock can show,
 * a root stored by an older version), its plain form: an alert that cannot be rendered is still
 * shown, and never holds back what comes after it.
 */
function rendered<M>(
  deps: Pick<DeliverDeps, 'renderFailed'>,
  key: string,
  render: () => M,
  plain: () => M,
): M {
  try {
    return render();
  } catch (error) {
    deps.renderFailed?.(error, key);
    return plain();
  }
}

/** How an alert was delivered (for metrics and tests). */
export type Delivered = 'root' | 'reply' | 'digest' | 'already';

/**
 * Delivers one alert on its own: the first notification of a cycle becomes its root message;
 * a later one updates the root and replies in its thread. Safe to run again for the same alert
 * after a crash at any point: nothing is posted twice (see {@link ensurePosted}).
 */
export async function deliverOne(deps: DeliverDeps, channel: string, alert: AlertEvent): Promise<Delivered> {
  if (await inCurrentDigest(deps.messages, channel, alert.id)) return 'already';
  const key = rootKey(cycleOf(alert));
  const opened = await deps.messages.putIfAbsent(
    key,
    {
      channel,
      ts: PENDING_TS,
      data: JSON.stringify({ ...newRoot(alert, deps.appUrl), pendingSince: deps.now() }),
    },
    REF_TTL_MS,
  );
  const root = readData<RootData>(opened.ref);
  if (!root) throw new Error(`the root ${key} is unreadable`);
  const postRoot = async (data: RootData) => {
    await deps.pace('post');
    const openedBy = data.transitions[0]?.id ?? alert.id;
    const message = rendered(
      deps,
      key,
      () => rootMessage(key, data, { now: deps.now(), offered: deps.alertActions?.() ?? [] }),
      () => plainRootMessage(key, data),
    );
    return (await deps.slack.postMessage({ channel, ...message, metadata: alertMetadata(key, [openedBy]) }))
      .ts;
  };
  // This alert opened the cycle: it is delivered as the root.
  if (root.transitions[0]?.id === alert.id) {
    const { posted } = await ensurePosted<RootData>(deps, key, opened.created, postRoot);
    return posted || opened.created ? 'root' : 'already';
  }
  // A later notification: the root first (a crash may have left it unposted), then the change.
  const { ref } = await ensurePosted<RootData>(deps, key, false, postRoot);
  await applyToRoot(deps, key, alert);
  const rKey = replyKey(alert.id);
  const reply = await deps.messages.putIfAbsent(
    rKey,
    { channel, ts: PENDING_TS, data: JSON.stringify({ pendingSince: deps.now() }) },
    REF_TTL_MS,
  );
  await ensurePosted<{ pendingSince?: number }>(
    deps,
    rKey,
    reply.created,
    async () => {
      await deps.pace('post');
      const message = rendered(
        deps,
        rKey,
        () => replyMessage(alert, deps.now()),
        () => plainReplyMessage(alert),
      );
      return (
        await deps.slack.postMessage({
          channel,
          threadTs: ref.ts,
          ...message,
          metadata: alertMetadata(rKey, [alert.id]),
        })
      ).ts;
    },
    ref.ts,
  );
  // Shown even when nothing changed: a crash may have stored the change without showing it.
  await showRoot(deps, key);
  return 'reply';
}

/**
 * Applies a notification to its cycle's root, if there is one (idempotent: an alert already
 * applied changes nothing). A recovery of a root muted "until recovered" ends that downtime.
 */
async function applyToRoot(deps: DeliverDeps, key: string, alert: AlertEvent): Promise<boolean> {
  let changed = false;
  const root = await updateRef<RootData>(deps.messages, key, (data) => {
    const next = applyTransition(data, alert);
    changed = next !== data;
    return changed ? { data: next } : undefined;
  });
  if (alert.transition === 'Recovered' && root?.data.mute?.until === 'recovered')
    await deps.onRecoveredWhileMuted?.(root.data);
  return changed;
}

/** Renders a root from State and updates its message (again, if it changed meanwhile). */
export async function showRoot(
  deps: Pick<DeliverDeps, 'messages' | 'slack' | 'now'> &
    Partial<Pick<DeliverDeps, 'pace' | 'alertActions' | 'renderFailed'>>,
  key: string,
): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const ref = await deps.messages.get(key);
    const data = readData<RootData>(ref);
    if (!ref || !data || ref.ts === PENDING_TS) return;
    await deps.pace?.('update');
    const message = rendered(
      deps,
      key,
      () => rootMessage(key, data, { now: deps.now(), offered: deps.alertActions?.() ?? [] }),
      () => plainRootMessage(key, data),
    );
    await deps.slack.updateMessage({ channel: ref.channel, ts: ref.ts, ...message });
    const after = await deps.messages.get(key);
    if (!after || after.version === ref.version) return;
  }
}

export async function inCurrentDigest(
  messages: MessageRefStore,
  channel: string,
  id: string,
): Promise<boolean> {
  const digest = readData<DigestData>(await messages.get(digestKey(channel)));
  return digest?.entries.some((e) => e.id === id) ?? false;
}

/**
 * Folds a burst of alerts for one channel into its digest message. `done(ids)` is called for the
 * alerts the digest shows, as soon as it shows them (and before a new digest is started, so an
 * alert is never listed in two). Alerts already delivered on their own (a root they opened, a reply)
 * are finished that way instead. Alerts whose cycle has a root also update it (no thread reply).
 */
export async function foldIntoDigest(
  deps: DeliverDeps,
  channel: string,
  alerts: readonly AlertEvent[],
  done: (ids: string[]) => Promise<void>,
): Promise<{ digested: number; own: number }> {
  const key = digestKey(channel);
  const candidates: AlertEvent[] = [];
  let own = 0;
  const rootsToShow = new Set<string>();
  for (const alert of alerts) {
    const rKey = rootKey(cycleOf(alert));
    const root = readData<RootData>(await deps.messages.get(rKey));
    if (root?.transitions[0]?.id === alert.id || (await deps.messages.get(replyKey(alert.id)))) {
      // Begun on its own before (a crash, or a quieter moment): finish it that way.
      await deliverOne(deps, channel, alert);
      await done([alert.id]);
      own++;
      continue;
    }
    candidates.push(alert);
  }
  // Show what the current digest holds (a crash may have stored entries it never showed).
  await settleDigest(deps, channel);
  const current = readData<DigestData>(await deps.messages.get(key));
  const known = new Set(current?.entries.map((e) => e.id));
  const already = candidates.filter((a) => known.has(a.id)).map((a) => a.id);
  if (already.length) await done(already);
  let fresh = candidates.filter((a) => !known.has(a.id));
  let digested = already.length;
  while (fresh.length > 0) {
    const ref = await deps.messages.get(key);
    const data = readData<DigestData>(ref);
    const now = deps.now();
    const roomy =
      data && now - data.openedAt < DIGEST_WINDOW_MS ? DIGEST_MAX_ENTRIES - data.entries.length : 0;
    const take = fresh.slice(0, roomy > 0 ? roomy : DIGEST_MAX_ENTRIES);
    const entries = take.map(entryOf);
    if (roomy > 0 && data) {
      const stored = await updateRef<DigestData>(deps.messages, key, (d) =>
        d.seq === data.seq ? { data: { ...d, entries: [...d.entries, ...entries] } } : undefined,
      );
      if (!stored || stored.data.seq !== data.seq) continue;
    } else {
      // A new digest (the first, or the last is full or old): stored before it is posted.
      const next: DigestData = {
        seq: (data?.seq ?? 0) + 1,
        openedAt: now,
        entries,
        shown: 0,
        pendingSince: now,
      };
      if (!ref) {
        const created = await deps.messages.putIfAbsent(
          key,
          { channel, ts: PENDING_TS, data: JSON.stringify(next) },
          REF_TTL_MS,
        );
        if (!created.created) continue;
      } else if (
        !(await deps.messages.compareAndSet(key, ref.version, {
          channel,
          ts: PENDING_TS,
          data: JSON.stringify(next),
        }))
      )
        continue;
    }
    await settleDigest(deps, channel, true);
    // The roots of folded alerts' cycles take their new state (shown below, one update per root)
    // before the alerts are marked done: a crash in between only repeats an idempotent change.
    for (const alert of take) {
      const rKey = rootKey(cycleOf(alert));
      if (await applyToRoot(deps, rKey, alert)) rootsToShow.add(rKey);
    }
    await done(take.map((a) => a.id));
    digested += take.length;
    fresh = fresh.slice(take.length);
  }
  for (const rKey of rootsToShow) await showRoot(deps, rKey);
  return { digested, own };
}

/** Posts the current digest if it is pending, and updates it if it shows fewer entries than it holds. */
export async function settleDigest(deps: DeliverDeps, channel: string, justStored = false): Promise<void> {
  const key = digestKey(channel);
  const ref = await deps.messages.get(key);
  const data = readData<DigestData>(ref);
  if (!ref || !data) return;
  const searchKey = `${key}#${data.seq}`;
  if (ref.ts === PENDING_TS) {
    const posted = await ensurePosted<DigestData>(
      deps,
      key,
      justStored,
      async (d) => {
        await deps.pace('post');
        const message = rendered(
          deps,
          key,
          () => digestMessage(d, deps.now()),
          () => plainDigestMessage(d),
        );
        const ids = d.entries.map((e) => e.id);
        return (
          await deps.slack.postMessage({ channel, ...message, metadata: alertMetadata(searchKey, ids) })
        ).ts;
      },
      undefined,
      searchKey,
    );
    const shown = posted.data.entries.length;
    await updateRef<DigestData>(deps.messages, key, (d) =>
      d.seq === data.seq && d.shown < shown ? { data: { ...d, shown } } : undefined,
    );
  }
  const latest = await deps.messages.get(key);
  const d = readData<DigestData>(latest);
  if (!latest || !d || latest.ts === PENDING_TS || d.shown === d.entries.length) return;
  await deps.pace('update');
  const message = rendered(
    deps,
    key,
    () => digestMessage(d, deps.now()),
    () => plainDigestMessage(d),
  );
  await deps.slack.updateMessage({
    channel,
    ts: latest.ts,
    ...message,
    metadata: alertMetadata(
      `${key}#${d.seq}`,
      d.entries.map((e) => e.id),
    ),
  });
  await updateRef<DigestData>(deps.messages, key, (x) =>
    x.seq === d.seq && x.shown < d.entries.length ? { data: { ...x, shown: d.entries.length } } : undefined,
  );
}

function entryOf(a: AlertEvent): DigestData['entries'][number] {
  return {
    id: a.id,
    m: a.monitorId,
    t: truncate(a.title, 100),
    tr: a.transition,
    ...(a.link && a.link.length <= 300 ? { l: a.link } : {}),
  };
}
