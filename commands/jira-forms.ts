import type { PlainTextOption, View } from '@slack/web-api';
import { plainFromSlack } from '../src/command-kit/command-text.js';
import { ownValue } from '../src/own-value.js';
import { truncate } from '../src/text/escape.js';

/**
 * The forms `/jira` opens: "Create Jira issue" (from `/jira create` with no summary, the message
 * shortcut, an alert's button) and "Comment" (from `/jira issue`). Their callback ids are the policy
 * actions; private_metadata says where the answer goes (channel, thread) and, for a comment, which
 * issue.
 */

export const PROJECT = /^[A-Z][A-Z0-9_]{1,9}$/;
export const ISSUE_KEY = /^[A-Z][A-Z0-9_]{1,9}-\d{1,9}$/;
export const MAX_SUMMARY = 255;
/** Jira Cloud refuses longer text fields. */
export const MAX_DESCRIPTION = 32_000;
/** Slack's limit for a plain-text input in a form. */
const MAX_INPUT = 3_000;

export const ISSUE_TYPES = { task: 'Task', bug: 'Bug', story: 'Story' } as const;
export const PRIORITIES = {
  highest: 'Highest',
  high: 'High',
  medium: 'Medium',
  low: 'Low',
  lowest: 'Lowest',
} as const;
export type IssueTypeChoice = keyof typeof ISSUE_TYPES;
export type PriorityChoice = keyof typeof PRIORITIES;

/** Where a form's answer goes: the channel, and the thread of the message it was opened from. */
export interface FormPlace {
  channel: string;
  thread?: string;
}

export interface CreatePrefill {
  project?: string;
  summary?: string;
  description?: string;
  type?: IssueTypeChoice;
  priority?: PriorityChoice;
}

/** A submitted "Create Jira issue" form; `assignee` is a Slack user id. */
export interface CreateFormValues {
  project: string;
  type: IssueTypeChoice;
  summary: string;
  description?: string;
  priority?: PriorityChoice;
  assignee?: string;
}

const plain = (text: string) => ({ type: 'plain_text' as const, text });
const option = (value: string, text: string): PlainTextOption => ({ text: plain(text), value });

function textInput(
  blockId: string,
  label: string,
  o: { max: number; optional?: boolean; multiline?: boolean; initial?: string; placeholder: string },
) {
  return {
    type: 'input' as const,
    block_id: blockId,
    optional: o.optional ?? false,
    label: plain(label),
    element: {
      type: 'plain_text_input' as const,
      action_id: 'value',
      multiline: o.multiline ?? false,
      max_length: o.max,
      placeholder: plain(o.placeholder),
      ...(o.initial ? { initial_value: truncate(o.initial, o.max) } : {}),
    },
  };
}

function select(
  blockId: string,
  label: string,
  choices: Record<string, string>,
  o: { optional?: boolean; initial?: string; placeholder: string },
) {
  const options = Object.entries(choices).map(([value, text]) => option(value, text));
  const initial = options.find((opt) => opt.value === o.initial);
  return {
    type: 'input' as const,
    block_id: blockId,
    optional: o.optional ?? false,
    label: plain(label),
    element: {
      type: 'static_select' as const,
      action_id: 'value',
      placeholder: plain(o.placeholder),
      options,
      ...(initial ? { initial_option: initial } : {}),
    },
  };
}

function metadata(place: FormPlace, extra: Record<string, string> = {}): string {
  return JSON.stringify({
    channel: place.channel,
    ...(place.thread ? { thread: place.thread } : {}),
    ...extra,
  });
}

