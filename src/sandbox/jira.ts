import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../http/server.js';
import {
  type AdfDoc,
  adf,
  adfText,
  BOARDS,
  ISSUE_TYPES,
  ISSUES,
  PRIORITIES,
  PROJECTS,
  SPRINTS,
  STATUS_CATEGORIES,
  STATUSES,
  TRANSITIONS,
  USERS,
} from './jira-data.js';
import { type LoopbackServer, startLoopbackServer } from './loopback-server.js';

export interface JiraCall {
  method: string;
  /** The path without the query string (JQL can hold anything, so queries are never logged). */
  path: string;
  status: number;
  /** ISO 8601, from the injected clock. */
  at: string;
}

/** The next matching authenticated call(s) fail with this status; 429 carries `Retry-After`. */
export interface JiraFault {
  /** Only calls whose path starts with this (e.g. `/rest/api/3/search/jql`); any path when absent. */
  path?: string;
  method?: string;
  status: 400 | 403 | 404 | 429 | 500 | 502 | 503 | 504;
  /** For 429: the `Retry-After` header in seconds (default 30). */
  retryAfterSeconds?: number;
  /** For 400, 403, 404: Atlassian's `errorMessages` and `errors` (field → reason) in the body. */
  errorMessages?: string[];
  errors?: Record<string, string>;
  /** How many matching calls fail (default 1). */
  count?: number;
}

export interface JiraUser {
  accountId: string;
  displayName: string;
  emailAddress: string;
  timeZone: string;
}

/** An issue as the simulator stores it (read it with `issue(key)` for assertions). */
export interface JiraIssueRecord {
  id: string;
  key: string;
  project: string;
  summary: string;
  description: AdfDoc | null;
  statusId: string;
  issuetype: string;
  priority: string;
  assignee: string | null;
  reporter: string;
  labels: string[];
  flagged: boolean;
  created: number;
  updated: number;
  sprint: number | null;
  comments: { id: string; author: string; body: AdfDoc; created: number }[];
}

interface Sprint {
  id: number;
  boardId: number;
  name: string;
  goal: string;
  state: 'future' | 'active' | 'closed';
  start: number;
  end: number;
}

interface ErrorBody {
  errorMessages: string[];
  errors: Record<string, string>;
}

export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_ISSUES = 10_000;
const MAX_CALLS = 1000;
const MAX_COMMENTS = 1000;
const MAX_JQL = 10_000;
const MAX_TEXT = 32_767;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const EXPAND = 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations';
const NOT_AUTHENTICATED = 'Client must be authenticated to access this resource.';
const NO_ISSUE = 'Issue does not exist or you do not have permission to see it.';
const NOT_ADF = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
const TOO_LONG = 'The entered text is too long. It exceeds the allowed limit of 32,767 characters.';
const SEARCH_GONE =
  'The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. ' +
  'A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046';
/** Jira's "Flagged" field (a checkbox with the single option Impediment). */
export const FLAGGED_FIELD = 'customfield_10021';

class JiraError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.errorMessages[0] ?? Object.values(body.errors)[0] ?? `HTTP ${status}`);
  }
}

function fail(status: number, messages: string | string[], errors: Record<string, string> = {}): JiraError {
  return new JiraError(status, {
    errorMessages: typeof messages === 'string' ? [messages] : messages,
    errors,
  });
}

