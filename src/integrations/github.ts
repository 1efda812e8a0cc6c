import type { components } from '@octokit/openapi-types';
import { z } from 'zod';
import { idText, type SecretSpec, secretText } from '../credentials/secret-spec.js';
import { UserFacingError } from '../errors.js';
import type { RequestScope } from '../request-scope.js';
import { githubRotation } from '../rotation/github.js';
import { escapeText } from '../text/escape.js';
import {
  type GitHubAccess,
  GitHubClient,
  type GitHubPermission,
  type GitHubSecret,
  statusOf,
} from './github-client.js';
import { githubConfig } from './github-config.js';
import { type CredentialedCalls, secretIntegration } from './integration.js';

declare module './integration.js' {
  interface IntegrationApis {
    github: GitHubApi;
  }
}

const githubAppSchema = z.object({
  appId: idText('appId'),
  installationId: idText('installationId'),
  privateKey: secretText('privateKey').regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, {
    error: 'privateKey: expected a PEM private key (-----BEGIN … PRIVATE KEY-----)',
  }),
});
const githubTokenSchema = z.object({ token: secretText('token') });
export const githubSecretSchema: z.ZodType<GitHubSecret> = z.union([githubAppSchema, githubTokenSchema], {
  error: 'expected either appId, installationId and privateKey (a GitHub App) or token',
});

export interface RepoRef {
  owner: string;
  repo: string;
}

export interface NumberRef extends RepoRef {
  number: number;
}

export interface PullSummary {
  number: number;
  title: string;
  author: string;
  state: 'open' | 'closed';
  draft: boolean;
  url: string;
  updatedAt: string;
}

export interface PullDetail extends PullSummary {
  merged: boolean;
  mergeable: boolean | null;
  reviewDecision: 'approved' | 'changes_requested' | 'review_required';
  approvals: string[];
  checks: { total: number; passed: number; failed: number; pending: number; failedNames: string[] };
}

export interface IssueDetail {
  number: number;
  title: string;
  author: string;
  state: 'open' | 'closed';
  labels: string[];
  assignees: string[];
  url: string;
  isPullRequest: boolean;
}

export interface RunSummary {
  id: number;
  name: string;
  branch: string;
  status: string;
  conclusion: string | null;
  runNumber: number;
  url: string;
}

/** What `/gh` needs from GitHub, in opsbot's own types (commands never see Octokit). */
export interface GitHubApi {
  listPulls(
    repo: RepoRef,
    options: { state: 'open' | 'closed'; limit: number; author?: string },
    scope?: RequestScope,
  ): Promise<PullSummary[]>;
  getPull(ref: NumberRef, scope?: RequestScope): Promise<PullDetail>;
  getIssue(ref: NumberRef, scope?: RequestScope): Promise<IssueDetail>;
  createIssue(
    repo: RepoRef,
    issue: { title: string; body?: string; labels?: string[] },
    scope?: RequestScope,
  ): Promise<IssueDetail>;
  listRuns(
    repo: RepoRef,
    options: { branch?: string; limit: number },
    scope?: RequestScope,
  ): Promise<RunSummary[]>;
  rerunFailedJobs(repo: RepoRef, runId: number, scope?: RequestScope): Promise<void>;
  /** What the App may be granted (GET /app); undefined with a fine-grained token. */
  appPermissions(): Promise<Readonly<Record<string, string>> | undefined>;
}

/**
 * GitHub: a {@link GitHubClient} per version of the `github` secret, minting installation tokens
 * narrowed to one repository and the permissions of each call. "Bad credentials" (a revoked PAT, or
 * an App JWT signed with a key GitHub no longer has) takes the shared refresh-and-retry path.
 */
export const github = secretIntegration({
  kind: 'secret',
  name: 'github',
  title: 'GitHub',
  config: githubConfig,
  secret: {
    schema: githubSecretSchema,
    // A GitHub secret is either kind: report the fields of the one it was meant to be, not the union.
    schemaFor: (data) => ('token' in data ? githubTokenSchema : githubAppSchema),
    sensitive: ['privateKey', 'token'],
  },
  createClient: (secret: GitHubSecret, deps) =>
    new GitHubClient(secret, {
      clock: deps.clock,
      log: deps.log,
      rateLimits: deps.rateLimits,
      ...(deps.config.github.apiUrl ? { apiUrl: deps.config.github.apiUrl } : {}),
    }),
  isAuthFailure: (error) => statusOf(error) === 401,
  createApi: (calls) => createGitHubApi(calls),
  // For the access review: what opsbot's own credential may be granted.
  grants: (api) => api.appPermissions(),
  rotation: githubRotation((): SecretSpec<GitHubSecret> => github.secret),
});

