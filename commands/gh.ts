import { type CommandContext, defineCommand, type Reply } from '../src/command-kit/command-spec.js';
import { slackUserIn } from '../src/command-kit/parse-input.js';
import { UserFacingError } from '../src/errors.js';
import type { IssueDetail, NumberRef, PullDetail, RepoRef, RunSummary } from '../src/integrations/github.js';
import { ownValue } from '../src/own-value.js';
import {
  actions,
  button,
  context,
  fields,
  header,
  MAX_BLOCKS,
  section,
  sections,
} from '../src/slack/blocks.js';
import { escapeText, inlineCode, userMention } from '../src/text/escape.js';
import { issueModal, readIssueModal } from './gh-modal.js';

/** GitHub's own rules for names: owner up to 39, repository up to 100 characters. */
const REPO = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
/** `owner/repo#N`, N from 1: GitHub numbers issues and pull requests from 1. */
const REF = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}#(?!0+$)\d{1,9}$/;
const LOGIN = /^(me|@?[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))$/;
const A_REPO = 'a repository, like `acme/web`';
const A_REF = 'a repository and number, like `acme/web#42`';
export const MAX_TITLE = 256;
export const MAX_BODY = 8_000;

/** `/gh`: pull requests, issues and Actions runs, with short-lived GitHub App installation tokens. */
export const gh = defineCommand({
  name: 'gh',
  description: 'GitHub pull requests, issues and Actions runs',
  needs: ['github'],
  subcommands: (sub) => [
    sub({
      name: 'pr list',
      readOnly: true,
      summary: 'pull requests, newest activity first (`--author me`: your login from `github.users`)',
      args: [{ name: 'repo', pattern: REPO, hint: 'owner/repo', accepts: A_REPO }],
      flags: [
        {
          name: 'author',
          hint: '@login|me',
          pattern: LOGIN,
          orSlackUser: true,
          accepts: 'a GitHub login, like `octocat`, a Slack user from `github.users`, or `me`',
          description: 'only by this GitHub login (`me` or a Slack user: their login from `github.users`)',
        },
        { name: 'state', choices: ['open', 'closed'], description: 'open (default) or closed' },
        { name: 'limit', kind: 'number', min: 1, max: 30, description: 'at most this many (default 10)' },
      ],
      examples: ['pr list acme/web --state open --limit 5', 'pr list acme/web --author me'],
      run: async (ctx, { args, flags }) => {
        const repo = repoRef(args.repo);
        const author = flags.author ? githubLogin(ctx, flags.author) : undefined;
        const state = flags.state ?? 'open';
        const pulls = await ctx.apis.github.listPulls(
          repo,
          { state, limit: flags.limit ?? 10, ...(author ? { author } : {}) },
          ctx.scope,
        );
        const name = `${repo.owner}/${repo.repo}`;
        const who = author ? ` by ${author}` : '';
        if (pulls.length === 0)
          return { text: `No ${state} pull requests in \`${name}\`${escapeText(who)}.` };
        const lines = pulls.map(
          (p) =>
            `• ${link(p.url, `#${p.number} ${p.title}`)} by ${escapeText(p.author)}${p.draft ? ' · _draft_' : ''}`,
        );
        const title = `${name}: ${pulls.length} ${state} pull request${pulls.length === 1 ? '' : 's'}${who}`;
        return {
          text: `${escapeText(title)}\n${lines.join('\n')}`,
          blocks: [header(title), ...sections(lines, MAX_BLOCKS - 1)],
        };
      },
    }),
    sub({
      name: 'pr',
      readOnly: true,
      summary: 'one pull request: author, state, review decision, checks, mergeable, link',
      args: [{ name: 'pr', pattern: REF, hint: 'owner/repo#N', accepts: A_REF }],
      examples: ['pr acme/web#42'],
      run: async (ctx, { args }) => pullReply(await getPullOrSayIssue(ctx, numberRef(args.pr))),
    }),
    sub({
      name: 'issue create',
      summary: 'open an issue, announced in the channel; with no arguments, a form',
      args: [
        { name: 'repo', pattern: REPO, hint: 'owner/repo', optional: true, accepts: A_REPO },
        { name: 'title', maxLength: MAX_TITLE, optional: true },
        { name: 'body', rest: true, optional: true, maxLength: MAX_BODY },
      ],
      examples: ['issue create acme/web "Login fails on Safari" Steps: open /login', 'issue create'],
      run: async (ctx, { args }) => {
        if (args.repo === undefined && args.title !== undefined) {
          throw new UserFacingError(
            'Which repository? `/gh issue create owner/repo "Title" [body]`, or `/gh issue create` for a form.',
          );
        }
        if (args.repo === undefined) return openIssueForm(ctx);
        if (args.title === undefined) {
          throw new UserFacingError(
            'An issue needs a title: `/gh issue create acme/web "Title" [body]`, or `/gh issue create` for a form.',
          );
        }
        return createIssue(ctx, repoRef(args.repo), args.title, args.body, []);
      },
    }),
    sub({
      name: 'issue',
      readOnly: true,
      summary: 'one issue: author, state, labels, assignees, link',
      args: [{ name: 'issue', pattern: REF, hint: 'owner/repo#N', accepts: A_REF }],
      examples: ['issue acme/web#7'],
      run: async (ctx, { args }) =>
        issueReply(await ctx.apis.github.getIssue(numberRef(args.issue), ctx.scope)),
    }),
    sub({
      name: 'runs',
      readOnly: true,
      summary:
        'the latest Actions workflow runs; a failed one gets a button to re-run its failed jobs (`gh:rerun`)',
      args: [{ name: 'repo', pattern: REPO, hint: 'owner/repo', accepts: A_REPO }],
      flags: [
        {
          name: 'branch',
          pattern: /^[A-Za-z0-9._/-]{1,200}$/,
          hint: 'branch',
          accepts: 'a branch name, like `main` or `release/1.2`',
          description: 'only this branch',
        },
      ],
      examples: ['runs acme/web --branch main'],
      run: async (ctx, { args, flags }) => {
        const repo = repoRef(args.repo);
        const { branch } = flags;
        const runs = await ctx.apis.github.listRuns(
          repo,
          { limit: 5, ...(branch ? { branch } : {}) },
          ctx.scope,
        );
        return runsReply(repo, runs, branch);
      },
    }),
  ],
  actions: {
    'gh:rerun': async (ctx, value) => {
      const match = /^([^/]+)\/([^:]+):(\d{1,15})$/.exec(value);
      if (!match) throw new UserFacingError('That button is out of date. Run `/gh runs owner/repo` again.');
      const repo = repoRef(`${match[1]}/${match[2]}`);
      await ctx.apis.github.rerunFailedJobs(repo, Number(match[3]), ctx.scope);
      return {
        text: `:repeat: ${userMention(ctx.actor.userId)} re-ran the failed jobs of run ${match[3]} in \`${repo.owner}/${repo.repo}\`.`,
        responseType: 'in_channel',
      };
    },
  },
  views: {
    'gh:issue create': {
      // Shown under the fields of the still-open form; nothing is sent to GitHub.
      check: (values) => {
        const form = readIssueModal(values);
        const errors: Record<string, string> = {};
        if (!REPO.test(form.repo)) errors.repo = 'A repository such as acme/web.';
        if (form.title === '') errors.title = 'Give the issue a title.';
        else if (form.title.length > MAX_TITLE) errors.title = `At most ${MAX_TITLE} characters.`;
        return Object.keys(errors).length ? errors : undefined;
      },
      run: async (ctx, values) => {
        const form = readIssueModal(values);
        return createIssue(ctx, repoRef(form.repo), form.title, form.body, form.labels);
      },
    },
  },
});

