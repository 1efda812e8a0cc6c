import type { CommandModule } from '../src/slack/command-spec.js';
import { notAvailableYet } from './not-yet.js';

const REPO = /^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/;
const REF = /^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}#\d{1,9}$/;

/** `/gh`: pull requests, issues and Actions runs (GitHub App installation tokens). */
export const gh: CommandModule = {
  name: 'gh',
  description: 'GitHub pull requests, issues and Actions runs',
  integration: 'github',
  subcommands: [
    {
      name: 'pr list',
      summary: 'open (or closed) pull requests of a repository',
      args: [{ name: 'repo', pattern: REPO, hint: 'owner/repo' }],
      flags: [
        {
          name: 'author',
          hint: '@login|me',
          pattern: /^(me|@?[A-Za-z0-9-]{1,39})$/,
          description: 'only by this author',
        },
        { name: 'state', choices: ['open', 'closed'], description: 'open (default) or closed' },
        { name: 'limit', kind: 'number', min: 1, max: 50, description: 'at most this many (default 10)' },
      ],
      examples: ['pr list acme/web --state open --limit 5', 'pr list acme/web --author me'],
      run: notAvailableYet('gh', 'pr list'),
    },
    {
      name: 'pr',
      summary: 'one pull request: state, reviews, checks, mergeable',
      args: [{ name: 'pr', pattern: REF, hint: 'owner/repo#N' }],
      examples: ['pr acme/web#42'],
      run: notAvailableYet('gh', 'pr'),
    },
    {
      name: 'issue create',
      summary: 'open an issue',
      args: [
        { name: 'repo', pattern: REPO, hint: 'owner/repo' },
        { name: 'title', maxLength: 256 },
        { name: 'body', rest: true, optional: true, maxLength: 8_000 },
      ],
      examples: ['issue create acme/web "Login fails on Safari" Steps: open /login'],
      run: notAvailableYet('gh', 'issue create'),
    },
    {
      name: 'issue',
      summary: 'one issue',
      args: [{ name: 'issue', pattern: REF, hint: 'owner/repo#N' }],
      examples: ['issue acme/web#7'],
      run: notAvailableYet('gh', 'issue'),
    },
    {
      name: 'runs',
      summary: 'latest GitHub Actions workflow runs',
      args: [{ name: 'repo', pattern: REPO, hint: 'owner/repo' }],
      flags: [
        {
          name: 'branch',
          pattern: /^[A-Za-z0-9._/-]{1,200}$/,
          hint: 'branch',
          description: 'only this branch',
        },
      ],
      examples: ['runs acme/web --branch main'],
      run: notAvailableYet('gh', 'runs'),
    },
  ],
};