type Schemas = components['schemas'];
type Pull = Schemas['pull-request-simple'] | Schemas['pull-request'];
type Issue = Schemas['issue'];
type Review = Schemas['pull-request-review'];
type CheckRun = Schemas['check-run'];
type WorkflowRun = Schemas['workflow-run'];
type Params = Record<string, unknown>;

export function createGitHubApi(calls: CredentialedCalls<GitHubClient>): GitHubApi {
  const call = async <T>(
    method: 'GET' | 'POST',
    path: string,
    params: Params,
    ref: RepoRef,
    permissions: GitHubAccess['permissions'],
    scope: RequestScope | undefined,
  ): Promise<T> => {
    try {
      const response = await calls.run(
        (client) =>
          client.request<T>(
            `${method} ${path}`,
            { owner: ref.owner, repo: ref.repo, ...params },
            { ...ref, permissions },
          ),
        scope,
      );
      return response.data;
    } catch (error) {
      throw explain(error, ref, permissions);
    }
  };
  const read = (p: GitHubPermission) => ({ [p]: 'read' as const });

  return {
    appPermissions: () => calls.run((client) => client.appPermissions()),
    async listPulls(repo, { state, limit, author }, scope) {
      // The pulls API cannot filter by author: read one bounded page and filter it.
      const pulls = await call<Schemas['pull-request-simple'][]>(
        'GET',
        '/repos/{owner}/{repo}/pulls',
        { state, per_page: author ? 100 : limit, sort: 'updated', direction: 'desc' },
        repo,
        read('pull_requests'),
        scope,
      );
      return pulls
        .map(pullSummary)
        .filter((p) => !author || p.author.toLowerCase() === author.toLowerCase())
        .slice(0, limit);
    },
    async getPull(ref, scope) {
      const permissions = { pull_requests: 'read' as const, checks: 'read' as const };
      const pull = await call<Schemas['pull-request']>(
        'GET',
        '/repos/{owner}/{repo}/pulls/{pull_number}',
        { pull_number: ref.number },
        ref,
        permissions,
        scope,
      );
      const [reviews, checks] = await Promise.all([
        call<Review[]>(
          'GET',
          '/repos/{owner}/{repo}/pulls/{pull_number}/reviews',
          { pull_number: ref.number, per_page: 100 },
          ref,
          permissions,
          scope,
        ),
        call<{ check_runs: CheckRun[] }>(
          'GET',
          '/repos/{owner}/{repo}/commits/{ref}/check-runs',
          { ref: pull.head.sha, per_page: 100 },
          ref,
          permissions,
          scope,
        ),
      ]);
      return {
        ...pullSummary(pull),
        merged: pull.merged === true,
        mergeable: typeof pull.mergeable === 'boolean' ? pull.mergeable : null,
        ...reviewDecision(reviews),
        checks: checkSummary(checks.check_runs ?? []),
      };
    },
    async getIssue(ref, scope) {
      const issue = await call<Issue>(
        'GET',
        '/repos/{owner}/{repo}/issues/{issue_number}',
        { issue_number: ref.number },
        ref,
        read('issues'),
        scope,
      );
      return issueDetail(issue);
    },
    async createIssue(repo, { title, body, labels }, scope) {
      const issue = await call<Issue>(
        'POST',
        '/repos/{owner}/{repo}/issues',
        { title, ...(body ? { body } : {}), ...(labels?.length ? { labels } : {}) },
        repo,
        { issues: 'write' },
        scope,
      );
      return issueDetail(issue);
    },
    async listRuns(repo, { branch, limit }, scope) {
      const runs = await call<{ workflow_runs: WorkflowRun[] }>(
        'GET',
        '/repos/{owner}/{repo}/actions/runs',
        { per_page: limit, ...(branch ? { branch } : {}) },
        repo,
        read('actions'),
        scope,
      );
      return (runs.workflow_runs ?? []).slice(0, limit).map((r) => ({
        id: Number(r.id),
        name: r.name ?? 'workflow',
        branch: r.head_branch ?? '',
        status: r.status ?? '',
        conclusion: r.conclusion,
        runNumber: r.run_number,
        url: r.html_url,
      }));
    },
    async rerunFailedJobs(repo, runId, scope) {
      await call(
        'POST',
        '/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs',
        { run_id: runId },
        repo,
        { actions: 'write' },
        scope,
      );
    },
  };
}