type GitHubContext = CommandContext<'github'>;

function repoRef(text: string): RepoRef {
  if (!REPO.test(text))
    throw new UserFacingError(`${inlineCode(text, 60)} is not a repository name like \`acme/web\`.`);
  const [owner, repo] = text.split('/') as [string, string];
  return { owner, repo };
}

function numberRef(text: string): NumberRef {
  const [name, number] = text.split('#') as [string, string];
  return { ...repoRef(name), number: Number(number) };
}

/**
 * `me` → the caller's GitHub login from the config's `github.users`; a Slack user (`@dev`) → theirs;
 * `@login` → `login`.
 */
function githubLogin(ctx: GitHubContext, given: string): string {
  const slackUser = slackUserIn(given);
  if (slackUser) {
    const login = ownValue(ctx.services.file.github.users, slackUser.id);
    if (login) return login;
    const who = slackUser.label
      ? escapeText(`@${slackUser.label.replace(/^@/, '')}`)
      : userMention(slackUser.id);
    throw new UserFacingError(
      `${who} has no GitHub login in the configuration (\`github.users\`); use \`--author &lt;login&gt;\`, or ask an opsbot admin to add \`${slackUser.id}: &lt;login&gt;\` under \`github.users\`.`,
    );
  }
  if (given.toLowerCase() !== 'me') return given.replace(/^@/, '');
  const login = ownValue(ctx.services.file.github.users, ctx.actor.userId);
  if (!login) {
    throw new UserFacingError(
      `I don't know your GitHub login. Ask an opsbot admin to add \`${ctx.actor.userId}: &lt;login&gt;\` under \`github.users\` in the configuration, or use \`--author &lt;login&gt;\`.`,
    );
  }
  return login;
}

