/**
 * The seeded GitHub the sandbox serves: repositories with pull requests, reviews, check runs,
 * issues and Actions runs, in GitHub's REST shapes (the fields opsbot reads, and a few more).
 */
export interface SeedPull {
  number: number;
  title: string;
  author: string;
  state: 'open' | 'closed';
  merged?: boolean;
  draft?: boolean;
  mergeable?: boolean | null;
  headSha: string;
  headRef: string;
  reviews: { user: string; state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' }[];
  checks: { name: string; status: 'queued' | 'in_progress' | 'completed'; conclusion: string | null }[];
}

export interface SeedIssue {
  number: number;
  title: string;
  author: string;
  state: 'open' | 'closed';
  body?: string;
  labels: string[];
  assignees: string[];
}

export interface SeedRun {
  id: number;
  name: string;
  branch: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: 'success' | 'failure' | 'cancelled' | null;
  runNumber: number;
  rerunRequested?: boolean;
}

export interface SeedRepo {
  owner: string;
  name: string;
  /** Whether the GitHub App is installed on it (if not, it is a 404 to the app). */
  installed: boolean;
  pulls: SeedPull[];
  issues: SeedIssue[];
  runs: SeedRun[];
}

const ISO = (minutesAgo: number) =>
  new Date(Date.UTC(2026, 10, 23, 12, 0, 0) - minutesAgo * 60_000).toISOString();

export function seedRepos(): SeedRepo[] {
  return [
    {
      owner: 'acme',
      name: 'web',
      installed: true,
      pulls: [
        {
          number: 42,
          title: 'Fix login redirect on Safari',
          author: 'octocat',
          state: 'open',
          mergeable: true,
          headSha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
          headRef: 'fix/safari-login',
          reviews: [
            { user: 'hubot', state: 'COMMENTED' },
            { user: 'monalisa', state: 'APPROVED' },
          ],
          checks: [
            { name: 'build', status: 'completed', conclusion: 'success' },
            { name: 'test', status: 'completed', conclusion: 'success' },
            { name: 'e2e', status: 'in_progress', conclusion: null },
          ],
        },
        {
          number: 41,
          title: 'Bump <script> loader & drop IE11',
          author: 'monalisa',
          state: 'open',
          draft: true,
          mergeable: false,
          headSha: 'b1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
          headRef: 'chore/loader',
          reviews: [{ user: 'octocat', state: 'CHANGES_REQUESTED' }],
          checks: [{ name: 'build', status: 'completed', conclusion: 'failure' }],
        },
        {
          number: 40,
          title: 'Add dark mode',
          author: 'octocat',
          state: 'closed',
          merged: true,
          mergeable: null,
          headSha: 'c1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
          headRef: 'feat/dark',
          reviews: [{ user: 'hubot', state: 'APPROVED' }],
          checks: [{ name: 'build', status: 'completed', conclusion: 'success' }],
        },
      ],
      issues: [
        {
          number: 7,
          title: 'Checkout button unresponsive <!channel>',
          author: 'hubot',
          state: 'open',
          body: 'Steps: open /checkout, click Pay.',
          labels: ['bug', 'p2'],
          assignees: ['octocat'],
        },
      ],
      runs: [
        { id: 9001, name: 'CI', branch: 'main', status: 'completed', conclusion: 'failure', runNumber: 311 },
        { id: 9000, name: 'CI', branch: 'main', status: 'completed', conclusion: 'success', runNumber: 310 },
        { id: 8999, name: 'Deploy', branch: 'main', status: 'in_progress', conclusion: null, runNumber: 88 },
        {
          id: 8998,
          name: 'CI',
          branch: 'fix/safari-login',
          status: 'completed',
          conclusion: 'success',
          runNumber: 309,
        },
      ],
    },
    { owner: 'acme', name: 'api', installed: true, pulls: [], issues: [], runs: [] },
    { owner: 'acme', name: 'vault', installed: false, pulls: [], issues: [], runs: [] },
  ];
}

const userJson = (login: string) => ({ login, id: login.length * 1000 + login.charCodeAt(0), type: 'User' });

export function pullJson(
  base: string,
  repo: SeedRepo,
  p: SeedPull,
  detail: boolean,
): Record<string, unknown> {
  return {
    number: p.number,
    title: p.title,
    state: p.state,
    draft: p.draft ?? false,
    user: userJson(p.author),
    html_url: `${base}/${repo.owner}/${repo.name}/pull/${p.number}`,
    created_at: ISO(600 - p.number),
    updated_at: ISO(60 - p.number),
    head: { sha: p.headSha, ref: p.headRef },
    base: { ref: 'main' },
    ...(detail
      ? {
          merged: p.merged ?? false,
          mergeable: p.mergeable ?? null,
          mergeable_state: p.mergeable === false ? 'dirty' : 'clean',
          comments: 2,
          additions: 40,
          deletions: 12,
          changed_files: 3,
        }
      : {}),
  };
}

export function issueJson(base: string, repo: SeedRepo, i: SeedIssue): Record<string, unknown> {
  return {
    number: i.number,
    title: i.title,
    state: i.state,
    body: i.body ?? null,
    user: userJson(i.author),
    labels: i.labels.map((name) => ({ name })),
    assignees: i.assignees.map(userJson),
    comments: 0,
    html_url: `${base}/${repo.owner}/${repo.name}/issues/${i.number}`,
    created_at: ISO(300),
    updated_at: ISO(30),
  };
}

export function runJson(base: string, repo: SeedRepo, r: SeedRun): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    head_branch: r.branch,
    head_sha: 'd1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    status: r.status,
    conclusion: r.conclusion,
    run_number: r.runNumber,
    event: 'push',
    html_url: `${base}/${repo.owner}/${repo.name}/actions/runs/${r.id}`,
    created_at: ISO(r.runNumber % 100),
    updated_at: ISO(r.runNumber % 50),
  };
}
