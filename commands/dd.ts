import { acknowledge, muteAlert, parseMuteValue, unmuteAlert } from '../src/alerts/alert-actions.js';
import type { AlertEvent } from '../src/alerts/payload.js';
import { link as alertLink, displayTitle, iconOf, timeOf } from '../src/alerts/render.js';
import { type AlertReport, alertReport, monitorHistory } from '../src/alerts/report.js';
import { routeAlert } from '../src/alerts/routes.js';
import {
  type CommandContext,
  defineCommand,
  offeredAlertActions,
  type Reply,
} from '../src/command-kit/command-spec.js';
import { formatDuration } from '../src/config/parsers.js';
import { UserFacingError } from '../src/errors.js';
import type { MonitorDetail, MonitorState, MonitorSummary } from '../src/integrations/datadog.js';
import { context, header, sections } from '../src/slack/blocks.js';
import { channelMention, escapeText, inlineCode, userMention } from '../src/text/escape.js';

const MONITOR = /^\d{1,15}$/;
const DAY = 86_400_000;

/** `/dd`: Datadog monitors and recent alerts. Its grammar is part of the operator interface (README.md's command table). */
export const dd = defineCommand({
  name: 'dd',
  description: 'Datadog monitors: list, inspect, mute, unmute; recent alerts',
  needs: ['datadog'],
  subcommands: (sub) => [
    sub({
      name: 'monitors',
      readOnly: true,
      summary: 'monitors that are alerting (or in another state)',
      flags: [
        {
          name: 'state',
          choices: ['alert', 'warn', 'no data', 'ok'],
          description: 'only this state (default alert)',
        },
        {
          name: 'tag',
          pattern: /^[A-Za-z0-9_.:/-]{1,200}$/,
          hint: 'team:web',
          accepts: 'a Datadog tag, like `team:web`',
          description: 'only monitors with this tag',
        },
      ],
      examples: ['monitors --tag team:payments'],
      run: async (ctx, { flags }) => {
        const state = STATES[flags.state ?? 'alert'] ?? 'Alert';
        const monitors = await ctx.apis.datadog.listMonitors(
          { state, limit: 30, ...(flags.tag ? { tag: flags.tag } : {}) },
          ctx.scope,
        );
        return monitorsReply(monitors, state, flags.tag);
      },
    }),
    sub({
      name: 'monitor',
      readOnly: true,
      summary: 'one monitor: state, query, recent transitions',
      args: [{ name: 'id', pattern: MONITOR, hint: 'id', accepts: 'a monitor id (digits), like `1234567`' }],
      examples: ['monitor 123456'],
      run: async (ctx, { args }) => {
        const monitor = await ctx.apis.datadog.getMonitor(Number(args.id), ctx.scope);
        const now = ctx.services.clock.now();
        const seen = await monitorHistory(
          ctx.services.state.outbox,
          ctx.services.file.alerts,
          String(monitor.id),
          now - 7 * DAY,
        );
        return monitorReply(monitor, seen, now);
      },
    }),
    sub({
      name: 'mute',
      summary: 'mute a monitor for a while',
      args: [{ name: 'id', pattern: MONITOR, hint: 'id', accepts: 'a monitor id (digits), like `1234567`' }],
      flags: [
        { name: 'for', kind: 'duration', max: 7 * DAY, hint: '2h', description: 'how long (default 1h)' },
      ],
      examples: ['mute 123456 --for 2h'],
      run: async (ctx, { args, flags }) => {
        const forMs = flags.for ?? 3_600_000;
        await mayMuteHere(ctx, await ctx.apis.datadog.getMonitor(Number(args.id), ctx.scope), 'mute');
        const endMs = ctx.services.clock.now() + forMs;
        await ctx.apis.datadog.mute(Number(args.id), { endMs, by: ctx.actor.userId }, ctx.scope);
        const until = new Date(endMs).toISOString().slice(0, 16).replace('T', ' ');
        return {
          text: `:mute: ${userMention(ctx.actor.userId)} muted Datadog monitor ${args.id} until ${until} UTC (\`/dd unmute ${args.id}\` ends it sooner).`,
          responseType: 'in_channel',
        };
      },
    }),
    sub({
      name: 'unmute',
      summary: 'unmute a monitor',
      args: [{ name: 'id', pattern: MONITOR, hint: 'id', accepts: 'a monitor id (digits), like `1234567`' }],
      examples: ['unmute 123456'],
      run: async (ctx, { args }) => {
        await mayMuteHere(ctx, await ctx.apis.datadog.getMonitor(Number(args.id), ctx.scope), 'unmute');
        const { canceled, others } = await ctx.apis.datadog.unmute(Number(args.id), ctx.scope);
        const theirs =
          others > 0
            ? `${others === 1 ? 'A downtime' : `${others} downtimes`} created in Datadog (not by opsbot) still ${others === 1 ? 'mutes' : 'mute'} it: opsbot leaves ${others === 1 ? 'that' : 'those'} alone; end ${others === 1 ? 'it' : 'them'} in Datadog if ${others === 1 ? 'it is' : 'they are'} no longer wanted.`
            : '';
        if (canceled === 0)
          return {
            text: others
              ? `opsbot has not muted Datadog monitor ${args.id}. ${theirs}`
              : `Datadog monitor ${args.id} is not muted.`,
          };
        return {
          text: `:loud_sound: ${userMention(ctx.actor.userId)} unmuted Datadog monitor ${args.id}.${theirs ? ` ${theirs}` : ''}`,
          responseType: 'in_channel',
        };
      },
    }),
    sub({
      name: 'alerts',
      readOnly: true,
      summary: 'the alerts opsbot received recently: counts by monitor and transition',
      flags: [
        {
          name: 'since',
          kind: 'duration',
          max: 30 * DAY,
          hint: '1h',
          description: 'only this recent (default 1h)',
        },
      ],
      examples: ['alerts --since 1h'],
      run: async (ctx, { flags }) => {
        const sinceMs = flags.since ?? 3_600_000;
        const report = await alertReport(
          ctx.services.state.outbox,
          ctx.services.file.alerts,
          ctx.services.clock.now() - sinceMs,
        );
        return alertsReply(report, sinceMs, (id) => ctx.apis.datadog.monitorUrl(id));
      },
    }),
  ],
  actions: {
    'dd:ack': async (ctx, value) => {
      const { first, root } = await acknowledge(alertDeps(ctx), value, ctx.actor.userId, ctx.message);
      const ack = root.ack ?? { by: ctx.actor.userId, at: ctx.services.clock.now() };
      return {
        text: first
          ? `:eyes: You acknowledged ${escapeText(displayTitle(root.title))}.`
          : `${userMention(ack.by)} already acknowledged this alert at ${timeOf(ack.at, ctx.services.clock.now())}.`,
      };
    },
    'dd:mute': async (ctx, value) => {
      const { key, choice } = parseMuteValue(value);
      const root = await muteAlert(
        { ...alertDeps(ctx), datadog: ctx.apis.datadog, scope: ctx.scope },
        key,
        ctx.actor.userId,
        choice,
        ctx.message,
      );
      const mute = root.mute;
      if (mute && mute.by !== ctx.actor.userId)
        return { text: `${userMention(mute.by)} already muted this alert.` };
      const until =
        mute?.until === 'recovered' || mute === undefined
          ? 'until it recovers'
          : `until ${timeOf(mute.until, ctx.services.clock.now())}`;
      return {
        text: `:mute: Muted Datadog monitor ${root.monitorId}${root.scope ? ` for ${inlineCode(root.scope)}` : ''} ${until}.`,
      };
    },
    'dd:unmute': async (ctx, value) => {
      const done = await unmuteAlert(
        { ...alertDeps(ctx), datadog: ctx.apis.datadog, scope: ctx.scope },
        value,
        ctx.message,
      );
      return { text: done ? ':loud_sound: Unmuted.' : 'This alert is not muted from opsbot.' };
    },
  },
});

