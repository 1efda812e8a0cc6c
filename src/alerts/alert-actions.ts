import type { AlertAction } from '../command-kit/command-spec.js';
import { UserFacingError } from '../errors.js';
import type { DatadogApi } from '../integrations/datadog.js';
import { isScopeTag, scopeOfTags } from '../integrations/datadog-scope.js';
import type { SlackApi } from '../integrations/slack-api.js';
import type { RequestScope } from '../request-scope.js';
import type { MessageRefStore } from '../store/state.js';
import { showRoot } from './deliver.js';
import { MUTE_CHOICES } from './render.js';
import { clearMute, type RootData, readData, updateRef } from './roots.js';

/** What the alert buttons (`dd:ack`, `dd:mute`, `dd:unmute`) act with. */
export interface AlertActionDeps {
  messages: MessageRefStore;
  slack: SlackApi;
  now: () => number;
  /** Other commands' buttons on alert roots (Create Jira issue…), as offered now. */
  alertActions?: () => readonly AlertAction[];
}

/** The message a button was pressed on (Slack's `channel.id` and `message.ts`). */
export interface PressedOn {
  channelId: string;
  ts: string;
}

const KEY = /^alert:[0-9a-f]{40}$/;
const STALE =
  'That alert is no longer known to opsbot (it is over 30 days old, or the button was changed). Use `/dd monitor <id>` instead.';
export const NOT_THIS_MESSAGE =
  'This button does not belong to this message, so opsbot did nothing. Use the buttons on the alert itself, or `/dd monitor <id>`.';

/**
 * The root a button names, or a sentence saying what to do instead. With `on` (the message the
 * button was pressed on), the root must be that very message: a button's value is the client's to
 * write, and a value naming another alert's root (another channel's, one this user may not touch
 * there) is refused.
 */
export async function rootOf(
  deps: Pick<AlertActionDeps, 'messages'>,
  key: string,
  on?: PressedOn,
): Promise<RootData> {
  const ref = KEY.test(key) ? await deps.messages.get(key) : undefined;
  const data = readData<RootData>(ref);
  if (!ref || !data) throw new UserFacingError(STALE);
  if (on && (ref.channel !== on.channelId || ref.ts !== on.ts)) throw new UserFacingError(NOT_THIS_MESSAGE);
  return data;
}

/** {@link rootOf} for a button, which is always on a message: no message, no root. */
function rootPressed(
  deps: Pick<AlertActionDeps, 'messages'>,
  key: string,
  on: PressedOn | undefined,
): Promise<RootData> {
  if (!on) return Promise.reject(new UserFacingError(NOT_THIS_MESSAGE));
  return rootOf(deps, key, on);
}

/** Records who acknowledged the alert and shows it on the root; false when someone already had. */
export async function acknowledge(
  deps: AlertActionDeps,
  key: string,
  userId: string,
  on: PressedOn | undefined,
): Promise<{ first: boolean; root: RootData }> {
  await rootPressed(deps, key, on);
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
  on: PressedOn | undefined,
): Promise<RootData> {
  const root = await rootPressed(deps, key, on);
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
  on: PressedOn | undefined,
): Promise<boolean> {
  const root = await rootPressed(deps, key, on);
  if (!root.mute) return false;
  await deps.datadog.cancelDowntime(root.mute.downtimeId, deps.scope);
  await clearMute(deps.messages, key);
  await showRoot(deps, key);
  return true;
}

/**
 * `$ALERT_SCOPE` (`host:web-1,env:prod`) as a downtime scope (`host:web-1 AND env:prod`); `*` for
 * an alert with no scope. Only `key:value` tags are put in a scope: anything Datadog's search
 * syntax could read as more (`OR`, `NOT`, `TO`, a wildcard, parentheses, quotes, a negation) is
 * refused.
 */
export function downtimeScope(alertScope: string): string {
  const tags = alertScope
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (tags.length === 0) return '*';
  if (!tags.every(isScopeTag))
    throw new UserFacingError(
      "This alert's scope is not a list of `key:value` tags, so opsbot will not put it into a Datadog downtime. Mute it in Datadog instead (the Open in Datadog button), or mute the whole monitor with `/dd mute <id>`.",
    );
  return scopeOfTags(tags);
}