/** Jira's timestamp format: `2024-06-01T09:30:00.000+0000`. */
function jiraDate(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

/**
 * A simulated Jira Cloud site on 127.0.0.1 speaking REST v3 and the Agile/Software APIs the way jira.js 6
 * reads them: issues (get, create, transitions, assign, comment), the enhanced JQL search
 * (`/rest/api/3/search/jql` with `nextPageToken`; the removed `/rest/api/3/search` answers 410), projects,
 * `myself`, create metadata, a scrum board with sprints and sprint issues. Requests need HTTP Basic
 * `email:apiToken` added with `addToken` (else Atlassian's 401); errors use Atlassian's
 * `{ errorMessages, errors }` body. Flags: an issue is flagged when `customfield_10021` (REST v3) holds the
 * `Impediment` option; the Agile/Software APIs also show it as `fields.flagged: boolean`.
 *
 * @example
 * const jira = new SimulatedJira();
 * const { url } = await jira.start();
 * jira.addToken('devi@example.com', token);
 */
export class SimulatedJira {
  /** The most recent calls (at most 1000), oldest first; never the credentials. */
  readonly calls: JiraCall[] = [];
  readonly users: JiraUser[] = USERS.map((u) => ({ ...u }));
  readonly #issues = new Map<string, JiraIssueRecord>();
  readonly #sprints: Sprint[];
  readonly #tokens = new Map<string, string>();
  readonly #faults: (JiraFault & { left: number })[] = [];
  /** Status names changed by `renameStatus`, by status id. */
  readonly #statusNames = new Map<string, string>();
  #hold: { ms: number; left: number } | undefined;
  #held = 0;
  readonly #now: () => number;
  #nextIssueId = 10001;
  #nextCommentId = 10100;
  #server: LoopbackServer | undefined;
  #url = '';

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
    const start = this.#now();
    for (const seed of ISSUES) {
      const status = STATUSES.find((s) => s.name === seed.status);
      this.#store({
        id: String(this.#nextIssueId++),
        key: seed.key,
        project: seed.key.split('-')[0] ?? 'OPS',
        summary: seed.summary,
        description: seed.description === null ? null : adf(seed.description),
        statusId: status?.id ?? '10000',
        issuetype: seed.issuetype,
        priority: seed.priority,
        assignee: seed.assignee,
        reporter: seed.reporter,
        labels: [...seed.labels],
        flagged: seed.flagged,
        created: start - seed.createdHoursAgo * HOUR,
        updated: start - seed.updatedHoursAgo * HOUR,
        sprint: seed.sprint,
        comments: [],
      });
    }
    this.#sprints = SPRINTS.map((s) => ({
      id: s.id,
      boardId: s.boardId,
      name: s.name,
      goal: s.goal,
      state: s.state,
      start: start + s.startDays * DAY,
      end: start + s.endDays * DAY,
    }));
  }

  async start(): Promise<{ url: string }> {
    this.#server = await startLoopbackServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (error instanceof JiraError) return this.#send(req, res, error.status, error.body, error.headers);
        this.#send(req, res, 500, { errorMessages: ['Internal server error'], errors: {} });
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

  /** Accepts Basic `email:token` from now on (the email picks the user `myself` and new comments name). */
  addToken(email: string, token: string): void {
    this.#tokens.set(token, email);
  }

  /** The token's next call is a 401. */
  revokeToken(token: string): void {
    this.#tokens.delete(token);
  }

  /**
   * Holds the next `count` requests for `ms` before they are authenticated: a token revoked
   * meanwhile is refused (401) when they go on, as with requests in flight during a rotation.
   */
  holdNext(count: number, ms: number): void {
    this.#hold = { ms, left: count };
  }

  /** Requests being held now. */
  get held(): number {
    return this.#held;
  }

  failNext(fault: JiraFault): void {
    this.#faults.push({ ...fault, left: fault.count ?? 1 });
  }

  /**
   * Shows the status `name` as `to` from now on (in issues and transitions), as a Jira admin may
   * name a status anything: `<!channel>`, `<@U0ADMIN>`. JQL still finds it by its old name.
   */
  renameStatus(name: string, to: string): void {
    const status = STATUSES.find((s) => s.name === name);
    if (!status) throw new Error(`unknown status ${name}`);
    this.#statusNames.set(status.id, to);
  }

  /** The stored issue (a live record: tests may read or tweak it), or undefined. */
  issue(key: string): JiraIssueRecord | undefined {
    return this.#issues.get(key.toUpperCase());
  }

  /** Every stored issue, in creation order. */
  issues(): JiraIssueRecord[] {
    return [...this.#issues.values()];
  }

  /** Adds an issue directly (for benchmarks and console seeds); throws past 10,000 issues. */
  addIssue(fields: {
    project: string;
    summary: string;
    status?: string;
    issuetype?: string;
    priority?: string;
    assignee?: string | null;
    labels?: string[];
    flagged?: boolean;
    sprint?: number | null;
    description?: string;
  }): JiraIssueRecord {
    const project = PROJECTS.find((p) => p.key === fields.project);
    if (!project) throw new Error(`unknown project ${fields.project}`);
    const status = STATUSES.find((s) => s.name === (fields.status ?? 'To Do'));
    if (!status) throw new Error(`unknown status ${fields.status}`);
    const now = this.#now();
    return this.#store({
      id: '',
      key: '',
      project: project.key,
      summary: fields.summary,
      description: fields.description === undefined ? null : adf(fields.description),
      statusId: status.id,
      issuetype: fields.issuetype ?? 'Task',
      priority: fields.priority ?? 'Medium',
      assignee: fields.assignee ?? null,
      reporter: project.lead,
      labels: fields.labels ?? [],
      flagged: fields.flagged ?? false,
      created: now,
      updated: now,
      sprint: fields.sprint ?? null,
      comments: [],
    });
  }

  #store(issue: JiraIssueRecord): JiraIssueRecord {
    if (this.#issues.size >= MAX_ISSUES) {
      throw fail(400, `The simulated site holds at most ${MAX_ISSUES} issues.`);
    }
    if (issue.id === '') issue.id = String(this.#nextIssueId++);
    if (issue.key === '') {
      let n = 0;
      for (const i of this.#issues.values()) {
        if (i.project === issue.project) n = Math.max(n, Number(i.key.split('-')[1]));
      }
      issue.key = `${issue.project}-${n + 1}`;
    }
    this.#issues.set(issue.key, issue);
    return issue;
  }

  #send(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (res.headersSent) return;
    this.calls.push({
      method: req.method ?? '',
      path: (req.url ?? '').split('?')[0] ?? '',
      status,
      at: new Date(this.#now()).toISOString(),
    });
    if (this.calls.length > MAX_CALLS) this.calls.splice(0, this.calls.length - MAX_CALLS);
    if (body === undefined) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers });
    res.end(JSON.stringify(body));
  }

  #user(auth: string | undefined): JiraUser | undefined {
    const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(auth ?? '');
    if (!match?.[1]) return undefined;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const email = decoded.slice(0, colon);
    const token = decoded.slice(colon + 1);
    if (this.#tokens.get(token) !== email) return undefined;
    const known = this.users.find((u) => u.emailAddress.toLowerCase() === email.toLowerCase());
    if (known) return known;
    const accountId = `712020:${createHash('sha256').update(email).digest('hex').slice(0, 32)}`;
    const created = {
      accountId,
      displayName: email.split('@')[0] ?? email,
      emailAddress: email,
      timeZone: 'UTC',
    };
    if (this.users.length < 1000) this.users.push(created);
    return created;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req, MAX_BODY_BYTES);
    if (raw === 'too_large') throw fail(413, 'Request entity too large.');
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    if (this.#hold && this.#hold.left > 0) {
      this.#hold.left -= 1;
      this.#held += 1;
      await new Promise((r) => setTimeout(r, this.#hold?.ms ?? 0));
      this.#held -= 1;
    }
    const me = this.#user(req.headers.authorization);
    if (!me) throw fail(401, NOT_AUTHENTICATED);
    const fault = this.#faults.find(
      (f) =>
        (f.path === undefined || path.startsWith(f.path)) && (f.method === undefined || f.method === method),
    );
    if (fault) {
      fault.left -= 1;
      if (fault.left <= 0) this.#faults.splice(this.#faults.indexOf(fault), 1);
      if (fault.status === 429) {
        const seconds = fault.retryAfterSeconds ?? 30;
        throw new JiraError(
          429,
          { errorMessages: ['Rate limit exceeded.'], errors: {} },
          {
            'retry-after': String(seconds),
            'x-ratelimit-limit': '350',
            'x-ratelimit-remaining': '0',
            'x-ratelimit-reset': new Date(this.#now() + seconds * 1000).toISOString(),
            'ratelimit-reason': 'jira-quota-global-based',
          },
        );
      }
      if (fault.errorMessages || fault.errors)
        throw fail(fault.status, fault.errorMessages ?? [], fault.errors ?? {});
      throw fail(fault.status, fault.status === 500 ? 'Internal server error' : 'Service Unavailable');
    }
    const body = (): Record<string, unknown> => parseJson(raw);
    const q = url.searchParams;
    const route = (pattern: RegExp, ...methods: string[]): string[] | undefined => {
      const m = pattern.exec(path);
      if (!m) return undefined;
      if (!methods.includes(method)) throw new JiraError(405, { errorMessages: [], errors: {} });
      return m.slice(1).map((s) => decodeURIComponent(s));
    };
    let m: string[] | undefined;
    if (route(/^\/rest\/api\/[23]\/search$/, 'GET', 'POST')) throw fail(410, SEARCH_GONE);
    if (route(/^\/rest\/api\/3\/myself$/, 'GET')) return this.#send(req, res, 200, this.#myself(me));
    if (route(/^\/rest\/api\/3\/search\/jql$/, 'GET', 'POST')) {
      const input = method === 'GET' ? searchFromQuery(q) : searchFromBody(body());
      return this.#send(req, res, 200, this.#search(input, me));
    }
    if (route(/^\/rest\/api\/3\/search\/approximate-count$/, 'POST')) {
      return this.#send(req, res, 200, this.#count(body(), me));
    }
    if (route(/^\/rest\/api\/3\/issue$/, 'POST')) {
      const created = this.#create(body(), me);
      const self = `${this.#url}/rest/api/3/issue/${created.id}`;
      return this.#send(req, res, 201, { id: created.id, key: created.key, self });
    }
    m = route(/^\/rest\/api\/3\/issue\/createmeta\/([^/]+)\/issuetypes$/, 'GET');
    if (m) {
      this.#project(m[0] ?? '');
      const issueTypes = ISSUE_TYPES.map((t) => this.#issueTypeJson(t.name));
      return this.#send(req, res, 200, { maxResults: 50, startAt: 0, total: issueTypes.length, issueTypes });
    }
    m = route(/^\/rest\/api\/3\/issue\/([^/]+)$/, 'GET');
    if (m) {
      const issue = this.#find(m[0] ?? '');
      return this.#send(req, res, 200, this.#issueJson(issue, fieldSet(q.getAll('fields'), 'all'), 'v3'));
    }
    m = route(/^\/rest\/api\/3\/issue\/([^/]+)\/transitions$/, 'GET', 'POST');
    if (m) {
      const issue = this.#find(m[0] ?? '');
      if (method === 'GET') return this.#send(req, res, 200, this.#transitions(issue));
      this.#transition(issue, body());
      return this.#send(req, res, 204);
    }
    m = route(/^\/rest\/api\/3\/issue\/([^/]+)\/assignee$/, 'PUT');
    if (m) {
      const issue = this.#find(m[0] ?? '');
      this.#assign(issue, body());
      return this.#send(req, res, 204);
    }
    m = route(/^\/rest\/api\/3\/issue\/([^/]+)\/comment$/, 'GET', 'POST');
    if (m) {
      const issue = this.#find(m[0] ?? '');
      if (method === 'GET') return this.#send(req, res, 200, this.#commentsJson(issue));
      const comment = this.#comment(issue, body(), me);
      return this.#send(req, res, 201, this.#commentJson(issue, comment));
    }
    m = route(/^\/rest\/api\/3\/project\/([^/]+)$/, 'GET');
    if (m) {
      return this.#send(req, res, 200, this.#projectJson(this.#project(m[0] ?? ''), true));
    }
    m = route(/^\/rest\/agile\/1\.0\/board\/([^/]+)$/, 'GET');
    if (m) {
      return this.#send(req, res, 200, this.#boardJson(this.#board(m[0] ?? '')));
    }
    m = route(/^\/rest\/agile\/1\.0\/board\/([^/]+)\/sprint$/, 'GET');
    if (m) {
      return this.#send(req, res, 200, this.#boardSprints(this.#board(m[0] ?? ''), q));
    }
    m = route(/^\/rest\/agile\/1\.0\/sprint\/([^/]+)$/, 'GET');
    if (m) {
      return this.#send(req, res, 200, this.#sprintJson(this.#sprint(m[0] ?? '')));
    }
    m = route(/^\/rest\/(agile|software)\/1\.0\/sprint\/([^/]+)\/issue$/, 'GET');
    if (m) {
      return this.#send(req, res, 200, this.#sprintIssues(m[0] === 'agile', this.#sprint(m[1] ?? ''), q, me));
    }
    throw fail(404, `null for uri: ${this.#url}${path}`);
  }

  // ---- lookups -------------------------------------------------------------------------------

  #find(idOrKey: string): JiraIssueRecord {
    const found =
      this.#issues.get(idOrKey.toUpperCase()) ?? [...this.#issues.values()].find((i) => i.id === idOrKey);
    if (!found) throw fail(404, NO_ISSUE);
    return found;
  }

  #project(idOrKey: string): (typeof PROJECTS)[number] {
    const found = PROJECTS.find((p) => p.key === idOrKey.toUpperCase() || p.id === idOrKey);
    if (!found) throw fail(404, `No project could be found with key '${idOrKey}'.`);
    return found;
  }

  #board(id: string): (typeof BOARDS)[number] {
    const found = BOARDS.find((b) => String(b.id) === id);
    if (!found) throw fail(404, 'Board does not exist or you do not have permission to see it.');
    return found;
  }

  #sprint(id: string): Sprint {
    const found = this.#sprints.find((s) => String(s.id) === id);
    if (!found) {
      throw fail(
        404,
        'The requested sprint cannot be viewed because it either does not exist or you do not have permission to view it.',
      );
    }
    return found;
  }

  // ---- JSON views ----------------------------------------------------------------------------

  #userJson(accountId: string | null): Record<string, unknown> | null {
    if (accountId === null) return null;
    const u = this.users.find((x) => x.accountId === accountId);
    if (!u) return null;
    const avatar = (size: number) =>
      `https://avatar-management.example.com/avatars/${u.accountId}/${size}.png`;
    return {
      self: `${this.#url}/rest/api/3/user?accountId=${encodeURIComponent(u.accountId)}`,
      accountId: u.accountId,
      emailAddress: u.emailAddress,
      avatarUrls: { '48x48': avatar(48), '24x24': avatar(24), '16x16': avatar(16), '32x32': avatar(32) },
      displayName: u.displayName,
      active: true,
      timeZone: u.timeZone,
      accountType: 'atlassian',
    };
  }

  #myself(u: JiraUser): Record<string, unknown> {
    return {
      ...this.#userJson(u.accountId),
      locale: 'en_US',
      groups: { size: 1, items: [] },
      applicationRoles: { size: 1, items: [] },
      expand: 'groups,applicationRoles',
    };
  }

  #statusJson(id: string): Record<string, unknown> {
    const s = STATUSES.find((x) => x.id === id) ?? STATUSES[0];
    const cat = STATUS_CATEGORIES[s?.category ?? 'new'];
    return {
      self: `${this.#url}/rest/api/3/status/${s?.id}`,
      description: '',
      iconUrl: `${this.#url}/images/icons/statuses/generic.png`,
      name: this.#statusNames.get(s?.id ?? '') ?? s?.name,
      id: s?.id,
      statusCategory: { self: `${this.#url}/rest/api/3/statuscategory/${cat.id}`, ...cat },
    };
  }

  #issueTypeJson(name: string): Record<string, unknown> {
    const t = ISSUE_TYPES.find((x) => x.name === name) ?? ISSUE_TYPES[0];
    return {
      self: `${this.#url}/rest/api/3/issuetype/${t.id}`,
      id: t.id,
      description: t.description,
      iconUrl: `${this.#url}/rest/api/2/universal_avatar/view/type/issuetype/avatar/${t.id}?size=medium`,
      name: t.name,
      subtask: false,
      hierarchyLevel: 0,
    };
  }

  #projectJson(p: (typeof PROJECTS)[number], full: boolean): Record<string, unknown> {
    const avatar = (size: string) =>
      `${this.#url}/rest/api/3/universal_avatar/view/type/project/avatar/10400?size=${size}`;
    const base = {
      self: `${this.#url}/rest/api/3/project/${p.id}`,
      id: p.id,
      key: p.key,
      name: p.name,
      projectTypeKey: 'software',
      simplified: false,
      avatarUrls: {
        '48x48': avatar('large'),
        '24x24': avatar('small'),
        '16x16': avatar('xsmall'),
        '32x32': avatar('medium'),
      },
    };
    if (!full) return base;
    return {
      expand: 'description,lead,issueTypes,url,projectKeys,permissions,insight',
      ...base,
      description: `${p.name} (simulated)`,
      lead: this.#userJson(p.lead),
      components: [],
      issueTypes: ISSUE_TYPES.map((t) => this.#issueTypeJson(t.name)),
      assigneeType: 'UNASSIGNED',
      versions: [],
      roles: {},
      style: 'classic',
      isPrivate: false,
      properties: {},
    };
  }

  #commentJson(issue: JiraIssueRecord, c: JiraIssueRecord['comments'][number]): Record<string, unknown> {
    return {
      self: `${this.#url}/rest/api/3/issue/${issue.id}/comment/${c.id}`,
      id: c.id,
      author: this.#userJson(c.author),
      body: c.body,
      updateAuthor: this.#userJson(c.author),
      created: jiraDate(c.created),
      updated: jiraDate(c.created),
      jsdPublic: true,
    };
  }

  #commentsJson(issue: JiraIssueRecord): Record<string, unknown> {
    const comments = issue.comments.map((c) => this.#commentJson(issue, c));
    return {
      comments,
      self: `${this.#url}/rest/api/3/issue/${issue.id}/comment`,
      maxResults: comments.length,
      total: comments.length,
      startAt: 0,
    };
  }

  #sprintJson(s: Sprint): Record<string, unknown> {
    return {
      id: s.id,
      self: `${this.#url}/rest/agile/1.0/sprint/${s.id}`,
      state: s.state,
      name: s.name,
      startDate: new Date(s.start).toISOString(),
      endDate: new Date(s.end).toISOString(),
      ...(s.state === 'closed' ? { completeDate: new Date(s.end).toISOString() } : {}),
      createdDate: new Date(s.start - DAY).toISOString(),
      originBoardId: s.boardId,
      goal: s.goal,
    };
  }

  #boardJson(b: (typeof BOARDS)[number]): Record<string, unknown> {
    const p = this.#project(b.project);
    return {
      id: b.id,
      self: `${this.#url}/rest/agile/1.0/board/${b.id}`,
      name: b.name,
      type: b.type,
      location: {
        projectId: Number(p.id),
        displayName: `${p.name} (${p.key})`,
        projectName: p.name,
        projectKey: p.key,
        projectTypeKey: 'software',
        avatarURI: `${this.#url}/rest/api/2/universal_avatar/view/type/project/avatar/10400?size=small`,
        name: `${p.name} (${p.key})`,
      },
    };
  }

  /** `flavor` 'agile' adds the Agile API's `flagged` and `sprint` fields and its `self`. */
  #issueJson(issue: JiraIssueRecord, fields: FieldSet, flavor: 'v3' | 'agile'): Record<string, unknown> {
    if (fields === 'idOnly') return { id: issue.id };
    const project = PROJECTS.find((p) => p.key === issue.project) ?? PROJECTS[0];
    const priority = PRIORITIES.find((p) => p.name === issue.priority) ?? PRIORITIES[2];
    const all: Record<string, () => unknown> = {
      summary: () => issue.summary,
      description: () => issue.description,
      status: () => this.#statusJson(issue.statusId),
      assignee: () => this.#userJson(issue.assignee),
      reporter: () => this.#userJson(issue.reporter),
      creator: () => this.#userJson(issue.reporter),
      priority: () => ({
        self: `${this.#url}/rest/api/3/priority/${priority.id}`,
        iconUrl: `${this.#url}/images/icons/priorities/${priority.name.toLowerCase()}.svg`,
        name: priority.name,
        id: priority.id,
      }),
      issuetype: () => this.#issueTypeJson(issue.issuetype),
      project: () => this.#projectJson(project, false),
      created: () => jiraDate(issue.created),
      updated: () => jiraDate(issue.updated),
      labels: () => [...issue.labels],
      [FLAGGED_FIELD]: () =>
        issue.flagged
          ? [{ self: `${this.#url}/rest/api/3/customFieldOption/10019`, value: 'Impediment', id: '10019' }]
          : null,
      comment: () => this.#commentsJson(issue),
    };
    if (flavor === 'agile') {
      all.flagged = () => issue.flagged;
      all.sprint = () => {
        const s = this.#sprints.find((x) => x.id === issue.sprint);
        return s ? this.#sprintJson(s) : null;
      };
    }
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(all)) {
      const wanted =
        fields.all || (fields.navigable && name !== 'comment')
          ? !fields.exclude.has(name)
          : fields.include.has(name);
      if (wanted) out[name] = value();
    }
    const selfPath = flavor === 'agile' ? 'agile/1.0' : 'api/3';
    return {
      expand: EXPAND,
      id: issue.id,
      self: `${this.#url}/rest/${selfPath}/issue/${issue.id}`,
      key: issue.key,
      fields: out,
    };
  }

  // ---- operations ----------------------------------------------------------------------------

  #create(body: Record<string, unknown>, me: JiraUser): JiraIssueRecord {
    const fields = body.fields;
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
      throw fail(400, [], { project: 'Specify a valid project ID or key' });
    }
    const f = fields as Record<string, unknown>;
    const errors: Record<string, string> = {};
    const known = new Set([
      'project',
      'summary',
      'issuetype',
      'description',
      'priority',
      'assignee',
      'labels',
      'reporter',
    ]);
    for (const name of Object.keys(f)) {
      if (!known.has(name))
        errors[name] = `Field '${name}' cannot be set. It is not on the appropriate screen, or unknown.`;
    }
    const projectRef = ref(f.project);
    if (!projectRef) throw fail(400, [], { ...errors, project: 'Specify a valid project ID or key' });
    const project = PROJECTS.find((p) => p.key === projectRef.key?.toUpperCase() || p.id === projectRef.id);
    if (!project) throw fail(400, [], { ...errors, project: 'valid project is required' });
    const typeRef = ref(f.issuetype);
    const type = ISSUE_TYPES.find(
      (t) => t.id === typeRef?.id || t.name.toLowerCase() === typeRef?.name?.toLowerCase(),
    );
    if (!typeRef) errors.issuetype = 'Specify an issue type';
    else if (!type) errors.issuetype = 'The issue type selected is invalid.';
    const summary = typeof f.summary === 'string' ? f.summary.trim() : '';
    if (summary === '') errors.summary = 'You must specify a summary of the issue.';
    else if (summary.length > 255) errors.summary = 'Summary must be less than 255 characters.';
    else if (/[\r\n]/.test(summary))
      errors.summary = 'The summary is invalid because it contains newline characters.';
    let description: AdfDoc | null = null;
    if (f.description !== undefined && f.description !== null) {
      if (!isAdf(f.description)) errors.description = NOT_ADF;
      else if (adfText(f.description).length > MAX_TEXT) errors.description = TOO_LONG;
      else description = f.description;
    }
    let priority = 'Medium';
    if (f.priority !== undefined) {
      const pr = ref(f.priority);
      const found = PRIORITIES.find(
        (p) => p.id === pr?.id || p.name.toLowerCase() === pr?.name?.toLowerCase(),
      );
      if (found) priority = found.name;
      else errors.priority = 'The priority selected is invalid.';
    }
    let assignee: string | null = null;
    if (f.assignee !== undefined && f.assignee !== null) {
      const id = (f.assignee as { accountId?: unknown }).accountId;
      if (typeof id === 'string' && this.users.some((u) => u.accountId === id)) assignee = id;
      else errors.assignee = `User '${String(id)}' cannot be assigned issues.`;
    }
    const labels: string[] = [];
    if (f.labels !== undefined) {
      if (!Array.isArray(f.labels) || f.labels.length > 100)
        errors.labels = 'Labels must be an array of strings.';
      else {
        for (const l of f.labels) {
          if (typeof l !== 'string' || l === '' || /\s/.test(l) || l.length > 255) {
            errors.labels = `The label '${String(l)}' contains spaces which is invalid.`;
          } else labels.push(l);
        }
      }
    }
    if (Object.keys(errors).length > 0) throw fail(400, [], errors);
    const now = this.#now();
    return this.#store({
      id: '',
      key: '',
      project: project.key,
      summary,
      description,
      statusId: '10000',
      issuetype: type?.name ?? 'Task',
      priority,
      assignee,
      reporter: me.accountId,
      labels,
      flagged: false,
      created: now,
      updated: now,
      sprint: null,
      comments: [],
    });
  }

  #available(issue: JiraIssueRecord) {
    return TRANSITIONS.filter((t) => t.to !== issue.statusId);
  }

  #transitions(issue: JiraIssueRecord): Record<string, unknown> {
    return {
      expand: 'transitions',
      transitions: this.#available(issue).map((t) => ({
        id: t.id,
        name: t.name,
        to: this.#statusJson(t.to),
        hasScreen: false,
        isGlobal: true,
        isInitial: false,
        isAvailable: true,
        isConditional: false,
      })),
    };
  }

  #transition(issue: JiraIssueRecord, body: Record<string, unknown>): void {
    const t = body.transition as { id?: unknown } | undefined;
    const id = typeof t?.id === 'string' || typeof t?.id === 'number' ? String(t.id) : undefined;
    if (id === undefined) throw fail(400, "Missing 'transition' identifier");
    const found = this.#available(issue).find((x) => x.id === id);
    if (!found) throw fail(400, `Transition id '${id}' is not valid for this issue.`);
    issue.statusId = found.to;
    issue.updated = this.#now();
  }

  #assign(issue: JiraIssueRecord, body: Record<string, unknown>): void {
    const id = body.accountId;
    if (id === null || id === '-1') issue.assignee = null;
    else if (typeof id === 'string' && this.users.some((u) => u.accountId === id)) issue.assignee = id;
    else throw fail(400, [], { assignee: `User '${String(id)}' cannot be assigned issues.` });
    issue.updated = this.#now();
  }

  #comment(issue: JiraIssueRecord, body: Record<string, unknown>, me: JiraUser) {
    if (body.body === undefined || body.body === null)
      throw fail(400, [], { comment: 'Comment body can not be empty!' });
    if (!isAdf(body.body)) throw fail(400, [], { comment: NOT_ADF });
    const text = adfText(body.body);
    if (text.trim() === '') throw fail(400, [], { comment: 'Comment body can not be empty!' });
    if (text.length > MAX_TEXT) throw fail(400, [], { comment: TOO_LONG });
    if (issue.comments.length >= MAX_COMMENTS)
      throw fail(400, `The simulated issue holds at most ${MAX_COMMENTS} comments.`);
    const comment = {
      id: String(this.#nextCommentId++),
      author: me.accountId,
      body: body.body,
      created: this.#now(),
    };
    issue.comments.push(comment);
    issue.updated = comment.created;
    return comment;
  }

  // ---- search --------------------------------------------------------------------------------

  #search(input: SearchInput, me: JiraUser): Record<string, unknown> {
    const query = parseJql(input.jql);
    if (!query.where) {
      throw fail(
        400,
        'Unbounded JQL queries are not allowed here. Please add a search restriction to your query.',
      );
    }
    const matched = this.#run(query, me);
    const fields = fieldSet(input.fields, 'idOnly');
    const max = Math.min(Math.max(input.maxResults ?? 50, 1), fields === 'idOnly' ? 5000 : 100);
    const hash = createHash('sha256').update(input.jql).digest('hex').slice(0, 16);
    const offset = input.nextPageToken === undefined ? 0 : readToken(input.nextPageToken, hash);
    const page = matched.slice(offset, offset + max);
    const isLast = offset + max >= matched.length;
    return {
      issues: page.map((i) => this.#issueJson(i, fields, 'v3')),
      ...(isLast
        ? {}
        : { nextPageToken: Buffer.from(JSON.stringify({ o: offset + max, h: hash })).toString('base64url') }),
      isLast,
    };
  }

  /** `/search/approximate-count`: how many issues a bounded JQL query matches (exact here). */
  #count(body: Record<string, unknown>, me: JiraUser): { count: number } {
    if (typeof body.jql !== 'string') throw fail(400, [], { jql: 'The JQL query is required.' });
    const query = parseJql(body.jql);
    if (!query.where) {
      throw fail(
        400,
        'Unbounded JQL queries are not allowed here. Please add a search restriction to your query.',
      );
    }
    return { count: this.#run(query, me).length };
  }

  #run(query: Jql, me: JiraUser, within?: JiraIssueRecord[]): JiraIssueRecord[] {
    const ctx: EvalContext = {
      me,
      now: this.#now(),
      issues: this.#issues,
      sprints: this.#sprints,
    };
    const where = query.where ? compile(query.where, ctx) : () => true;
    const matched = (within ?? [...this.#issues.values()]).filter(where);
    const order = query.order.length > 0 ? query.order : [{ field: 'created', desc: true }];
    return matched.sort((a, b) => {
      for (const o of order) {
        const c = compareBy(o.field, a, b);
        if (c !== 0) return o.desc ? -c : c;
      }
      return Number(b.id) - Number(a.id);
    });
  }

  #boardSprints(board: (typeof BOARDS)[number], q: URLSearchParams): Record<string, unknown> {
    const states = (q.get('state') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const s of states) {
      if (!['future', 'active', 'closed'].includes(s))
        throw fail(400, `The value '${s}' is not a valid sprint state.`);
    }
    const startAt = intParam(q, 'startAt', 0) ?? 0;
    const maxResults = Math.min(intParam(q, 'maxResults', 1) ?? 50, 50);
    const all = this.#sprints.filter(
      (s) => s.boardId === board.id && (states.length === 0 || states.includes(s.state)),
    );
    const values = all.slice(startAt, startAt + maxResults).map((s) => this.#sprintJson(s));
    return { maxResults, startAt, isLast: startAt + maxResults >= all.length, values };
  }

  #sprintIssues(agile: boolean, sprint: Sprint, q: URLSearchParams, me: JiraUser): Record<string, unknown> {
    const inSprint = [...this.#issues.values()].filter((i) => i.sprint === sprint.id);
    const jql = q.get('jql');
    const query: Jql = jql ? parseJql(jql) : { where: undefined, order: [{ field: 'rank', desc: false }] };
    if (query.order.length === 0) query.order = [{ field: 'rank', desc: false }];
    const matched = this.#run(query, me, inSprint);
    const fields = fieldSet(q.getAll('fields'), 'navigable');
    const maxResults = Math.min(intParam(q, 'maxResults', 1) ?? 50, agile ? 100 : 5000);
    if (agile) {
      const startAt = intParam(q, 'startAt', 0) ?? 0;
      const issues = matched
        .slice(startAt, startAt + maxResults)
        .map((i) => this.#issueJson(i, fields, 'agile'));
      return { expand: 'schema,names', startAt, maxResults, total: matched.length, issues };
    }
    const hash = createHash('sha256')
      .update(`sprint:${sprint.id}:${jql ?? ''}`)
      .digest('hex')
      .slice(0, 16);
    const token = q.get('nextPageToken');
    const offset = token === null ? 0 : readToken(token, hash);
    const isLast = offset + maxResults >= matched.length;
    return {
      issues: matched.slice(offset, offset + maxResults).map((i) => this.#issueJson(i, fields, 'agile')),
      isLast,
      ...(isLast
        ? {}
        : {
            nextPageToken: Buffer.from(JSON.stringify({ o: offset + maxResults, h: hash })).toString(
              'base64url',
            ),
          }),
    };
  }
}

// ---- request helpers -----------------------------------------------------------------------

interface SearchInput {
  jql: string;
  maxResults?: number;
  nextPageToken?: string;
  fields: string[];
}

function searchFromQuery(q: URLSearchParams): SearchInput {
  return {
    jql: q.get('jql') ?? '',
    maxResults: intParam(q, 'maxResults', 0),
    nextPageToken: q.get('nextPageToken') ?? undefined,
    fields: q.getAll('fields'),
  };
}

function searchFromBody(b: Record<string, unknown>): SearchInput {
  const { jql, maxResults, nextPageToken, fields } = b;
  if (jql !== undefined && typeof jql !== 'string') throw fail(400, 'jql must be a string.');
  if (maxResults !== undefined && !Number.isSafeInteger(maxResults))
    throw fail(400, 'maxResults must be an integer.');
  if (nextPageToken !== undefined && nextPageToken !== null && typeof nextPageToken !== 'string') {
    throw fail(400, 'nextPageToken must be a string.');
  }
  if (fields !== undefined && !(Array.isArray(fields) && fields.every((x) => typeof x === 'string'))) {
    throw fail(400, 'fields must be an array of strings.');
  }
  return {
    jql: jql ?? '',
    maxResults: maxResults as number | undefined,
    nextPageToken: (nextPageToken as string | null | undefined) ?? undefined,
    fields: (fields as string[] | undefined) ?? [],
  };
}

function readToken(token: string, hash: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      o?: unknown;
      h?: unknown;
    };
    if (parsed.h === hash && Number.isSafeInteger(parsed.o) && (parsed.o as number) >= 0)
      return parsed.o as number;
  } catch {
    // falls through to the 400
  }
  throw fail(400, 'The provided next page token is invalid or expired.');
}

