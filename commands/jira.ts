import { UserFacingError } from '../src/errors.js';
import type { JiraIssue, JiraSprint } from '../src/integrations/jira.js';
import { context, header, sections } from '../src/slack/blocks.js';
import { type CommandContext, defineCommand, type Reply } from '../src/slack/command-spec.js';
import { withDefaultSubcommand } from '../src/slack/default-subcommand.js';
import { escapeText, inlineCode, userMention } from '../src/slack/escape.js';
import { notAvailableYet } from './not-yet.js';

const KEY = /^[A-Z][A-Z0-9_]{1,9}-\d{1,9}$/;
const PROJECT = /^[A-Z][A-Z0-9_]{1,9}$/;
const BOARD = /^\d{1,10}$/;

/**
 * `/jira`: look up, search, create, move, assign and comment on issues, and the active sprint.
 * The grammar is CONTRACT.md's; `/jira OPS-42` is `/jira issue OPS-42`.
 */
export const jira = withDefaultSubcommand(
  defineCommand({
    name: 'jira',
    description: 'Jira issues: look up, search, create, move, assign, comment; the active sprint',
    needs: ['jira'],
    subcommands: (sub) => [
      sub({
        name: 'issue',
        readOnly: true,
        summary: 'one issue: summary, status, assignee, link',
        args: [{ name: 'key', pattern: KEY, hint: 'KEY-1' }],
        examples: ['issue OPS-42'],
        run: async (ctx, { args }) => issueReply(await ctx.apis.jira.getIssue(args.key, ctx.scope)),
      }),
      sub({
        name: 'create',
        summary:
          'create an issue (in `jira.defaultProject` when no project is given); with no summary, a form',
        args: [
          { name: 'project', pattern: PROJECT, hint: 'PROJECT', optional: true },
          { name: 'summary', maxLength: 255, optional: true },
          { name: 'description', rest: true, optional: true, maxLength: 8_000 },
        ],
        flags: [
          { name: 'type', choices: ['task', 'bug', 'story'], description: 'issue type (default task)' },
          {
            name: 'priority',
            choices: ['highest', 'high', 'medium', 'low', 'lowest'],
            description: 'priority',
          },
        ],
        examples: [
          'create OPS "Rotate the staging certificate" priority=high',
          'create "Flaky login test"',
          'create',
        ],
        run: notAvailableYet('jira', 'create'),
      }),
      sub({
        name: 'move',
        summary: 'move an issue to another status',
        args: [
          { name: 'key', pattern: KEY, hint: 'KEY-1' },
          { name: 'status', rest: true, maxLength: 60 },
        ],
        examples: ['move OPS-42 In Progress'],
        run: async (ctx, { args }) => {
          const moved = await ctx.apis.jira.move(args.key, args.status, ctx.scope);
          return {
            text: `:arrow_right: ${userMention(ctx.actor.userId)} moved ${keyLink(ctx, args.key)} from ${escapeText(moved.from)} to *${escapeText(moved.to)}*.`,
            responseType: 'in_channel',
          };
        },
      }),
      sub({
        name: 'assign',
        summary: 'assign an issue to someone (or yourself)',
        args: [
          { name: 'key', pattern: KEY, hint: 'KEY-1' },
          { name: 'assignee', kind: 'user', hint: '@user|me' },
        ],
        examples: ['assign OPS-42 me'],
        run: async (ctx, { args }) => {
          // Mapped through `jira.users` before any call: an unmapped user costs Jira nothing.
          const accountId = ctx.services.file.jira.users[args.assignee];
          if (!accountId)
            throw new UserFacingError(
              `${userMention(args.assignee)} has no Jira account in opsbot's configuration. Ask an opsbot admin to add \`${args.assignee}: <Jira account id>\` under \`jira.users\`.`,
            );
          await ctx.apis.jira.assign(args.key, accountId, ctx.scope);
          return {
            text: `:bust_in_silhouette: ${userMention(ctx.actor.userId)} assigned ${keyLink(ctx, args.key)} to ${userMention(args.assignee)}.`,
            responseType: 'in_channel',
          };
        },
      }),
      sub({
        name: 'comment',
        summary: 'comment on an issue',
        args: [
          { name: 'key', pattern: KEY, hint: 'KEY-1' },
          { name: 'text', rest: true, maxLength: 3_000 },
        ],
        examples: ['comment OPS-42 Deployed to staging, please verify'],
        run: async (ctx, { args }) => {
          await ctx.apis.jira.comment(args.key, args.text, ctx.scope);
          return { text: `:speech_balloon: Commented on ${keyLink(ctx, args.key)}.` };
        },
      }),
      sub({
        name: 'search',
        readOnly: true,
        summary: 'issues whose text matches',
        args: [{ name: 'text', rest: true, maxLength: 200 }],
        flags: [
          { name: 'project', pattern: PROJECT, hint: 'KEY', description: 'only this project' },
          { name: 'limit', kind: 'number', min: 1, max: 50, description: 'at most this many (default 10)' },
        ],
        examples: ['search login timeout --project OPS'],
        run: async (ctx, { args, flags }) => {
          const limit = flags.limit ?? 10;
          const found = await ctx.apis.jira.search(
            args.text,
            { ...(flags.project ? { project: flags.project } : {}), limit },
            ctx.scope,
          );
          if (found.length === 0) return { text: `No Jira issues match ${inlineCode(args.text, 100)}.` };
          const title = `${found.length} Jira issue${found.length === 1 ? '' : 's'} matching “${args.text.slice(0, 80)}”`;
          const lines = found.map(line);
          return {
            text: `${escapeText(title)}\n${lines.join('\n')}`,
            blocks: [header(title), ...sections(lines)],
          };
        },
      }),
      sub({
        name: 'sprint',
        readOnly: true,
        summary: 'the active sprint of a board (default `jira.defaultBoard`): its issues by status',
        args: [{ name: 'board', pattern: BOARD, hint: 'board-id', optional: true }],
        examples: ['sprint 12', 'sprint'],
        run: async (ctx, { args }) => {
          const board = args.board ? Number(args.board) : ctx.services.file.jira.defaultBoard;
          if (!board)
            throw new UserFacingError(
              'Which board? Give its id (`/jira sprint 12`), or ask an opsbot admin to set `jira.defaultBoard`.',
            );
          const sprint = await ctx.apis.jira.activeSprint(board, ctx.scope);
          if (!sprint) return { text: `Board ${board} has no active sprint.` };
          return sprintReply(sprint, ctx.services.clock.now());
        },
      }),
    ],
  }),
  'issue',
);