export function createIssueForm(place: FormPlace, prefill: CreatePrefill): View {
  return {
    type: 'modal',
    callback_id: 'jira:create',
    private_metadata: metadata(place),
    title: plain('New Jira issue'),
    submit: plain('Create'),
    close: plain('Cancel'),
    blocks: [
      textInput('project', 'Project', {
        max: 10,
        placeholder: 'OPS',
        ...(prefill.project ? { initial: prefill.project } : {}),
      }),
      select('type', 'Issue type', ISSUE_TYPES, { initial: prefill.type ?? 'task', placeholder: 'Type' }),
      textInput('summary', 'Summary', {
        max: MAX_SUMMARY,
        placeholder: 'What needs doing?',
        ...(prefill.summary ? { initial: prefill.summary } : {}),
      }),
      textInput('description', 'Description', {
        max: MAX_INPUT,
        multiline: true,
        optional: true,
        placeholder: 'Context, links, what done looks like',
        ...(prefill.description ? { initial: prefill.description } : {}),
      }),
      select('priority', 'Priority', PRIORITIES, {
        optional: true,
        placeholder: 'Priority',
        ...(prefill.priority ? { initial: prefill.priority } : {}),
      }),
      {
        type: 'input',
        block_id: 'assignee',
        optional: true,
        label: plain('Assignee'),
        hint: plain('People opsbot knows in Jira (jira.users in its configuration)'),
        element: { type: 'users_select', action_id: 'value', placeholder: plain('Unassigned') },
      },
    ],
  };
}

export function commentForm(place: FormPlace, key: string): View {
  return {
    type: 'modal',
    callback_id: 'jira:comment',
    private_metadata: metadata(place, { key }),
    title: plain(`Comment on ${key}`),
    submit: plain('Comment'),
    close: plain('Cancel'),
    blocks: [
      textInput('comment', 'Comment', { max: MAX_INPUT, multiline: true, placeholder: 'Your comment' }),
    ],
  };
}

type FormState = Record<
  string,
  Record<string, { value?: unknown; selected_option?: { value?: unknown }; selected_user?: unknown }>
>;

function parseState(json: string): FormState {
  try {
    const parsed = JSON.parse(json) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as FormState) : {};
  } catch {
    return {};
  }
}

/** The text (or chosen option, or user) of one input block, trimmed; '' when missing. */
function read(state: FormState, block: string): string {
  const field = state[block]?.value;
  const v = field?.value ?? field?.selected_option?.value ?? field?.selected_user;
  return typeof v === 'string' ? v.trim() : '';
}

/** The submitted create form, with each field's problem (by block id) when there are any. */
export function readCreateForm(
  json: string,
  users: Readonly<Record<string, string>>,
): { form: CreateFormValues; errors?: Record<string, string> } {
  const state = parseState(json);
  const project = read(state, 'project').toUpperCase();
  const type = read(state, 'type');
  const summary = read(state, 'summary');
  const description = read(state, 'description');
  const priority = read(state, 'priority');
  const assignee = read(state, 'assignee');
  const errors: Record<string, string> = {};
  if (!PROJECT.test(project)) errors.project = 'A Jira project key, such as OPS.';
  // Own keys only: `__proto__`, `constructor` or `toString` are no issue type, priority or person.
  const typeName = ownValue(ISSUE_TYPES, type);
  const priorityName = ownValue(PRIORITIES, priority);
  if (!typeName) errors.type = 'Choose Task, Bug or Story.';
  if (summary === '') errors.summary = 'Give the issue a summary.';
  else if (summary.length > MAX_SUMMARY) errors.summary = `At most ${MAX_SUMMARY} characters.`;
  else if (/[\r\n]/.test(summary)) errors.summary = 'One line only.';
  if (description.length > MAX_DESCRIPTION) errors.description = `At most ${MAX_DESCRIPTION} characters.`;
  if (priority && !priorityName) errors.priority = 'Choose a priority from the list.';
  if (assignee && !ownValue(users, assignee))
    errors.assignee =
      'opsbot does not know this person in Jira: an opsbot admin maps them under jira.users. Leave it empty to create the issue unassigned.';
  const form: CreateFormValues = {
    project,
    type: (typeName ? type : 'task') as IssueTypeChoice,
    summary,
    ...(description ? { description } : {}),
    ...(priorityName ? { priority: priority as PriorityChoice } : {}),
    ...(assignee ? { assignee } : {}),
  };
  return Object.keys(errors).length ? { form, errors } : { form };
}

/** The submitted comment, with its problem when there is one. */
export function readCommentForm(json: string): { text: string; errors?: Record<string, string> } {
  const text = read(parseState(json), 'comment');
  if (text === '') return { text, errors: { comment: 'Write the comment first.' } };
  if (text.length > MAX_INPUT) return { text, errors: { comment: `At most ${MAX_INPUT} characters.` } };
  return { text };
}

/** Slack message text as plain text for a form (the shortcut's message): see {@link plainFromSlack}. */
export { plainFromSlack };
