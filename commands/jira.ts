import type { KnownBlock, PlainTextOption } from '@slack/web-api';
import { rootOf } from '../src/alerts/alert-actions.js';
import { displayTitle } from '../src/alerts/render.js';
import type { RootData } from '../src/alerts/roots.js';
import { type CommandContext, defineCommand, type Reply } from '../src/command-kit/command-spec.js';
import { withDefaultSubcommand } from '../src/command-kit/default-subcommand.js';
import { UserFacingError } from '../src/errors.js';
import type { JiraIssue, JiraSearchResult, JiraSprint, JiraTransition } from '../src/integrations/jira.js';
import { ownValue } from '../src/own-value.js';
import { actions, button, context, header, sections } from '../src/slack/blocks.js';
import { escapeText, inlineCode, truncate, userMention } from '../src/text/escape.js';
import {
  type CreateFormValues,
  type CreatePrefill,
  commentForm,
  createIssueForm,
  type FormPlace,
  ISSUE_TYPES,
  ISSUE_KEY as KEY,
  MAX_DESCRIPTION,
  MAX_SUMMARY,
  PRIORITIES,
  PROJECT,
  plainFromSlack,
  readCommentForm,
  readCreateForm,
} from './jira-forms.js';

const BOARD = /^\d{1,10}$/;
/** An issue key argument: typed in any case (`ops-42`), read upper-cased. */
const KEY_ARG = {
  name: 'key',
  pattern: KEY,
  hint: 'KEY-1',
  upperCase: true,
  accepts: 'an issue key, like `OPS-42`',
} as const;

/**
 * `/jira`: look up, search, create, move, assign and comment on issues, and the active sprint.
 * `/jira OPS-42` (or `ops-42`) is `/jira issue OPS-42`.
 */