function intParam(q: URLSearchParams, name: string, min: number): number | undefined {
  const raw = q.get(name);
  if (raw === null) return undefined;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min) {
    throw fail(400, `The value '${raw}' is invalid for the parameter '${name}'.`);
  }
  return Number(raw);
}

type FieldSet = 'idOnly' | { all: boolean; navigable: boolean; include: Set<string>; exclude: Set<string> };

/** Jira's `fields` parameter: names, `*all`, `*navigable`, `-name`; repeated or comma-separated. */
function fieldSet(values: string[], fallback: 'all' | 'navigable' | 'idOnly'): FieldSet {
  const tokens = values
    .flatMap((v) => v.split(','))
    .map((t) => t.trim())
    .filter(Boolean);
  if (tokens.length === 0 || (tokens.length === 1 && tokens[0] === 'id')) {
    if (fallback === 'idOnly') return 'idOnly';
    tokens.push(fallback === 'all' ? '*all' : '*navigable');
  }
  const set = { all: false, navigable: false, include: new Set<string>(), exclude: new Set<string>() };
  for (const t of tokens) {
    if (t === '*all') set.all = true;
    else if (t === '*navigable') set.navigable = true;
    else if (t.startsWith('-')) set.exclude.add(t.slice(1));
    else set.include.add(t === 'flagged' ? FLAGGED_FIELD : t);
    if (t === 'flagged') set.include.add('flagged');
  }
  return set;
}

