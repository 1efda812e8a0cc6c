import type { Button, KnownBlock, StaticSelect } from '@slack/web-api';
import type { AlertAction } from '../command-kit/command-spec.js';
import type { MessageArgs, MessageMetadata } from '../integrations/slack-api.js';
import { actions, button, context, section, sections } from '../slack/blocks.js';
import { escapeText, inlineCode, truncate, userMention } from '../text/escape.js';
import type { AlertEvent, Transition } from './payload.js';
import type { DigestData, RootData } from './roots.js';

/** The metadata event type of every message opsbot posts for an alert (root, reply, digest). */
export const ALERT_EVENT_TYPE = 'opsbot_alert';

const ICON: Record<Transition, string> = {
  Triggered: ':red_circle:',
  'Re-Triggered': ':red_circle:',
  Renotify: ':red_circle:',
  Warn: ':large_orange_circle:',
  'Re-Warn': ':large_orange_circle:',
  'No Data': ':white_circle:',
  'Re-No Data': ':white_circle:',
  Recovered: ':large_green_circle:',
};

export const MUTE_CHOICES = [
  { value: '1h', label: 'Mute 1 hour', ms: 3_600_000 },
  { value: '4h', label: 'Mute 4 hours', ms: 4 * 3_600_000 },
  { value: 'recovered', label: 'Mute until recovered', ms: undefined },
] as const;

export function iconOf(t: Transition): string {
  return ICON[t];
}

/** What {@link timeOf} says of a time no date can show (a stored alert from before dates were checked). */
export const UNKNOWN_TIME = '(time unknown)';

/** `10:02 UTC` (today) or `Nov 28 10:02 UTC`; never throws, whatever `ms` is. */
export function timeOf(ms: number, now: number): string {
  const d = new Date(ms);
  if (!Number.isFinite(d.getTime())) return UNKNOWN_TIME;
  const hhmm = d.toISOString().slice(11, 16);
  const today = new Date(now);
  if (Number.isFinite(today.getTime()) && today.toISOString().slice(0, 10) === d.toISOString().slice(0, 10))
    return `${hhmm} UTC`;
  return `${d.toUTCString().slice(8, 11)} ${d.getUTCDate()} ${hhmm} UTC`;
}

/**
 * The monitor's name from Datadog's event title: `[P1] [Triggered on {host:web-1}] High CPU`
 * → `High CPU` (the message shows the state, priority and scope on their own, kept current).
 */
export function displayTitle(title: string): string {
  const name = title.replace(
    /^\s*(?:\[P[1-5]\]\s*)?(?:\[[A-Za-z -]{2,20}(?: on \{[^}]{0,500}\})?\]\s*)?/,
    '',
  );
  return name.trim() || title.trim();
}

/** A Slack link whose label is escaped user text; plain (escaped) text when the URL is not https. */
export function link(url: string | undefined, label: string, max = 150): string {
  const text = escapeText(truncate(label.replace(/\s+/g, ' ').trim(), max)).replace(/\|/g, '¦');
  return url && /^https:\/\/[^\s<>|]+$/.test(url) ? `<${url}|${text}>` : text;
}

function priorityOf(p: number | undefined): string {
  return p ? `P${p}` : 'no priority';
}

/** The root message of an alert cycle: state, title, priority, scope, tags, graph, who acted, buttons. */
export function rootMessage(
  key: string,
  data: RootData,
  options: { now: number; offered?: readonly AlertAction[] },
): Omit<MessageArgs, 'channel'> {
  const monitorUrl = data.monitorUrl;
  const title = `${iconOf(data.state)} *${escapeText(data.state)}* · ${priorityOf(data.priority)} · ${link(data.link ?? monitorUrl, displayTitle(data.title), 250)}`;
  const facts = [
    `Monitor ${link(monitorUrl, data.monitorId)}`,
    data.scope ? `scope ${inlineCode(data.scope, 200)}` : 'no scope',
    `since ${timeOf(data.openedAt, options.now)}`,
  ];
  const blocks: KnownBlock[] = [section(title), context(facts.join(' · '))];
  if (data.tags.length)
    blocks.push(
      context(
        data.tags
          .slice(0, 12)
          .map((t) => inlineCode(t, 40))
          .join(' '),
      ),
    );
  if (data.snapshot && /^https:\/\/[^\s<>|]+$/.test(data.snapshot))
    blocks.push({
      type: 'image',
      image_url: data.snapshot,
      // No user text here: plain text is not escaped the way mrkdwn is.
      alt_text: `Datadog graph: monitor ${data.monitorId}`,
    });
  const history = data.transitions
    .slice(-5)
    .map((t) => `${iconOf(t.t)} ${escapeText(t.t)} ${timeOf(t.at, options.now)}`)
    .join(' → ');
  const people = [
    ...(data.ack
      ? [`:eyes: Acknowledged by ${userMention(data.ack.by)} at ${timeOf(data.ack.at, options.now)}`]
      : []),
    ...(data.mute
      ? [
          `:mute: Muted by ${userMention(data.mute.by)} ${
            data.mute.until === 'recovered'
              ? 'until it recovers'
              : `until ${timeOf(data.mute.until, options.now)}`
          }`,
        ]
      : []),
  ];
  blocks.push(context([history, ...people].filter(Boolean).join('\n')));
  const buttons = rootButtons(key, data, monitorUrl);
  // Other commands' actions (Create Jira issue…): the value is this root's key, read again from State.
  for (const offered of options.offered ?? []) buttons.push(button(offered.label, offered.action, key));
  blocks.push(actions(buttons as Button[], 'dd-alert'));
  return {
    text: `${iconOf(data.state)} ${escapeText(data.state)}: ${escapeText(truncate(displayTitle(data.title), 250))}`,
    blocks,
  };
}