function pullSummary(p: Pull): PullSummary {
  return {
    number: p.number,
    title: p.title,
    author: p.user?.login ?? 'ghost',
    state: p.state === 'closed' ? 'closed' : 'open',
    draft: p.draft === true,
    url: p.html_url,
    updatedAt: p.updated_at,
  };
}

function issueDetail(i: Issue): IssueDetail {
  return {
    number: i.number,
    title: i.title,
    author: i.user?.login ?? 'ghost',
    state: i.state === 'closed' ? 'closed' : 'open',
    labels: i.labels.map((l) => (typeof l === 'string' ? l : (l.name ?? ''))).slice(0, 20),
    assignees: (i.assignees ?? []).map((a) => a.login).slice(0, 10),
    url: i.html_url,
    isPullRequest: i.pull_request !== undefined,
  };
}

/** GitHub's rule: each reviewer's latest decisive review counts. */
function reviewDecision(reviews: Review[]): Pick<PullDetail, 'reviewDecision' | 'approvals'> {
  const latest = new Map<string, string>();
  for (const r of reviews) {
    if (r.state === 'APPROVED' || r.state === 'CHANGES_REQUESTED' || r.state === 'DISMISSED')
      latest.set(r.user?.login ?? 'ghost', r.state);
  }
  const states = [...latest.values()];
  const approvals = [...latest].filter(([, s]) => s === 'APPROVED').map(([login]) => login);
  return {
    reviewDecision: states.includes('CHANGES_REQUESTED')
      ? 'changes_requested'
      : approvals.length > 0
        ? 'approved'
        : 'review_required',
    approvals,
  };
}

function checkSummary(runs: CheckRun[]): PullDetail['checks'] {
  const failedNames: string[] = [];
  let passed = 0;
  let failed = 0;
  let pending = 0;
  for (const run of runs) {
    if (run.status !== 'completed') pending++;
    else if (['success', 'neutral', 'skipped'].includes(run.conclusion ?? '')) passed++;
    else {
      failed++;
      failedNames.push(run.name);
    }
  }
  return { total: runs.length, passed, failed, pending, failedNames: failedNames.slice(0, 10) };
}

/** GitHub's refusals, as sentences that say what to do next. */
function explain(error: unknown, ref: RepoRef, permissions: GitHubAccess['permissions']): unknown {
  if (error instanceof UserFacingError) return error;
  const status = statusOf(error);
  const name = `${ref.owner}/${ref.repo}`;
  const message = String(
    (error as { response?: { data?: { message?: unknown } } }).response?.data?.message ?? '',
  );
  if (status === 404 || (status === 422 && /not accessible to the parent installation/i.test(message))) {
    return new UserFacingError(
      `I can't find that in \`${name}\`: the repository or number does not exist, or the opsbot GitHub App is not installed on it (ask a GitHub admin to add the repository to the installation).`,
      { cause: error },
    );
  }
  if (status === 403 || (status === 422 && /permissions requested are not granted/i.test(message))) {
    const needed = Object.entries(permissions)
      .map(([p, l]) => `\`${p}: ${l}\``)
      .join(', ');
    return new UserFacingError(
      /cannot be rerun/i.test(message)
        ? 'GitHub says that run cannot be re-run (only a failed, completed run can).'
        : `GitHub refused opsbot access to \`${name}\`: the GitHub App needs ${needed} there. Ask a GitHub admin to grant it.`,
      { cause: error },
    );
  }
  if (status === 422) {
    return new UserFacingError(
      `GitHub rejected that: ${escapeText(message.slice(0, 200)) || 'validation failed'}.`,
      {
        cause: error,
      },
    );
  }
  return error;
}