function ref(value: unknown): { id?: string; key?: string; name?: string } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const str = (x: unknown) => (typeof x === 'string' ? x : typeof x === 'number' ? String(x) : undefined);
  const out = { id: str(v.id), key: str(v.key), name: str(v.name) };
  return out.id || out.key || out.name ? out : undefined;
}

function isAdf(value: unknown): value is AdfDoc {
  const v = value as Partial<AdfDoc> | null;
  return (
    typeof v === 'object' && v !== null && v.type === 'doc' && v.version === 1 && Array.isArray(v.content)
  );
}

function parseJson(raw: Buffer): Record<string, unknown> {
  if (raw.length === 0) return {};
  try {
    const parsed = JSON.parse(raw.toString('utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // falls through
  }
  throw fail(400, 'Unexpected character in the request body: it must be a JSON object.');
}

// ---- JQL -----------------------------------------------------------------------------------

type Token =
  | { kind: 'word'; text: string; pos: number }
  | { kind: 'string'; text: string; pos: number }
  | { kind: 'op'; text: string; pos: number }
  | { kind: 'punct'; text: string; pos: number }
  | { kind: 'eof'; text: 'EOF'; pos: number };

type Value =
  | { kind: 'literal'; text: string }
  | { kind: 'empty' }
  | { kind: 'func'; name: string }
  | { kind: 'list'; items: Value[] };

type Node =
  | { kind: 'and'; left: Node; right: Node }
  | { kind: 'or'; left: Node; right: Node }
  | { kind: 'not'; inner: Node }
  | { kind: 'clause'; field: string; op: string; value: Value };

interface Jql {
  where: Node | undefined;
  order: { field: string; desc: boolean }[];
}

const jqlError = (message: string, pos?: number): JiraError =>
  fail(
    400,
    `Error in the JQL Query: ${message}${pos === undefined ? '' : ` (line 1, character ${pos + 1})`}`,
  );

const ESCAPES: Record<string, string> = {
  '"': '"',
  "'": "'",
  '\\': '\\',
  n: '\n',
  t: '\t',
  r: '\r',
  ' ': ' ',
};

function tokenize(jql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < jql.length) {
    const c = jql[i] ?? '';
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    const start = i;
    if (c === '"' || c === "'") {
      let text = '';
      i += 1;
      for (;;) {
        if (i >= jql.length) {
          throw jqlError(`The quoted string '${text}' has not been completed.`, start);
        }
        const d = jql[i] ?? '';
        if (d === c) break;
        if (d === '\\') {
          const e = jql[i + 1] ?? '';
          if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(jql.slice(i + 2, i + 6))) {
            text += String.fromCharCode(Number.parseInt(jql.slice(i + 2, i + 6), 16));
            i += 6;
            continue;
          }
          const mapped = ESCAPES[e];
          if (mapped === undefined) {
            throw jqlError(`The escape sequence '\\${e}' in the string '${text}' is invalid.`, i);
          }
          text += mapped;
          i += 2;
          continue;
        }
        text += d;
        i += 1;
      }
      i += 1;
      tokens.push({ kind: 'string', text, pos: start });
      continue;
    }
    const two = jql.slice(i, i + 2);
    if (['!=', '!~', '>=', '<='].includes(two)) {
      tokens.push({ kind: 'op', text: two, pos: start });
      i += 2;
      continue;
    }
    if ('=~<>'.includes(c)) {
      tokens.push({ kind: 'op', text: c, pos: start });
      i += 1;
      continue;
    }
    if ('(),'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, pos: start });
      i += 1;
      continue;
    }
    const word = /^[A-Za-z0-9_.\-:+/@*$#[\]]+/.exec(jql.slice(i));
    if (!word)
      throw jqlError(
        `The character '${c}' is a reserved JQL character. You must enclose it in a string or use the escape '\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}' instead.`,
        start,
      );
    tokens.push({ kind: 'word', text: word[0], pos: start });
    i += word[0].length;
  }
  tokens.push({ kind: 'eof', text: 'EOF', pos: jql.length });
  return tokens;
}