/**
 * The pull request, or, when there is none with that number but an issue has it, a sentence that
 * points to `/gh issue` (GitHub answers 404 for a pull request number that is an issue's).
 */
async function getPullOrSayIssue(ctx: GitHubContext, ref: NumberRef): Promise<PullDetail> {
  try {
    return await ctx.apis.github.getPull(ref, ctx.scope);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    const issue = await ctx.apis.github.getIssue(ref, ctx.scope).catch(() => undefined);
    if (!issue || issue.isPullRequest) throw error;
    const name = `${ref.owner}/${ref.repo}#${ref.number}`;
    throw new UserFacingError(`\`${name}\` is an issue, not a pull request: try \`/gh issue ${name}\`.`);
  }
}

/** GitHub's 404, as the integration reports it (a UserFacingError caused by the 404). */
function isNotFound(error: unknown): boolean {
  const cause = error instanceof UserFacingError ? error.cause : error;
  return (cause as { status?: unknown } | undefined)?.status === 404;
}

function link(url: string, text: string): string {
  const safe = /^https?:\/\/[^\s<>|]+$/.test(url) ? url : '';
  const label = escapeText(text.length > 120 ? `${text.slice(0, 119)}…` : text).replace(/\|/g, '¦');
  return safe ? `<${safe}|${label}>` : label;
}

function pullReply(p: PullDetail): Reply {
  const state = p.merged ? 'merged' : p.state === 'closed' ? 'closed' : p.draft ? 'open (draft)' : 'open';
  const review =
    p.reviewDecision === 'approved'
      ? `:white_check_mark: approved by ${p.approvals.map(escapeText).join(', ')}`
      : p.reviewDecision === 'changes_requested'
        ? ':x: changes requested'
        : ':hourglass: review required';
  const c = p.checks;
  const checks =
    c.total === 0
      ? 'none'
      : `${c.failed > 0 ? ':x:' : c.pending > 0 ? ':hourglass:' : ':white_check_mark:'} ${c.passed} passed, ${c.failed} failed, ${c.pending} pending${
          c.failedNames.length ? ` (failed: ${c.failedNames.map(escapeText).join(', ')})` : ''
        }`;
  const mergeable = p.mergeable === null ? 'unknown' : p.mergeable ? 'yes' : 'no (conflicts)';
  const title = `#${p.number} ${p.title}`;
  const text = `${link(p.url, title)} by ${escapeText(p.author)}: ${state}; reviews: ${review}; checks: ${checks}; mergeable: ${mergeable}`;
  return {
    text,
    blocks: [
      header(title),
      fields([
        ['Author', escapeText(p.author)],
        ['State', state],
        ['Reviews', review],
        ['Checks', checks],
        ['Mergeable', mergeable],
      ]),
      context(link(p.url, 'Open on GitHub')),
    ],
  };
}

