import { UserFacingError } from '../errors.js';
import type { DatadogApi } from '../integrations/datadog.js';
import type { RequestScope } from '../request-scope.js';
import type { SlackApi } from '../slack/slack-api.js';
import type { MessageRefStore } from '../store/state.js';
import { showRoot } from './deliver.js';
import { MUTE_CHOICES } from './render.js';
import { clearMute, type RootData, readData, updateRef } from './roots.js';

/** What the alert buttons (`dd:ack`, `dd:mute`, `dd:unmute`) act with. */
export interface AlertActionDeps {
  messages: MessageRefStore;
  slack: SlackApi;
  now: () => number;
  offerJira?: () => boolean;
}

const KEY = /^alert:[0-9a-f]{40}$/;
const STALE =
  'That alert is no longer known to opsbot (it is over 30 days old, or the button was changed). Use `/dd monitor <id>` instead.';

/** The root a button names, or a sentence saying what to do instead. */
export async function rootOf(deps: Pick<AlertActionDeps, 'messages'>, key: string): Promise<RootData> {
  const data = KEY.test(key) ? readData<RootData>(await deps.messages.get(key)) : undefined;
  if (!data) throw new UserFacingError(STALE);
  return data;
}

/** Records who acknowledged the alert and shows it on the root; false when someone already had. */
export async function acknowledge(
  deps: AlertActionDeps,
  key: string,
  userId: string,
): Promise<{ first: boolean; root: RootData }> {
  await rootOf(deps, key);
  let first = false;
  const stored = await updateRef<RootData>(deps.messages, key, (data) => {
    if (data.ack) return undefined;
    first = true;
    return { data: { ...data, ack: { by: userId, at: deps.now() } } };
  });
  if (!stored) throw new UserFacingError(STALE);
  if (first) await showRoot(deps, key);
  return { first, root: stored.data };
}

/** `1h` / `4h` / `recovered` from the menu's value `<key>|<choice>`. */
export function parseMuteValue(value: string): { key: string; choice: (typeof MUTE_CHOICES)[number] } {
  const [key = '', name = ''] = value.split('|');
  const choice = MUTE_CHOICES.find((c) => c.value === name);
  if (!choice || !KEY.test(key)) throw new UserFacingError(STALE);
  return { key, choice };
}

/**
 * A Datadog downtime on the alert's monitor, scoped to the alert's group (its `$ALERT_SCOPE`),
 * shown on the root with who muted it and until when.
 */
export async function muteAlert(
  deps: AlertActionDeps & { datadog: DatadogApi; scope: RequestScope },
  key: string,
  userId: string,
  choice: (typeof MUTE_CHOICES)[number],
): Promise<RootData> {
  const root = await rootOf(deps, key);
  if (root.mute) return root;
  if (root.state === 'Recovered')
    throw new UserFacingError(
      `This alert has recovered: there is nothing to mute. To mute the monitor anyway: \`/dd mute ${root.monitorId} --for 2h\`.`,
    );
  const endMs = choice.ms === undefined ? undefined : deps.now() + choice.ms;
  const { downtimeId } = await deps.datadog.mute(
    Number(root.monitorId),
    { by: userId, groupScope: downtimeScope(root.scope), ...(endMs ? { endMs } : {}) },
    deps.scope,
  );
  // Someone else may have muted (or it may have recovered) meanwhile: theirs stands, ours goes.
  let won = false;
  const stored = await updateRef<RootData>(deps.messages, key, (data) => {
    if (data.mute || data.state === 'Recovered') return undefined;
    won = true;
    return {
      data: { ...data, mute: { by: userId, until: endMs ?? 'recovered', downtimeId, at: deps.now() } },
    };
  });
  if (!won) {
    await deps.datadog.cancelDowntime(downtimeId, deps.scope);
    return stored?.data ?? root;
  }
  await showRoot(deps, key);
  return stored?.data ?? root;
}

/** Cancels the alert's downtime and clears it from the root; false when it was not muted from here. */
export async function unmuteAlert(
  deps: AlertActionDeps & { datadog: DatadogApi; scope: RequestScope },
  key: string,
): Promise<boolean> {
  const root = await rootOf(deps, key);
  if (!root.mute) return false;
  await deps.datadog.cancelDowntime(root.mute.downtimeId, deps.scope);
  await clearMute(deps.messages, key);
  await showRoot(deps, key);
  return true;
}

const TAG = /^[A-Za-z][\w.:/-]{0,199}$/;

/**
 * `$ALERT_SCOPE` (`host:web-1,env:prod`) as a downtime scope (`host:web-1 AND env:prod`); `*` for
 * an alert with no scope. A tag Datadog's search syntax could read differently is refused.
 */
export function downtimeScope(alertScope: string): string {
  const tags = alertScope
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (tags.length === 0) return '*';
  if (!tags.every((t) => TAG.test(t)))
    throw new UserFacingError(
      "This alert's scope has characters opsbot will not put into a Datadog downtime. Mute it in Datadog instead (the Open in Datadog button).",
    );
  return tags.join(' AND ');
}