/** Parses the JQL subset documented on `SimulatedJira`; anything else is a 400 "Error in the JQL Query". */
export function parseJql(jql: string): Jql {
  if (jql.length > MAX_JQL) throw jqlError(`The query is longer than ${MAX_JQL} characters.`);
  const tokens = tokenize(jql);
  let at = 0;
  const peek = () => tokens[at] as Token;
  const next = () => tokens[at++] as Token;
  const isWord = (t: Token, w: string) => t.kind === 'word' && t.text.toUpperCase() === w;

  const value = (): Value => {
    const t = next();
    if (t.kind === 'punct' && t.text === '(') {
      const items: Value[] = [value()];
      while (peek().kind === 'punct' && peek().text === ',') {
        next();
        items.push(value());
      }
      const close = next();
      if (close.text !== ')' || close.kind !== 'punct')
        throw jqlError(`Expecting ')' but got '${close.text}'.`, close.pos);
      return { kind: 'list', items };
    }
    if (t.kind === 'string') return { kind: 'literal', text: t.text };
    if (t.kind === 'word') {
      if (isWord(t, 'EMPTY') || isWord(t, 'NULL')) return { kind: 'empty' };
      if (peek().kind === 'punct' && peek().text === '(') {
        next();
        const close = next();
        if (close.kind !== 'punct' || close.text !== ')') {
          throw jqlError(
            `Function arguments are not supported by the simulator (got '${close.text}').`,
            close.pos,
          );
        }
        return { kind: 'func', name: t.text };
      }
      if (['AND', 'OR', 'NOT', 'ORDER', 'IN', 'IS'].includes(t.text.toUpperCase())) {
        throw jqlError(
          `Expecting either a value, list or function but got '${t.text}'. You must surround '${t.text}' in quotation marks to use it as a value.`,
          t.pos,
        );
      }
      return { kind: 'literal', text: t.text };
    }
    throw jqlError(`Expecting either a value, list or function but got '${t.text}'.`, t.pos);
  };

  const clause = (): Node => {
    const t = next();
    if (t.kind === 'punct' && t.text === '(') {
      const inner = or();
      const close = next();
      if (close.kind !== 'punct' || close.text !== ')')
        throw jqlError(`Expecting ')' but got '${close.text}'.`, close.pos);
      return inner;
    }
    if (isWord(t, 'NOT')) return { kind: 'not', inner: clause() };
    if (t.kind !== 'word' && t.kind !== 'string')
      throw jqlError(`Expecting a field name but got '${t.text}'.`, t.pos);
    const field = t.text;
    const o = next();
    let op: string;
    if (o.kind === 'op') op = o.text;
    else if (isWord(o, 'IN')) op = 'IN';
    else if (isWord(o, 'NOT') && isWord(peek(), 'IN')) {
      next();
      op = 'NOT IN';
    } else if (isWord(o, 'IS')) {
      op = 'IS';
      if (isWord(peek(), 'NOT')) {
        next();
        op = 'IS NOT';
      }
    } else {
      throw jqlError(
        `Expecting operator but got '${o.text}'. The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'.`,
        o.pos,
      );
    }
    const v = value();
    if ((op === 'IN' || op === 'NOT IN') && v.kind !== 'list' && v.kind !== 'func') {
      throw jqlError(`Operator '${op}' requires a list of values.`, o.pos);
    }
    if ((op === 'IS' || op === 'IS NOT') && v.kind !== 'empty') {
      throw jqlError(`The operator '${op}' can only be used with the values 'EMPTY' or 'NULL'.`, o.pos);
    }
    return { kind: 'clause', field: field.toLowerCase(), op, value: v };
  };

  const and = (): Node => {
    let left = clause();
    while (isWord(peek(), 'AND') || (peek().kind === 'op' && peek().text === '&&')) {
      next();
      left = { kind: 'and', left, right: clause() };
    }
    return left;
  };
  function or(): Node {
    let left = and();
    while (isWord(peek(), 'OR')) {
      next();
      left = { kind: 'or', left, right: and() };
    }
    return left;
  }

  let where: Node | undefined;
  if (peek().kind !== 'eof' && !isWord(peek(), 'ORDER')) where = or();
  const order: Jql['order'] = [];
  if (isWord(peek(), 'ORDER')) {
    next();
    const by = next();
    if (!isWord(by, 'BY')) throw jqlError(`Expecting 'BY' but got '${by.text}'.`, by.pos);
    for (;;) {
      const f = next();
      if (f.kind !== 'word' && f.kind !== 'string')
        throw jqlError(`Expecting a field name but got '${f.text}'.`, f.pos);
      const field = f.text.toLowerCase();
      if (!ORDERABLE.has(field)) {
        throw fail(400, `Field '${f.text}' does not exist or you do not have permission to view it.`);
      }
      let desc = false;
      if (isWord(peek(), 'DESC') || isWord(peek(), 'ASC')) desc = next().text.toUpperCase() === 'DESC';
      order.push({ field: ORDERABLE.get(field) ?? field, desc });
      if (peek().kind === 'punct' && peek().text === ',') {
        next();
        continue;
      }
      break;
    }
  }
  const end = peek();
  if (end.kind !== 'eof') throw jqlError(`Expecting either 'OR' or 'AND' but got '${end.text}'.`, end.pos);
  return { where, order };
}

