import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { components as Components } from '@octokit/openapi-types';
import { readBody, sendJson } from '../http/server.js';
import { issueJson, pullJson, runJson, type SeedRepo, seedRepos } from './github-data.js';
import { verifyAppJwt } from './github-jwt.js';
import { type LoopbackServer, startLoopbackServer } from './loopback-server.js';

type Permission = 'read' | 'write';
type Permissions = Record<string, Permission>;

interface InstallationToken {
  installationId: string;
  expiresAt: number;
  /** Repository names the token is narrowed to (all of the installation's when undefined). */
  repositories?: Set<string>;
  permissions: Permissions;
}

export type GitHubFault =
  | { kind: 'primary'; count?: number; resetInSeconds: number }
  | { kind: 'secondary'; count?: number; retryAfterSeconds: number; status?: 403 | 429 }
  | { kind: 'server_error'; count?: number }
  /** GitHub's 422 "Validation Failed" with this message (GitHub's messages may quote what was sent). */
  | { kind: 'validation'; count?: number; message: string }
  /** Holds API calls (not token minting) this long before checking their token: calls in flight. */
  | { kind: 'slow'; count?: number; ms: number };

const DOCS = 'https://docs.github.com/rest';
/** The user a personal token belongs to (`GET /user`), and the App's owner. */
const USER_JSON: Components['schemas']['simple-user'] = {
  login: 'opsbot-bot',
  id: 9_000_001,
  node_id: 'U_opsbot',
  avatar_url: 'https://avatars.githubusercontent.com/u/9000001',
  gravatar_id: '',
  url: 'https://api.github.com/users/opsbot-bot',
  html_url: 'https://github.com/opsbot-bot',
  followers_url: 'https://api.github.com/users/opsbot-bot/followers',
  following_url: 'https://api.github.com/users/opsbot-bot/following{/other_user}',
  gists_url: 'https://api.github.com/users/opsbot-bot/gists{/gist_id}',
  starred_url: 'https://api.github.com/users/opsbot-bot/starred{/owner}{/repo}',
  subscriptions_url: 'https://api.github.com/users/opsbot-bot/subscriptions',
  organizations_url: 'https://api.github.com/users/opsbot-bot/orgs',
  repos_url: 'https://api.github.com/users/opsbot-bot/repos',
  events_url: 'https://api.github.com/users/opsbot-bot/events{/privacy}',
  received_events_url: 'https://api.github.com/users/opsbot-bot/received_events',
  type: 'User',
  site_admin: false,
};
/** What the sandbox's App is installed with. */
const INSTALLATION_PERMISSIONS: Permissions = {
  pull_requests: 'read',
  checks: 'read',
  issues: 'write',
  actions: 'write',
  metadata: 'read',
};

/**
 * A simulated GitHub REST API on 127.0.0.1 for the endpoints `/gh` uses, with GitHub App
 * authentication done properly: `POST /app/installations/:id/access_tokens` checks the app JWT's
 * RS256 signature against the app's public keys (several during a key rotation) and issues
 * expiring tokens narrowed to the repositories and permissions asked for; expired, revoked or
 * unknown tokens get GitHub's 401; rate limits are injected with GitHub's headers.
 *
 * @example
 * const gh = new SimulatedGitHub({ appId: '123', installationId: '456' });
 * await gh.start();
 * gh.addAppKey(publicKeyPem);
 */
export class SimulatedGitHub {
  readonly repos: SeedRepo[] = seedRepos();
  readonly calls: {
    method: string;
    path: string;
    status: number;
    auth: 'installation' | 'pat' | 'jwt' | 'none';
  }[] = [];
  /** Installation tokens issued (for assertions on narrowing), newest last. */
  readonly issued: { repositories?: string[]; permissions: Permissions; expiresAt: string }[] = [];
  readonly #keys = new Map<string, string>();
  readonly #tokens = new Map<string, InstallationToken>();
  readonly #pats = new Set<string>();
  readonly #faults: (GitHubFault & { left: number })[] = [];
  /** API calls being held by a `slow` fault right now. */
  held = 0;
  readonly #now: () => number;
  #server: LoopbackServer | undefined;
  #url = '';
  tokenTtlMs: number;
  /** What the App is installed with; tests narrow it to show a missing permission. */
  installationPermissions: Permissions = { ...INSTALLATION_PERMISSIONS };

  constructor(
    readonly options: { appId: string; installationId: string; now?: () => number; tokenTtlMs?: number },
  ) {
    this.#now = options.now ?? Date.now;
    this.tokenTtlMs = options.tokenTtlMs ?? 3_600_000;
  }

