import { defineCommand } from '../src/slack/command-spec.js';
import { withDefaultSubcommand } from '../src/slack/default-subcommand.js';
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
    subcommands: (sub) => [
      sub({
        name: 'issue',
        readOnly: true,
        summary: 'one issue: summary, status, assignee, link',
        args: [{ name: 'key', pattern: KEY, hint: 'KEY-1' }],
        examples: ['issue OPS-42'],
        run: notAvailableYet('jira', 'issue'),
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
        run: notAvailableYet('jira', 'move'),
      }),
      sub({
        name: 'assign',
        summary: 'assign an issue to someone (or yourself)',
        args: [
          { name: 'key', pattern: KEY, hint: 'KEY-1' },
          { name: 'assignee', kind: 'user', hint: '@user|me' },
        ],
        examples: ['assign OPS-42 me'],
        run: notAvailableYet('jira', 'assign'),
      }),
      sub({
        name: 'comment',
        summary: 'comment on an issue',
        args: [
          { name: 'key', pattern: KEY, hint: 'KEY-1' },
          { name: 'text', rest: true, maxLength: 3_000 },
        ],
        examples: ['comment OPS-42 Deployed to staging, please verify'],
        run: notAvailableYet('jira', 'comment'),
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
        run: notAvailableYet('jira', 'search'),
      }),
      sub({
        name: 'sprint',
        readOnly: true,
        summary: 'the active sprint of a board (default `jira.defaultBoard`): its issues by status',
        args: [{ name: 'board', pattern: BOARD, hint: 'board-id', optional: true }],
        examples: ['sprint 12', 'sprint'],
        run: notAvailableYet('jira', 'sprint'),
      }),
    ],
  }),
  'issue',
);