const ORDERABLE = new Map([
  ['updated', 'updated'],
  ['updateddate', 'updated'],
  ['created', 'created'],
  ['createddate', 'created'],
  ['key', 'key'],
  ['issuekey', 'key'],
  ['id', 'key'],
  ['priority', 'priority'],
  ['status', 'status'],
  ['summary', 'summary'],
  ['rank', 'rank'],
]);

function compareBy(field: string, a: JiraIssueRecord, b: JiraIssueRecord): number {
  switch (field) {
    case 'updated':
      return a.updated - b.updated;
    case 'created':
      return a.created - b.created;
    case 'priority': {
      // Jira sorts priorities by rank: ASC puts the lowest first, DESC the highest.
      const rank = (i: JiraIssueRecord) => PRIORITIES.findIndex((p) => p.name === i.priority);
      return rank(b) - rank(a);
    }
    case 'status':
      return STATUSES.findIndex((s) => s.id === a.statusId) - STATUSES.findIndex((s) => s.id === b.statusId);
    case 'summary':
      return a.summary.localeCompare(b.summary);
    default: {
      // key and rank: project, then number.
      const [pa, na] = a.key.split('-');
      const [pb, nb] = b.key.split('-');
      return (pa ?? '').localeCompare(pb ?? '') || Number(na) - Number(nb);
    }
  }
}