  async start(): Promise<{ url: string }> {
    this.#server = await startLoopbackServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) sendJson(res, 500, { message: 'Server Error' });
      });
    });
    this.#url = this.#server.url;
    return { url: this.#url };
  }

  async stop(): Promise<void> {
    await this.#server?.stop();
  }

  get url(): string {
    return this.#url;
  }

  /** Adds one of the app's public keys (GitHub Apps may hold several while a key rotates). Returns its id. */
  addAppKey(publicKeyPem: string): string {
    const id = randomBytes(4).toString('hex');
    this.#keys.set(id, publicKeyPem);
    return id;
  }

  removeAppKey(id: string): void {
    this.#keys.delete(id);
  }

  addPersonalToken(token: string): void {
    this.#pats.add(token);
  }

  revokePersonalToken(token: string): void {
    this.#pats.delete(token);
  }

  /** Revokes every installation token issued so far (as deleting them in GitHub would). */
  revokeInstallationTokens(): void {
    this.#tokens.clear();
  }

  failNext(fault: GitHubFault): void {
    this.#faults.push({ ...fault, left: fault.count ?? 1 });
  }

  repo(owner: string, name: string): SeedRepo | undefined {
    return this.repos.find((r) => r.owner === owner && r.name === name);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req, 1_048_576);
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/^\/api\/v3/, '');
    const answer = (
      status: number,
      body: unknown,
      headers: Record<string, string> = {},
      auth: (typeof this.calls)[number]['auth'] = 'none',
    ) => {
      this.calls.push({ method, path, status, auth });
      if (this.calls.length > 5_000) this.calls.splice(0, 1_000);
      for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
      sendJson(res, status, body);
    };
    if (raw === 'too_large') return answer(413, { message: 'Payload too large' });
    let body: Record<string, unknown> = {};
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      } catch {
        return answer(400, { message: 'Problems parsing JSON', documentation_url: DOCS, status: '400' });
      }
    }
    const credential = /^(?:token|bearer)\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];

    const mint = /^\/app\/installations\/([^/]+)\/access_tokens$/.exec(path);
    if (mint && method === 'POST') {
      const jwt = verifyAppJwt(
        credential,
        [...this.#keys.values()],
        this.options.appId,
        Math.floor(Date.now() / 1_000),
      );
      if (!jwt.ok)
        return answer(401, { message: jwt.message, documentation_url: DOCS, status: '401' }, {}, 'jwt');
      if (mint[1] !== this.options.installationId)
        return answer(404, { message: 'Not Found', documentation_url: DOCS, status: '404' }, {}, 'jwt');
      return this.#mint(body, (status, json) => answer(status, json, {}, 'jwt'));
    }

    if (path === '/app' && method === 'GET') {
      // The authenticated App (an App JWT only), as Octokit's `integration` schema shapes it.
      const jwt = verifyAppJwt(
        credential,
        [...this.#keys.values()],
        this.options.appId,
        Math.floor(Date.now() / 1_000),
      );
      if (!jwt.ok)
        return answer(401, { message: jwt.message, documentation_url: DOCS, status: '401' }, {}, 'jwt');
      return answer(200, this.#appJson(), {}, 'jwt');
    }

    const fault = this.#faults.shift();
    if (fault) {
      fault.left--;
      if (fault.left > 0) this.#faults.unshift(fault);
      if (fault.kind === 'slow') {
        this.held++;
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        this.held--;
      } else return this.#fault(fault, answer);
    }
    const who = this.#authenticate(credential);
    if (!who) return answer(401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' });
    if (path === '/user' && method === 'GET') {
      // The token's user; an installation token is not a user (GitHub's 403).
      if ('expiresAt' in who) {
        return answer(
          403,
          { message: 'Resource not accessible by integration', documentation_url: DOCS, status: '403' },
          {},
          'installation',
        );
      }
      return answer(200, USER_JSON, {}, 'pat');
    }
    const route = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
    const repo = route ? this.repo(route[1] as string, route[2] as string) : undefined;
    const kind = 'expiresAt' in who ? 'installation' : 'pat';
    const notFound = () =>
      answer(404, { message: 'Not Found', documentation_url: DOCS, status: '404' }, {}, kind);
    if (!route || !repo || (kind === 'installation' && !repo.installed)) return notFound();
    if (kind === 'installation') {
      const token = who as InstallationToken;
      if (token.repositories && !token.repositories.has(repo.name)) return notFound();
    }
    const rest = route[3] ?? '';
    const need = (permission: string, level: Permission) => {
      if (kind !== 'installation') return true;
      const granted = (who as InstallationToken).permissions[permission];
      return granted === 'write' || granted === level;
    };
    const forbidden = () =>
      answer(
        403,
        { message: 'Resource not accessible by integration', documentation_url: DOCS, status: '403' },
        {},
        kind,
      );
    const ok = (status: number, json: unknown) => answer(status, json, rateHeaders(this.#now()), kind);
    const html = 'https://github.com';
    const pullMatch = /^\/pulls\/(\d+)(\/reviews)?$/.exec(rest);
    const checksMatch = /^\/commits\/([0-9a-f]{40})\/check-runs$/.exec(rest);
    const issueMatch = /^\/issues\/(\d+)$/.exec(rest);
    const rerunMatch = /^\/actions\/runs\/(\d+)\/rerun-failed-jobs$/.exec(rest);
    if (method === 'GET' && rest === '/pulls') {
      if (!need('pull_requests', 'read')) return forbidden();
      const state = url.searchParams.get('state') ?? 'open';
      const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30));
      const pulls = repo.pulls.filter((p) => state === 'all' || p.state === state).slice(0, perPage);
      return ok(
        200,
        pulls.map((p) => pullJson(html, repo, p, false)),
      );
    }
    if (method === 'GET' && pullMatch) {
      const m = pullMatch;
      if (!need('pull_requests', 'read')) return forbidden();
      const pull = repo.pulls.find((p) => p.number === Number(m[1]));
      if (!pull) return notFound();
      if (m[2])
        return ok(
          200,
          pull.reviews.map((r, i) => ({ id: i + 1, user: { login: r.user }, state: r.state })),
        );
      return ok(200, pullJson(html, repo, pull, true));
    }
    if (method === 'GET' && checksMatch) {
      const m = checksMatch;
      if (!need('checks', 'read')) return forbidden();
      const pull = repo.pulls.find((p) => p.headSha === m[1]);
      const runs = (pull?.checks ?? []).map((c, i) => ({
        id: i + 1,
        name: c.name,
        status: c.status,
        conclusion: c.conclusion,
      }));
      return ok(200, { total_count: runs.length, check_runs: runs });
    }
    if (method === 'GET' && issueMatch) {
      const m = issueMatch;
      if (!need('issues', 'read')) return forbidden();
      const issue = repo.issues.find((i) => i.number === Number(m[1]));
      const pull = repo.pulls.find((p) => p.number === Number(m[1]));
      if (issue) return ok(200, issueJson(html, repo, issue));
      if (pull)
        return ok(200, {
          ...issueJson(html, repo, {
            number: pull.number,
            title: pull.title,
            author: pull.author,
            state: pull.state,
            labels: [],
            assignees: [],
          }),
          pull_request: { url: `${this.#url}/repos/${repo.owner}/${repo.name}/pulls/${pull.number}` },
        });
      return notFound();
    }
    if (method === 'POST' && rest === '/issues') {
      if (!need('issues', 'write')) return forbidden();
      const title = body.title;
      if (typeof title !== 'string' || title.trim() === '' || title.length > 256) {
        return answer(
          422,
          {
            message: 'Validation Failed',
            errors: [{ resource: 'Issue', field: 'title', code: 'missing_field' }],
            documentation_url: DOCS,
            status: '422',
          },
          {},
          kind,
        );
      }
      const number = Math.max(0, ...repo.issues.map((i) => i.number), ...repo.pulls.map((p) => p.number)) + 1;
      const issue = {
        number,
        title,
        author: kind === 'installation' ? 'opsbot[bot]' : 'opsbot-user',
        state: 'open' as const,
        body: typeof body.body === 'string' ? body.body : '',
        labels: Array.isArray(body.labels) ? body.labels.map(String).slice(0, 20) : [],
        assignees: [],
      };
      repo.issues.push(issue);
      return ok(201, issueJson(html, repo, issue));
    }
    if (method === 'GET' && rest === '/actions/runs') {
      if (!need('actions', 'read')) return forbidden();
      const branch = url.searchParams.get('branch');
      const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30));
      const runs = repo.runs.filter((r) => !branch || r.branch === branch);
      return ok(200, {
        total_count: runs.length,
        workflow_runs: runs.slice(0, perPage).map((r) => runJson(html, repo, r)),
      });
    }
    if (method === 'POST' && rerunMatch) {
      const m = rerunMatch;
      if (!need('actions', 'write')) return forbidden();
      const run = repo.runs.find((r) => r.id === Number(m[1]));
      if (!run) return notFound();
      if (run.conclusion !== 'failure')
        return answer(
          403,
          { message: 'This workflow run cannot be rerun', documentation_url: DOCS, status: '403' },
          {},
          kind,
        );
      run.rerunRequested = true;
      run.status = 'queued';
      run.conclusion = null;
      return ok(201, {});
    }
    return notFound();
  }

  #mint(body: Record<string, unknown>, answer: (status: number, json: unknown) => void): void {
    const wanted = Array.isArray(body.repositories) ? body.repositories.map(String) : undefined;
    const asked = (body.permissions ?? INSTALLATION_PERMISSIONS) as Permissions;
    const refusal = this.#mintRefusal(wanted, asked);
    if (refusal) {
      answer(422, { message: refusal, documentation_url: DOCS, status: '422' });
      return;
    }
    const token = `ghs_${randomBytes(18).toString('hex')}`;
    const expiresAt = this.#now() + this.tokenTtlMs;
    this.#tokens.set(token, {
      installationId: this.options.installationId,
      expiresAt,
      ...(wanted ? { repositories: new Set(wanted) } : {}),
      permissions: asked,
    });
    const record = {
      ...(wanted ? { repositories: wanted } : {}),
      permissions: asked,
      expiresAt: new Date(expiresAt).toISOString(),
    };
    this.issued.push(record);
    answer(201, {
      token,
      expires_at: record.expiresAt,
      permissions: asked,
      repository_selection: wanted ? 'selected' : 'all',
      ...(wanted
        ? { repositories: wanted.map((name, i) => ({ id: 100 + i, name, full_name: `acme/${name}` })) }
        : {}),
    });
  }

  #mintRefusal(wanted: string[] | undefined, asked: Permissions): string | undefined {
    if ((wanted ?? []).some((name) => !this.repos.some((r) => r.name === name && r.installed))) {
      return 'There is at least one repository that does not exist or is not accessible to the parent installation.';
    }
    for (const [permission, level] of Object.entries(asked)) {
      const granted = this.installationPermissions[permission];
      if (!granted || (level === 'write' && granted !== 'write')) {
        return 'The permissions requested are not granted to this installation.';
      }
    }
    return undefined;
  }

  #appJson(): Components['schemas']['integration'] {
    const id = Number(this.options.appId);
    return {
      id,
      slug: 'opsbot',
      node_id: `A_${id}`,
      client_id: `Iv1.${this.options.appId.padStart(16, '0')}`,
      owner: USER_JSON,
      name: 'opsbot',
      description: 'A Slack-native DevOps bot',
      external_url: 'https://opsbot.example.com',
      html_url: 'https://github.com/apps/opsbot',
      created_at: '2026-01-05T09:00:00Z',
      updated_at: '2026-01-05T09:00:00Z',
      permissions: { ...this.installationPermissions },
      events: [],
      installations_count: 1,
    };
  }

  #authenticate(credential: string | undefined): InstallationToken | { pat: true } | undefined {
    if (!credential) return undefined;
    if (this.#pats.has(credential)) return { pat: true };
    const token = this.#tokens.get(credential);
    if (!token || token.expiresAt <= this.#now()) return undefined;
    return token;
  }

  #fault(
    fault: Exclude<GitHubFault, { kind: 'slow' }>,
    answer: (status: number, body: unknown, headers?: Record<string, string>) => void,
  ): void {
    const now = Math.floor(this.#now() / 1_000);
    if (fault.kind === 'primary') {
      answer(
        403,
        {
          message: `API rate limit exceeded for installation ID ${this.options.installationId}.`,
          documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api`,
          status: '403',
        },
        {
          'x-ratelimit-limit': '5000',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-used': '5000',
          'x-ratelimit-reset': String(now + fault.resetInSeconds),
          'x-ratelimit-resource': 'core',
        },
      );
    } else if (fault.kind === 'secondary') {
      answer(
        fault.status ?? 403,
        {
          message:
            'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
          documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api`,
          status: String(fault.status ?? 403),
        },
        { 'retry-after': String(fault.retryAfterSeconds) },
      );
    } else if (fault.kind === 'validation') {
      answer(422, { message: fault.message, documentation_url: DOCS, status: '422' });
    } else answer(502, { message: 'Server Error' });
  }
}

function rateHeaders(nowMs: number): Record<string, string> {
  return {
    'x-ratelimit-limit': '5000',
    'x-ratelimit-remaining': '4999',
    'x-ratelimit-used': '1',
    'x-ratelimit-reset': String(Math.floor(nowMs / 1_000) + 3_600),
    'x-ratelimit-resource': 'core',
  };
}