function issueReply(i: IssueDetail): Reply {
  const title = `#${i.number} ${i.title}`;
  const kind = i.isPullRequest ? 'pull request (try `/gh pr`)' : 'issue';
  const labels = i.labels.length ? i.labels.map((l) => inlineCode(l, 50)).join(' ') : 'none';
  const assignees = i.assignees.length ? i.assignees.map(escapeText).join(', ') : 'nobody';
  return {
    text: `${link(i.url, title)} (${kind}) by ${escapeText(i.author)}: ${i.state}; labels: ${labels}; assigned to ${assignees}`,
    blocks: [
      header(title),
      fields([
        ['Author', escapeText(i.author)],
        ['State', `${i.state} ${kind}`],
        ['Labels', labels],
        ['Assignees', assignees],
      ]),
      context(link(i.url, 'Open on GitHub')),
    ],
  };
}

const RUN_ICON: Readonly<Record<string, string>> = {
  success: ':white_check_mark:',
  failure: ':x:',
  cancelled: ':no_entry_sign:',
};

function runsReply(repo: RepoRef, runs: RunSummary[], branch?: string): Reply {
  const name = `${repo.owner}/${repo.repo}`;
  if (runs.length === 0)
    return { text: `No workflow runs in \`${name}\`${branch ? ` on ${inlineCode(branch)}` : ''}.` };
  const title = `${name}: latest workflow runs${branch ? ` on ${branch}` : ''}`;
  const blocks = [header(title)];
  const lines: string[] = [];
  for (const r of runs) {
    const outcome = escapeText(
      r.status === 'completed' ? (r.conclusion ?? 'done') : r.status.replace(/_/g, ' '),
    );
    const icon =
      r.status === 'completed'
        ? (ownValue(RUN_ICON, r.conclusion ?? '') ?? ':grey_question:')
        : ':hourglass:';
    const line = `${icon} ${link(r.url, `${r.name} #${r.runNumber}`)} on ${inlineCode(r.branch)}: ${outcome}`;
    lines.push(line);
    blocks.push(section(line));
    if (r.status === 'completed' && r.conclusion === 'failure') {
      blocks.push(actions([button('Re-run failed jobs', 'gh:rerun', `${name}:${r.id}`, 'primary')]));
    }
  }
  return { text: `${escapeText(title)}\n${lines.join('\n')}`, blocks };
}

async function createIssue(
  ctx: GitHubContext,
  repo: RepoRef,
  title: string,
  body: string | undefined,
  labels: string[],
): Promise<Reply> {
  if (title.trim() === '') throw new UserFacingError('The title is empty.');
  if (title.length > MAX_TITLE)
    throw new UserFacingError(`The title is too long: at most ${MAX_TITLE} characters.`);
  if (body && body.length > MAX_BODY)
    throw new UserFacingError(`The body is too long: at most ${MAX_BODY} characters.`);
  const issue = await ctx.apis.github.createIssue(
    repo,
    { title, ...(body ? { body } : {}), labels },
    ctx.scope,
  );
  return {
    text: `:memo: ${userMention(ctx.actor.userId)} opened ${link(issue.url, `${repo.owner}/${repo.repo}#${issue.number}`)}: ${escapeText(issue.title)}`,
    responseType: 'in_channel',
  };
}

async function openIssueForm(ctx: GitHubContext): Promise<Reply | undefined> {
  if (!ctx.triggerId)
    throw new UserFacingError(
      'I can only open a form from a slash command. Try `/gh issue create acme/web "Title"`.',
    );
  await ctx.services.slack.openView({ triggerId: ctx.triggerId, view: issueModal(ctx.actor.channelId) });
  return undefined;
}