interface EvalContext {
  me: JiraUser;
  now: number;
  issues: Map<string, JiraIssueRecord>;
  sprints: Sprint[];
}

type Pred = (i: JiraIssueRecord) => boolean;

const FIELD_ALIASES: Record<string, string> = {
  type: 'issuetype',
  issuekey: 'key',
  id: 'key',
  createddate: 'created',
  updateddate: 'updated',
  cf: 'flagged',
  [FLAGGED_FIELD]: 'flagged',
  'cf[10021]': 'flagged',
};

const OPERATORS: Record<string, string[]> = {
  project: ['=', '!=', 'IN', 'NOT IN'],
  key: ['=', '!=', 'IN', 'NOT IN'],
  status: ['=', '!=', 'IN', 'NOT IN'],
  statuscategory: ['=', '!=', 'IN', 'NOT IN'],
  issuetype: ['=', '!=', 'IN', 'NOT IN'],
  priority: ['=', '!=', 'IN', 'NOT IN', '<', '<=', '>', '>='],
  assignee: ['=', '!=', 'IN', 'NOT IN', 'IS', 'IS NOT'],
  reporter: ['=', '!=', 'IN', 'NOT IN', 'IS', 'IS NOT'],
  labels: ['=', '!=', 'IN', 'NOT IN', 'IS', 'IS NOT'],
  sprint: ['=', '!=', 'IN', 'NOT IN', 'IS', 'IS NOT'],
  flagged: ['=', '!=', 'IN', 'NOT IN', 'IS', 'IS NOT'],
  created: ['=', '!=', '<', '<=', '>', '>='],
  updated: ['=', '!=', '<', '<=', '>', '>='],
  text: ['~', '!~'],
  summary: ['~', '!~'],
  description: ['~', '!~', 'IS', 'IS NOT'],
  comment: ['~', '!~'],
};

function compile(node: Node, ctx: EvalContext): Pred {
  if (node.kind === 'and' || node.kind === 'or') {
    const l = compile(node.left, ctx);
    const r = compile(node.right, ctx);
    return node.kind === 'and' ? (i) => l(i) && r(i) : (i) => l(i) || r(i);
  }
  if (node.kind === 'not') {
    const inner = compile(node.inner, ctx);
    return (i) => !inner(i);
  }
  const field = FIELD_ALIASES[node.field] ?? node.field;
  const ops = OPERATORS[field];
  if (!ops) throw fail(400, `Field '${node.field}' does not exist or you do not have permission to view it.`);
  if (!ops.includes(node.op)) {
    throw fail(400, `The operator '${node.op}' is not supported by the '${node.field}' field.`);
  }
  const { op, value } = node;
  if (op === 'IS' || op === 'IS NOT') {
    const empty = emptiness(field);
    return op === 'IS' ? empty : (i) => !empty(i);
  }
  if (['text', 'summary', 'description', 'comment'].includes(field)) {
    if (value.kind !== 'literal')
      throw fail(400, `The operator '${op}' is not supported with this value for the '${node.field}' field.`);
    const matches = textMatcher(value.text, node.field);
    const haystack = (i: JiraIssueRecord): string => {
      const summary = i.summary;
      const description = i.description ? adfText(i.description) : '';
      const comments = i.comments.map((c) => adfText(c.body)).join(' ');
      if (field === 'summary') return summary;
      if (field === 'description') return description;
      if (field === 'comment') return comments;
      return `${summary} ${description} ${comments}`;
    };
    return op === '~' ? (i) => matches(haystack(i)) : (i) => !matches(haystack(i));
  }
  if (field === 'created' || field === 'updated') {
    if (value.kind === 'list' || value.kind === 'empty')
      throw fail(400, `The operator '${op}' is not supported with this value for the '${node.field}' field.`);
    const when =
      value.kind === 'func' ? dateFunction(value.name, ctx.now) : parseDate(value.text, node.field, ctx.now);
    const get = (i: JiraIssueRecord) => (field === 'created' ? i.created : i.updated);
    const cmp: Record<string, (x: number) => boolean> = {
      '=': (x) => x === when,
      '!=': (x) => x !== when,
      '<': (x) => x < when,
      '<=': (x) => x <= when,
      '>': (x) => x > when,
      '>=': (x) => x >= when,
    };
    const test = cmp[op] ?? (() => false);
    return (i) => test(get(i));
  }
  // Set-valued fields: resolve the value(s) to the stored identifiers each issue is checked against.
  const items = value.kind === 'list' ? value.items : [value];
  const wanted = new Set<string>();
  let matchEmpty = false;
  for (const item of items) {
    if (item.kind === 'empty') matchEmpty = true;
    else if (item.kind === 'list') throw jqlError('Nested lists are not supported.');
    else for (const v of resolve(field, node.field, item, ctx)) wanted.add(v);
  }
  const actual = (i: JiraIssueRecord): string[] => {
    switch (field) {
      case 'project':
        return [i.project];
      case 'key':
        return [i.key];
      case 'status':
        return [i.statusId];
      case 'statuscategory':
        return [STATUSES.find((s) => s.id === i.statusId)?.category ?? 'new'];
      case 'issuetype':
        return [i.issuetype];
      case 'priority':
        return [i.priority];
      case 'assignee':
        return i.assignee ? [i.assignee] : [];
      case 'reporter':
        return [i.reporter];
      case 'labels':
        return i.labels;
      case 'sprint':
        return i.sprint === null ? [] : [String(i.sprint)];
      case 'flagged':
        return i.flagged ? ['Impediment'] : [];
      default:
        return [];
    }
  };
  if (field === 'priority' && ['<', '<=', '>', '>='].includes(op)) {
    const rank = (name: string) => PRIORITIES.length - PRIORITIES.findIndex((p) => p.name === name);
    const target = rank([...wanted][0] ?? '');
    const cmp: Record<string, (x: number) => boolean> = {
      '<': (x) => x < target,
      '<=': (x) => x <= target,
      '>': (x) => x > target,
      '>=': (x) => x >= target,
    };
    const test = cmp[op] ?? (() => false);
    return (i) => test(rank(i.priority));
  }
  const hit = (i: JiraIssueRecord) => {
    const vals = actual(i);
    return (matchEmpty && vals.length === 0) || vals.some((v) => wanted.has(v));
  };
  return op === '=' || op === 'IN' ? hit : (i) => !hit(i);
}

