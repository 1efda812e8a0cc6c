import { defineCommand } from '../src/slack/command-spec.js';
import { notAvailableYet } from './not-yet.js';

const KEY = /^[A-Z][A-Z0-9_]{1,9}-\d{1,9}$/;
const PROJECT = /^[A-Z][A-Z0-9_]{1,9}$/;

/** `/jira`: look up, create and assign issues. */
export const jira = defineCommand({
  name: 'jira',
  description: 'Jira issues: look up, search, create, assign',
  subcommands: (sub) => [
    sub({
      name: 'issue',
      readOnly: true,
      summary: 'one issue: summary, status, assignee, link',
      args: [{ name: 'key', pattern: KEY, hint: 'KEY-123' }],
      examples: ['issue OPS-42'],
      run: notAvailableYet('jira', 'issue'),
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
      name: 'create',
      summary: 'create an issue',
      args: [
        { name: 'project', pattern: PROJECT, hint: 'KEY' },
        { name: 'summary', maxLength: 255 },
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
      examples: ['create OPS "Rotate the staging certificate" priority=high'],
      run: notAvailableYet('jira', 'create'),
    }),
    sub({
      name: 'assign',
      summary: 'assign an issue to someone (or yourself)',
      args: [
        { name: 'key', pattern: KEY, hint: 'KEY-123' },
        { name: 'assignee', kind: 'user' },
      ],
      examples: ['assign OPS-42 me'],
      run: notAvailableYet('jira', 'assign'),
    }),
  ],
});