function keyLink(ctx: CommandContext<'jira'>, key: string): string {
  return `<${ctx.apis.jira.siteUrl}/browse/${key}|${key}>`;
}

function link(issue: JiraIssue, label: string): string {
  return /^https?:\/\/[^\s<>|]+$/.test(issue.url) ? `<${issue.url}|${label}>` : label;
}

function line(i: JiraIssue): string {
  return `• ${link(i, i.key)} ${escapeText(i.summary.slice(0, 150))} · ${escapeText(i.status)}${i.assignee ? ` · ${escapeText(i.assignee)}` : ''}`;
}

function issueReply(i: JiraIssue): Reply {
  const facts = [
    `*${escapeText(i.status)}*`,
    i.type ? escapeText(i.type) : '',
    i.priority ? `priority ${escapeText(i.priority)}` : '',
    i.assignee ? `assigned to ${escapeText(i.assignee)}` : 'unassigned',
    i.updated ? `updated ${i.updated.slice(0, 10)}` : '',
  ].filter(Boolean);
  const title = `${i.key}: ${i.summary}`;
  const lines = [`${link(i, i.key)} ${escapeText(i.summary.slice(0, 250))}`, facts.join(' · ')];
  return { text: lines.join('\n'), blocks: [header(title), ...sections(lines)] };
}

function sprintReply(sprint: JiraSprint, now: number): Reply {
  const byStatus = new Map<string, JiraIssue[]>();
  for (const issue of sprint.issues)
    byStatus.set(issue.status, [...(byStatus.get(issue.status) ?? []), issue]);
  const days = sprint.endDate ? Math.ceil((Date.parse(sprint.endDate) - now) / 86_400_000) : undefined;
  const lines = [
    ...(sprint.goal ? [`*Goal:* ${escapeText(sprint.goal.slice(0, 300))}`] : []),
    ...(days !== undefined
      ? [days >= 0 ? `${days} day${days === 1 ? '' : 's'} left` : 'past its end date']
      : []),
    ...[...byStatus].flatMap(([status, issues]) => [
      `*${escapeText(status)}* (${issues.length})`,
      ...issues.slice(0, 20).map(line),
    ]),
  ];
  const flagged = sprint.issues.filter((i) => i.flagged);
  if (flagged.length)
    lines.push(`:triangular_flag_on_post: *Flagged:* ${flagged.map((i) => link(i, i.key)).join(', ')}`);
  const title = `Sprint: ${sprint.name}`;
  return {
    text: `${escapeText(title)}\n${lines.join('\n')}`,
    blocks: [header(title), ...sections(lines), context(`${sprint.issues.length} issues`)],
  };
}