function emptiness(field: string): Pred {
  switch (field) {
    case 'assignee':
      return (i) => i.assignee === null;
    case 'labels':
      return (i) => i.labels.length === 0;
    case 'sprint':
      return (i) => i.sprint === null;
    case 'flagged':
      return (i) => !i.flagged;
    case 'description':
      return (i) => i.description === null;
    default:
      return () => false;
  }
}

function resolve(field: string, name: string, v: Value, ctx: EvalContext): string[] {
  const noValue = (text: string) => fail(400, `The value '${text}' does not exist for the field '${name}'.`);
  if (v.kind === 'func') {
    const fn = v.name.toLowerCase();
    if (fn === 'currentuser' && (field === 'assignee' || field === 'reporter')) return [ctx.me.accountId];
    if (fn === 'opensprints' && field === 'sprint') {
      return ctx.sprints.filter((s) => s.state !== 'closed').map((s) => String(s.id));
    }
    if (fn === 'closedsprints' && field === 'sprint') {
      return ctx.sprints.filter((s) => s.state === 'closed').map((s) => String(s.id));
    }
    throw fail(400, `Unable to find JQL function '${v.name}()'.`);
  }
  if (v.kind !== 'literal') return [];
  const text = v.text;
  const lower = text.toLowerCase();
  switch (field) {
    case 'project': {
      const p = PROJECTS.find(
        (x) => x.key.toLowerCase() === lower || x.id === text || x.name.toLowerCase() === lower,
      );
      if (!p) throw noValue(text);
      return [p.key];
    }
    case 'key': {
      if (!/^[A-Z][A-Z0-9_]*-\d+$/i.test(text) && !/^\d+$/.test(text)) {
        throw fail(400, `The issue key '${text}' for field '${name}' is invalid.`);
      }
      const found = ctx.issues.get(text.toUpperCase()) ?? [...ctx.issues.values()].find((i) => i.id === text);
      if (!found) throw fail(400, `An issue with key '${text}' does not exist for field '${name}'.`);
      return [found.key];
    }
    case 'status': {
      const s = STATUSES.find((x) => x.name.toLowerCase() === lower || x.id === text);
      if (!s) throw noValue(text);
      return [s.id];
    }
    case 'statuscategory': {
      const c = Object.entries(STATUS_CATEGORIES).find(
        ([key, x]) => key === lower || x.name.toLowerCase() === lower || String(x.id) === text,
      );
      if (!c) throw noValue(text);
      return [c[0]];
    }
    case 'issuetype': {
      const t = ISSUE_TYPES.find((x) => x.name.toLowerCase() === lower || x.id === text);
      if (!t) throw noValue(text);
      return [t.name];
    }
    case 'priority': {
      const p = PRIORITIES.find((x) => x.name.toLowerCase() === lower || x.id === text);
      if (!p) throw noValue(text);
      return [p.name];
    }
    case 'assignee':
    case 'reporter':
      // Jira Cloud takes account ids (and an email address, resolved privately); display names are not accepted.
      return [text];
    case 'labels':
      return [text];
    case 'sprint': {
      const s = ctx.sprints.find((x) => String(x.id) === text || x.name.toLowerCase() === lower);
      if (!s) throw noValue(text);
      return [String(s.id)];
    }
    case 'flagged':
      if (lower !== 'impediment') throw noValue(text);
      return ['Impediment'];
    default:
      return [];
  }
}

/** `text ~ "a b"`: every term appears; `text ~ "\"a b\""`: the exact phrase. Case-insensitive. */
function textMatcher(query: string, name: string): (haystack: string) => boolean {
  const q = query.trim();
  if (q === '') throw fail(400, `The field '${name}' does not support searching for an empty string.`);
  const phrase = /^"(.*)"$/s.exec(q);
  if (phrase) {
    const needle = (phrase[1] ?? '').toLowerCase();
    return (h) => h.toLowerCase().includes(needle);
  }
  const terms = q
    .toLowerCase()
    .split(/\s+/)
    .map((t) => t.replace(/[*?]/g, ''))
    .filter(Boolean);
  return (h) => {
    const lower = h.toLowerCase();
    return terms.every((t) => lower.includes(t));
  };
}

function dateFunction(name: string, now: number): number {
  const fn = name.toLowerCase();
  const day = new Date(now);
  day.setUTCHours(0, 0, 0, 0);
  if (fn === 'now') return now;
  if (fn === 'startofday') return day.getTime();
  if (fn === 'endofday') return day.getTime() + DAY - 1;
  throw fail(400, `Unable to find JQL function '${name}()'.`);
}

function parseDate(text: string, name: string, now: number): number {
  const relative = /^([-+]?)((?:\d+[wdhm]\s*)+)$/.exec(text.trim());
  if (relative) {
    const unit: Record<string, number> = { w: 7 * DAY, d: DAY, h: HOUR, m: 60_000 };
    let ms = 0;
    for (const part of (relative[2] ?? '').matchAll(/(\d+)([wdhm])/g)) {
      ms += Number(part[1]) * (unit[part[2] ?? 'd'] ?? DAY);
    }
    return relative[1] === '-' ? now - ms : now + ms;
  }
  const absolute = /^(\d{4})[-/](\d{2})[-/](\d{2})(?: (\d{2}):(\d{2}))?$/.exec(text.trim());
  if (absolute) {
    const [, y, mo, d, h, mi] = absolute;
    const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0));
    if (!Number.isNaN(ms)) return ms;
  }
  throw fail(
    400,
    `Date value '${text}' for field '${name}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.`,
  );
}