export const jira = withDefaultSubcommand(
  defineCommand({
    name: 'jira',
    description: 'Jira issues: look up, search, create, move, assign, comment; the active sprint',
    needs: ['jira'],
    // On every alert root: "Create Jira issue", a form pre-filled from the alert (`actions` below).
    alertActions: [{ label: 'Create Jira issue', action: 'jira:create' }],
    subcommands: (sub) => [
      sub({
        name: 'issue',
        readOnly: true,
        summary: 'one issue: summary, status, assignee, link',
        args: [KEY_ARG],
        examples: ['issue OPS-42'],
        run: async (ctx, { args }) => {
          const [issue, moves] = await Promise.all([
            ctx.apis.jira.getIssue(args.key, ctx.scope),
            // The Move menu is a convenience: without it the issue still shows.
            ctx.apis.jira.transitions(args.key, ctx.scope).catch(() => []),
          ]);
          return issueReply(issue, moves);
        },
      }),
      sub({
        name: 'create',
        summary:
          'create an issue (in `jira.defaultProject` when no project is given); with no summary, a form. A first word in capitals (`OPS`) is the project; then the words are the summary, or a "quoted summary" and a description',
        args: [
          {
            name: 'project',
            pattern: PROJECT,
            hint: 'PROJECT',
            optional: true,
            accepts: 'a project key in capitals, like `OPS`',
          },
          { name: 'summary', maxLength: MAX_SUMMARY, optional: true, wordsUnlessQuoted: true },
          { name: 'description', rest: true, optional: true, maxLength: MAX_DESCRIPTION },
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
          'create OPS "Rotate the staging certificate" It expires Friday --priority high',
          'create OPS fix the login page',
          'create "Flaky login test"',
          'create',
        ],
        run: async (ctx, { args, flags }) => {
          const project = args.project ?? ctx.services.file.jira.defaultProject;
          if (args.summary === undefined)
            return openCreateForm(
              ctx,
              { channel: ctx.actor.channelId },
              {
                ...(project ? { project } : {}),
                ...(flags.type ? { type: flags.type } : {}),
                ...(flags.priority ? { priority: flags.priority } : {}),
              },
            );
          if (!project)
            throw new UserFacingError(
              'Which project? Name it (`/jira create OPS "Summary"`), or ask an opsbot admin to set `jira.defaultProject`.',
            );
          if (args.summary.trim() === '') throw new UserFacingError('The summary is empty.');
          return createIssue(ctx, {
            project,
            summary: args.summary.trim(),
            type: flags.type ?? 'task',
            ...(args.description ? { description: args.description } : {}),
            ...(flags.priority ? { priority: flags.priority } : {}),
          });
        },
      }),
      sub({
        name: 'move',
        summary: 'move an issue to another status',
        args: [KEY_ARG, { name: 'status', rest: true, maxLength: 60 }],
        examples: ['move OPS-42 In Progress'],
        run: (ctx, { args }) => move(ctx, args.key, args.status),
      }),
      sub({
        name: 'assign',
        summary: 'assign an issue to someone (or yourself)',
        args: [KEY_ARG, { name: 'assignee', kind: 'user', hint: '@user|me' }],
        examples: ['assign OPS-42 me'],
        run: (ctx, { args }) => assign(ctx, args.key, args.assignee),
      }),
      sub({
        name: 'comment',
        summary: 'comment on an issue',
        args: [KEY_ARG, { name: 'text', rest: true, maxLength: 3_000 }],
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
          {
            name: 'project',
            pattern: PROJECT,
            hint: 'KEY',
            upperCase: true,
            accepts: 'a project key, like `OPS`',
            description: 'only this project',
          },
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
          if (found.issues.length === 0)
            return { text: `No Jira issues match ${inlineCode(args.text, 100)}.` };
          const title = `${searchCount(found)} matching “${args.text.slice(0, 80)}”`;
          const lines = found.issues.map(line);
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
        args: [
          {
            name: 'board',
            pattern: BOARD,
            hint: 'board-id',
            optional: true,
            accepts: 'a board id, like `12`',
          },
        ],
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
    actions: {
      // The buttons and menu under `/jira issue`: judged as the subcommands they stand for.
      'jira:assign': async (ctx, value) => assign(ctx, keyOf(value), ctx.actor.userId),
      'jira:move': async (ctx, value) => {
        const [key = '', status = ''] = value.split('|');
        return move(ctx, keyOf(key), status.slice(0, 100));
      },
      'jira:comment': async (ctx, value) => {
        const key = keyOf(value);
        if (!ctx.triggerId) throw new UserFacingError(`Try \`/jira comment ${key} &lt;text&gt;\`.`);
        await ctx.services.slack.openView({ triggerId: ctx.triggerId, view: commentForm(placeOf(ctx), key) });
        return undefined;
      },
      // "Create Jira issue" on an alert's root message: the form, pre-filled from the alert.
      'jira:create': async (ctx, value) =>
        openCreateForm(ctx, placeOf(ctx, true), {
          ...defaultProject(ctx),
          ...alertPrefill(await alertRootPressed(ctx, value)),
          type: 'bug',
        }),
    },
    views: {
      'jira:create': {
        check: (values, services) => readCreateForm(values, services.file.jira.users).errors,
        run: async (ctx, values) => {
          const { form, errors } = readCreateForm(values, ctx.services.file.jira.users);
          if (errors) throw new UserFacingError('That form was incomplete: run `/jira create` again.');
          return createIssue(ctx, form);
        },
      },
      'jira:comment': {
        check: (values) => readCommentForm(values).errors,
        run: async (ctx, values) => {
          const key = keyOf(ctx.formMetadata?.key ?? '');
          const { text, errors } = readCommentForm(values);
          if (errors) throw new UserFacingError(`That comment was empty: nothing was posted to ${key}.`);
          await ctx.apis.jira.comment(key, text, ctx.scope);
          return {
            text: `:speech_balloon: ${userMention(ctx.actor.userId)} commented on ${keyLink(ctx, key)}.`,
            responseType: 'in_channel',
          };
        },
      },
    },
    shortcuts: {
      // "Create Jira issue" on any message: the form, pre-filled with its text and a link back.
      'jira:create': async (ctx, text) => {
        const place = placeOf(ctx, true);
        const permalink = ctx.message
          ? await ctx.services.slack
              .permalink({ channel: ctx.message.channelId, ts: ctx.message.ts })
              .catch(() => '')
          : '';
        const plain = plainFromSlack(text).trim();
        const firstLine = plain.split('\n').find((l) => l.trim()) ?? '';
        const link = permalink ? `\n\nFrom Slack: ${permalink}` : '';
        return openCreateForm(ctx, place, {
          ...defaultProject(ctx),
          summary: truncate(firstLine.trim(), 120),
          description: `${truncate(plain, 2_800 - link.length)}${link}`,
        });
      },
    },
  }),
  'issue',
);

type JiraContext = CommandContext<'jira'>;

function keyOf(value: string): string {
  if (!KEY.test(value))
    throw new UserFacingError('That button is out of date. Run `/jira issue &lt;KEY-1&gt;` again.');
  return value;
}

/**
 * The alert root the "Create Jira issue" button was pressed on: the root its value names must be
 * the message it is on (same channel and ts), so a value copied onto another message (or forged)
 * cannot read another channel's alert into a form.
 */
async function alertRootPressed(ctx: JiraContext, key: string): Promise<RootData> {
  const root = await rootOf({ messages: ctx.services.state.messages }, key);
  const ref = await ctx.services.state.messages.get(key);
  const on = ctx.message;
  if (!ref || !on || ref.channel !== on.channelId || ref.ts !== on.ts)
    throw new UserFacingError(
      'That button is not on the alert it names, so I opened nothing. Use "Create Jira issue" on the alert itself, or `/jira create`.',
    );
  return root;
}

/** `3 Jira issues`, or `10 of about 40 Jira issues` when more match than were read. */
function searchCount(found: JiraSearchResult): string {
  const n = found.issues.length;
  const noun = (count: number) => `Jira issue${count === 1 ? '' : 's'}`;
  if (!found.more) return `${n} ${noun(n)}`;
  if (found.about) return `${n} of about ${found.about} ${noun(found.about)}`;
  return `The first ${n} ${noun(n)} (more match)`;
}

function defaultProject(ctx: JiraContext): CreatePrefill {
  const project = ctx.services.file.jira.defaultProject;
  return project ? { project } : {};
}

/**
 * Where a form's answer goes: the channel it was opened in; with `inThread`, the thread of the
 * message it was opened from (a shortcut's message, an alert's root).
 */
function placeOf(ctx: JiraContext, inThread = false): FormPlace {
  const m = ctx.message;
  if (!m) return { channel: ctx.actor.channelId };
  const thread = inThread ? (m.threadTs ?? m.ts) : m.threadTs;
  return { channel: m.channelId, ...(thread ? { thread } : {}) };
}

/** The form's pre-fill from an alert's root: its monitor's name, monitor, scope, link and priority. */
function alertPrefill(root: RootData): CreatePrefill {
  const link = root.link ?? root.monitorUrl;
  const lines = [
    `Datadog alert (${root.state}): ${displayTitle(root.title)}`,
    `Monitor: ${root.monitorId} ${root.monitorUrl}`,
    root.scope ? `Scope: ${root.scope}` : '',
    /^https:\/\//.test(link) && link !== root.monitorUrl ? `Event: ${link}` : '',
  ].filter(Boolean);
  const priority = root.priority ? PRIORITY_OF_ALERT[root.priority - 1] : undefined;
  return {
    summary: truncate(displayTitle(root.title), 200),
    description: truncate(lines.join('\n'), 2_500),
    ...(priority ? { priority } : {}),
  };
}

/** Datadog's P1..P5 as Jira's default priorities. */
const PRIORITY_OF_ALERT = ['highest', 'high', 'medium', 'low', 'lowest'] as const;

async function openCreateForm(
  ctx: JiraContext,
  place: FormPlace,
  prefill: CreatePrefill,
): Promise<Reply | undefined> {
  if (!ctx.triggerId)
    throw new UserFacingError('I can only open a form from Slack. Try `/jira create OPS "Summary"`.');
  await ctx.services.slack.openView({ triggerId: ctx.triggerId, view: createIssueForm(place, prefill) });
  return undefined;
}

async function createIssue(
  ctx: JiraContext,
  form: Omit<CreateFormValues, 'assignee'> & { assignee?: string },
): Promise<Reply> {
  if (form.summary.length > MAX_SUMMARY)
    throw new UserFacingError(`The summary is too long: at most ${MAX_SUMMARY} characters.`);
  if (form.description && form.description.length > MAX_DESCRIPTION)
    throw new UserFacingError(`The description is too long: at most ${MAX_DESCRIPTION} characters.`);
  const accountId = form.assignee ? ownValue(ctx.services.file.jira.users, form.assignee) : undefined;
  if (form.assignee && !accountId) throw unmapped(form.assignee);
  const created = await ctx.apis.jira.createIssue(
    {
      project: form.project,
      summary: form.summary,
      type: ISSUE_TYPES[form.type],
      ...(form.description ? { description: form.description } : {}),
      ...(form.priority ? { priority: PRIORITIES[form.priority] } : {}),
      ...(accountId ? { assigneeAccountId: accountId } : {}),
    },
    ctx.scope,
  );
  const assigned = form.assignee ? `, assigned to ${userMention(form.assignee)}` : '';
  return {
    text: `:memo: ${userMention(ctx.actor.userId)} created ${keyLink(ctx, created.key)}: ${escapeText(truncate(form.summary, 200))}${assigned}`,
    responseType: 'in_channel',
  };
}

function unmapped(userId: string): UserFacingError {
  return new UserFacingError(
    `${userMention(userId)} has no Jira account in opsbot's configuration. Ask an opsbot admin to add \`${userId}: &lt;Jira account id&gt;\` under \`jira.users\`.`,
  );
}

async function assign(ctx: JiraContext, key: string, userId: string): Promise<Reply> {
  // Mapped through `jira.users` before any call: an unmapped user costs Jira nothing.
  const accountId = ownValue(ctx.services.file.jira.users, userId);
  if (!accountId) throw unmapped(userId);
  await ctx.apis.jira.assign(key, accountId, ctx.scope);
  return {
    text: `:bust_in_silhouette: ${userMention(ctx.actor.userId)} assigned ${keyLink(ctx, key)} to ${userMention(userId)}.`,
    responseType: 'in_channel',
  };
}

async function move(ctx: JiraContext, key: string, status: string): Promise<Reply> {
  const moved = await ctx.apis.jira.move(key, status, ctx.scope);
  return {
    text: `:arrow_right: ${userMention(ctx.actor.userId)} moved ${keyLink(ctx, key)} from ${escapeText(moved.from)} to *${escapeText(moved.to)}*.`,
    responseType: 'in_channel',
  };
}

/** An issue's link; a key that is no key (as Jira answered it) is shown as escaped text only. */
function keyLink(ctx: JiraContext, key: string): string {
  return KEY.test(key) ? `<${ctx.apis.jira.siteUrl}/browse/${key}|${key}>` : escapeText(key);
}

/** `label` (Jira's text: escaped here) linked to the issue when its URL is a plain http(s) URL. */
function link(issue: JiraIssue, label: string): string {
  const text = escapeText(label);
  return /^https?:\/\/[^\s<>|]+$/.test(issue.url) ? `<${issue.url}|${text}>` : text;
}

function line(i: JiraIssue): string {
  return `• ${link(i, i.key)} ${escapeText(i.summary.slice(0, 150))} · ${escapeText(i.status)}${i.assignee ? ` · ${escapeText(i.assignee)}` : ''}`;
}

/** Assign to me, Move (the issue's transitions), Comment. */
function issueButtons(key: string, moves: JiraTransition[]): KnownBlock {
  const options: PlainTextOption[] = [];
  const seen = new Set<string>();
  for (const m of moves) {
    const to = m.to.trim();
    if (!to || to.length > 100 || seen.has(to.toLowerCase())) continue;
    seen.add(to.toLowerCase());
    options.push({ text: { type: 'plain_text', text: truncate(to, 75) }, value: `${key}|${to}` });
  }
  const elements = [
    button('Assign to me', 'jira:assign', key),
    ...(options.length
      ? [
          {
            type: 'static_select' as const,
            action_id: 'jira:move',
            placeholder: { type: 'plain_text' as const, text: 'Move to…' },
            options: options.slice(0, 100),
          },
        ]
      : []),
    button('Comment', 'jira:comment', key),
  ];
  return actions(elements, 'jira-issue');
}

function issueReply(i: JiraIssue, moves: JiraTransition[]): Reply {
  const facts = [
    `*${escapeText(i.status)}*`,
    i.type ? escapeText(i.type) : '',
    i.priority ? `priority ${escapeText(i.priority)}` : '',
    i.assignee ? `assigned to ${escapeText(i.assignee)}` : 'unassigned',
    i.updated ? `updated ${i.updated.slice(0, 10)}` : '',
  ].filter(Boolean);
  const title = `${i.key}: ${i.summary}`;
  const lines = [`${link(i, i.key)} ${escapeText(i.summary.slice(0, 250))}`, facts.join(' · ')];
  return {
    text: lines.join('\n'),
    blocks: [header(title), ...sections(lines), issueButtons(i.key, moves)],
  };
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
  const blocked = sprint.issues.filter((i) => /block/i.test(i.status));
  if (blocked.length) lines.push(`:no_entry: *Blocked:* ${blocked.map((i) => link(i, i.key)).join(', ')}`);
  const title = `Sprint: ${sprint.name}`;
  return {
    text: `${escapeText(title)}\n${lines.join('\n')}`,
    blocks: [header(title), ...sections(lines), context(`${sprint.issues.length} issues`)],
  };
}