function rootButtons(key: string, data: RootData, monitorUrl: string): Array<Button | StaticSelect> {
  const elements: Array<Button | StaticSelect> = [];
  const recovered = data.state === 'Recovered';
  if (!data.ack && !recovered) elements.push(button('Acknowledge', 'dd:ack', key, 'primary'));
  if (data.mute) elements.push(button('Unmute', 'dd:unmute', key));
  else if (!recovered)
    elements.push({
      type: 'static_select',
      action_id: 'dd:mute',
      placeholder: { type: 'plain_text', text: 'Mute…' },
      options: MUTE_CHOICES.map((c) => ({
        text: { type: 'plain_text', text: c.label },
        value: `${key}|${c.value}`,
      })),
    });
  elements.push({
    type: 'button',
    text: { type: 'plain_text', text: 'Open in Datadog' },
    action_id: 'link:dd-monitor',
    url: monitorUrl,
  });
  return elements;
}

/**
 * A root in its plainest form, for when {@link rootMessage} cannot render it (whatever the reason):
 * the state, the title and the monitor, escaped, and the buttons when they render. It is posted
 * instead, so that one bad alert never holds back its cycle's later transitions.
 */
export function plainRootMessage(key: string, data: RootData): Omit<MessageArgs, 'channel'> {
  const monitor = escapeText(plainOf(data.monitorId));
  const line = `:warning: ${escapeText(plainOf(data.state))}: ${escapeText(truncate(plainOf(data.title), 250))} (Datadog monitor ${monitor})`;
  const blocks: KnownBlock[] = [
    section(line),
    context('opsbot could not show this alert in full: open it in Datadog for the details.'),
  ];
  try {
    blocks.push(actions(rootButtons(key, data, plainOf(data.monitorUrl)) as Button[], 'dd-alert'));
  } catch {
    // Without buttons: `/dd mute` and `/dd monitor` still work.
  }
  return { text: line, blocks };
}

/** A later transition in its plainest form (see {@link plainRootMessage}). */
export function plainReplyMessage(alert: AlertEvent): Omit<MessageArgs, 'channel'> {
  const line = `${escapeText(plainOf(alert.transition))}: ${escapeText(truncate(plainOf(alert.title), 200))}`;
  return { text: line, blocks: [section(line)] };
}

/**
 * A stored value as text, whatever it turned out to be: strings and numbers as they are, anything
 * else as `?` (String() throws on an object whose toString is not a function).
 */
function plainOf(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '?';
}

/** A digest in its plainest form (see {@link plainRootMessage}): how many alerts. */
export function plainDigestMessage(data: DigestData): Omit<MessageArgs, 'channel'> {
  const count = Array.isArray(data.entries) ? data.entries.length : 0;
  const line = `:rotating_light: ${count} alert${count === 1 ? '' : 's'} arrived together (opsbot could not list them here: see \`/dd alerts\`).`;
  return { text: line, blocks: [section(line)] };
}

/** A later transition, as a reply in the root's thread. */
export function replyMessage(alert: AlertEvent, now: number): Omit<MessageArgs, 'channel'> {
  const line = `${iconOf(alert.transition)} *${escapeText(alert.transition)}* at ${timeOf(alert.at, now)}${
    alert.link ? ` · ${link(alert.link, 'event')}` : ''
  }`;
  const excerpt = alert.message ? escapeText(truncate(alert.message.replace(/\s+/g, ' '), 300)) : '';
  return {
    text: `${iconOf(alert.transition)} ${escapeText(alert.transition)}: ${escapeText(truncate(displayTitle(alert.title), 200))}`,
    blocks: [section(excerpt ? `${line}\n${excerpt}` : line)],
  };
}

/** The digest of one burst in a channel: how many, and each alert's state, title and link. */
export function digestMessage(data: DigestData, now: number): Omit<MessageArgs, 'channel'> {
  const minutes = Math.max(1, Math.ceil((now - data.openedAt) / 60_000));
  const count = data.entries.length;
  const head = `:rotating_light: *${count} alert${count === 1 ? '' : 's'} in the last ${minutes} min* (more arrived than Slack lets opsbot post one by one, so they are listed here)`;
  const lines = data.entries.map(
    (e) => `${iconOf(e.tr)} ${link(e.l, e.t, 100)} · monitor ${e.m} · ${escapeText(e.tr)}`,
  );
  return {
    text: `${count} alert${count === 1 ? '' : 's'} in the last ${minutes} min`,
    blocks: [
      section(head),
      ...sections(lines, 40),
      context('Later changes to an alert that has its own message update it there.'),
    ],
  };
}

/** Metadata carrying the ref key and the alert ids a message delivers (how a crash finds it again). */
export function alertMetadata(key: string, alertIds: readonly string[]): MessageMetadata {
  return { event_type: ALERT_EVENT_TYPE, event_payload: { key, alert_ids: alertIds.join(',') } };
}