/**
 * `/dd mute|unmute` act on a monitor from the channel its alerts go to (the alert routes decide,
 * from the monitor's tags, priority and id, as they do for its alerts); admins anywhere.
 */
async function mayMuteHere(
  ctx: CommandContext<'datadog'>,
  monitor: MonitorDetail,
  verb: 'mute' | 'unmute',
): Promise<void> {
  if (ctx.isAdmin) return;
  const channel = routeAlert(ctx.services.file.alerts, {
    monitorId: String(monitor.id),
    tags: monitor.tags,
    scope: '',
    ...(monitor.priority && monitor.priority >= 1 && monitor.priority <= 5
      ? { priority: monitor.priority as 1 | 2 | 3 | 4 | 5 }
      : {}),
  });
  if (channel === ctx.actor.channelId) return;
  throw new UserFacingError(
    channel
      ? `The alerts of Datadog monitor ${monitor.id} go to ${channelMention(channel)}: ${verb} it from there (or ask an opsbot admin).`
      : `The alerts of Datadog monitor ${monitor.id} go to no channel (no alert route takes them): only an opsbot admin can ${verb} it.`,
  );
}

function alertDeps(ctx: CommandContext<'datadog'>) {
  return {
    messages: ctx.services.state.messages,
    slack: ctx.services.slack,
    now: () => ctx.services.clock.now(),
    alertActions: () => offeredAlertActions(ctx.services.commands, ctx.services.configured),
  };
}

