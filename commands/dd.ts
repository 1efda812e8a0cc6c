import type { MonitorDetail, MonitorState, MonitorSummary } from '../src/integrations/datadog.js';
import { context, header, sections } from '../src/slack/blocks.js';
import { defineCommand, type Reply } from '../src/slack/command-spec.js';
import { escapeText, inlineCode, userMention } from '../src/slack/escape.js';
import { notAvailableYet } from './not-yet.js';

const MONITOR = /^\d{1,15}$/;
const DAY = 86_400_000;

/** `/dd`: Datadog monitors and recent alerts. The grammar is CONTRACT.md's. */
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
      args: [{ name: 'id', pattern: MONITOR, hint: 'id' }],
      examples: ['monitor 123456'],
      run: async (ctx, { args }) =>
        monitorReply(await ctx.apis.datadog.getMonitor(Number(args.id), ctx.scope)),
    }),
    sub({
      name: 'mute',
      summary: 'mute a monitor for a while',
      args: [{ name: 'id', pattern: MONITOR, hint: 'id' }],
      flags: [
        { name: 'for', kind: 'duration', max: 7 * DAY, hint: '2h', description: 'how long (default 1h)' },
      ],
      examples: ['mute 123456 --for 2h'],
      run: async (ctx, { args, flags }) => {
        const forMs = flags.for ?? 3_600_000;
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
      args: [{ name: 'id', pattern: MONITOR, hint: 'id' }],
      examples: ['unmute 123456'],
      run: async (ctx, { args }) => {
        const count = await ctx.apis.datadog.unmute(Number(args.id), ctx.scope);
        if (count === 0) return { text: `Datadog monitor ${args.id} is not muted.` };
        return {
          text: `:loud_sound: ${userMention(ctx.actor.userId)} unmuted Datadog monitor ${args.id}.`,
          responseType: 'in_channel',
        };
      },
    }),
    sub({
      name: 'alerts',
      readOnly: true,
      summary: 'the alerts opsbot has posted recently, newest first',
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
      run: notAvailableYet('dd', 'alerts'),
    }),
  ],
});

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

function monitorReply(m: MonitorDetail): Reply {
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
  ];
  return {
    text: `${link(m.url, `${m.name} (${m.id})`)}\n${lines.join('\n')}`,
    blocks: [header(`${m.name} (${m.id})`), ...sections(lines), context(link(m.url, 'Open in Datadog'))],
  };
}