function counts(map: Map<string, number>): string {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .map(([t, n]) => `${escapeText(t)} ${n}`)
    .join(', ');
}

function alertsReply(report: AlertReport, sinceMs: number, urlOf: (id: string) => string): Reply {
  const window = `the last ${formatDuration(sinceMs)}`;
  if (report.total === 0) return { text: `opsbot received no Datadog alerts in ${window}.` };
  const title = `${report.truncated ? 'At least ' : ''}${report.total} Datadog alert${report.total === 1 ? '' : 's'} received in ${window}`;
  const notes = [
    ...(report.waiting ? [`${report.waiting} still waiting to be posted`] : []),
    ...(report.unrouted
      ? [`${report.unrouted} matched no route (set \`alerts.defaultChannel\` in the configuration)`]
      : []),
  ];
  const lines = [
    `*By transition:* ${counts(report.byTransition)}`,
    ...(notes.length ? [`_${notes.join('; ')}_`] : []),
    '*By monitor:*',
    ...report.byMonitor
      .slice(0, 25)
      .map(
        (m) =>
          `• ${alertLink(urlOf(m.monitorId), displayTitle(m.title), 100)} (${m.monitorId}): ${m.count} · ${counts(m.transitions)}`,
      ),
    ...(report.byMonitor.length > 25 ? [`_…and ${report.byMonitor.length - 25} more monitors_`] : []),
  ];
  return { text: `${escapeText(title)}\n${lines.join('\n')}`, blocks: [header(title), ...sections(lines)] };
}

const STATES: Record<string, MonitorState> = { alert: 'Alert', warn: 'Warn', 'no data': 'No Data', ok: 'OK' };
const ICON: Record<string, string> = {
  Alert: ':red_circle:',
  Warn: ':large_orange_circle:',
  'No Data': ':white_circle:',
  OK: ':large_green_circle:',
};

function link(url: string, text: string): string {
  const label = escapeText(text.length > 120 ? `${text.slice(0, 119)}…` : text).replace(/\|/g, '¦');
  return /^https:\/\/[^\s<>|]+$/.test(url) ? `<${url}|${label}>` : label;
}

function line(m: MonitorSummary): string {
  const priority = m.priority ? ` · P${m.priority}` : '';
  return `${ICON[m.state] ?? ':grey_question:'} ${link(m.url, m.name)} (${m.id})${priority} · ${m.tags.map((t) => inlineCode(t)).join(' ')}`;
}

function monitorsReply(monitors: MonitorSummary[], state: MonitorState, tag: string | undefined): Reply {
  const where = tag ? ` tagged ${inlineCode(tag)}` : '';
  if (monitors.length === 0) return { text: `No Datadog monitors in state ${state}${where}.` };
  const title = `${monitors.length} Datadog monitor${monitors.length === 1 ? '' : 's'} in state ${state}${tag ? ` tagged ${tag}` : ''}`;
  const lines = monitors.map(line);
  return { text: `${escapeText(title)}\n${lines.join('\n')}`, blocks: [header(title), ...sections(lines)] };
}

function monitorReply(m: MonitorDetail, seen: AlertEvent[], now: number): Reply {
  const excerpt = m.message.length > 300 ? `${m.message.slice(0, 299)}…` : m.message;
  const mutes = m.mutes.length
    ? m.mutes
        .map(
          (d) =>
            `muted${d.scope === '*' ? '' : ` for ${inlineCode(d.scope)}`} until ${d.until ? `${d.until.slice(0, 16).replace('T', ' ')} UTC` : 'unmuted'}`,
        )
        .join('; ')
    : 'not muted';
  const lines = [
    `${ICON[m.state] ?? ':grey_question:'} *${escapeText(m.state)}*${m.priority ? ` · P${m.priority}` : ''} · ${mutes}`,
    `*Query:* ${inlineCode(m.query.slice(0, 500))}`,
    ...(excerpt ? [`*Message:* ${escapeText(excerpt)}`] : []),
    ...(m.tags.length ? [`*Tags:* ${m.tags.map((t) => inlineCode(t)).join(' ')}`] : []),
    seen.length
      ? `*Seen by opsbot:* ${seen
          .map(
            (a) =>
              `${iconOf(a.transition)} ${escapeText(a.transition)} ${timeOf(a.at, now)}${a.scope ? ` ${inlineCode(a.scope, 60)}` : ''}`,
          )
          .join(' · ')}`
      : '*Seen by opsbot:* no alerts in the last 7 days',
  ];
  return {
    text: `${link(m.url, `${m.name} (${m.id})`)}\n${lines.join('\n')}`,
    blocks: [header(`${m.name} (${m.id})`), ...sections(lines), context(link(m.url, 'Open in Datadog'))],
  };
}
