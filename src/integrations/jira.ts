import { createAgileClient, createCloudClient } from 'jira.js';
import { type Client, createClient, isAuthError, isNotFoundError, isRateLimitError } from 'jira.js/core';
import { z } from 'zod';
import { type SecretSpec, secretText } from '../credentials/secret-spec.js';
import { UserFacingError } from '../errors.js';
import { jqlPhrase, jqlString } from '../jira/jql.js';
import type { RequestScope } from '../request-scope.js';
import { jiraRotation } from '../rotation/jira.js';
import { escapeText, inlineCode } from '../text/escape.js';
import { type CredentialedCalls, type PlatformDeps, secretIntegration } from './integration.js';
import { jiraConfig } from './jira-config.js';
import type { RateLimitPolicy } from './rate-limits.js';

declare module './integration.js' {
  interface IntegrationApis {
    jira: JiraApi;
  }
}

export const jiraSecretSchema = z.object({
  email: z.email({
    error: (issue) =>
      issue.input === undefined ? 'email: required' : 'email: expected the Atlassian account e-mail address',
  }),
  apiToken: secretText('apiToken'),
  /** When Atlassian expires the API token (optional; `/opsbot secrets` warns 14 days before). */
  expiresAt: z.iso.datetime({ offset: true, error: 'expiresAt: expected an ISO 8601 date' }).optional(),
});
export type JiraSecret = z.infer<typeof jiraSecretSchema>;

export interface JiraClient {
  cloud: ReturnType<typeof createCloudClient>;
  agile: ReturnType<typeof createAgileClient>;
  /** jira.js's transport (auth, retries, response schemas), for the one call it types wrongly. */
  core: Client;
}

export interface JiraIssue {
  key: string;
  summary: string;
  status: string;
  assignee?: string;
  priority?: string;
  type?: string;
  updated?: string;
  url: string;
}

export interface JiraSprint {
  name: string;
  goal?: string;
  endDate?: string;
  issues: Array<JiraIssue & { flagged: boolean }>;
}

/** Jira's 429: jira.js never retries it; the shared rate limits wait a short Retry-After and retry once. */
const jiraRateLimits: RateLimitPolicy = {
  service: 'Jira',
  maxWaitMs: 5_000,
  maxAttempts: 2,
  waitOf: (error) =>
    isRateLimitError(error) ? ((error as { retryAfterMs?: number }).retryAfterMs ?? 1_000) : undefined,
};

export interface NewJiraIssue {
  project: string;
  summary: string;
  description?: string;
  /** Issue type name: `Task`, `Bug`, `Story`. */
  type: string;
  /** Priority name: `High`. */
  priority?: string;
  assigneeAccountId?: string;
}

/** Where an issue can move from its status: transition and target-status names. */
export interface JiraTransition {
  name: string;
  to: string;
}

/** A search's first issues, and whether more match. */
export interface JiraSearchResult {
  issues: JiraIssue[];
  /** More issues match than `issues` holds. */
  more: boolean;
  /** When more match: Jira's estimate of how many do (its approximate count), if it gave one. */
  about?: number;
}

export interface JiraApi {
  readonly siteUrl: string;
  getIssue(key: string, scope?: RequestScope): Promise<JiraIssue>;
  /** The moves open to an issue now (for the Move menu). */
  transitions(key: string, scope?: RequestScope): Promise<JiraTransition[]>;
  /** Creates an issue (the description as Atlassian Document Format); its key and link. */
  createIssue(issue: NewJiraIssue, scope?: RequestScope): Promise<{ key: string; url: string }>;
  /** Moves by transition name or target status name (case-insensitive); throws listing the valid ones. */
  move(key: string, to: string, scope?: RequestScope): Promise<{ from: string; to: string }>;
  assign(key: string, accountId: string, scope?: RequestScope): Promise<void>;
  comment(key: string, text: string, scope?: RequestScope): Promise<void>;
  search(
    text: string,
    options: { project?: string; limit: number },
    scope?: RequestScope,
  ): Promise<JiraSearchResult>;
  activeSprint(boardId: number, scope?: RequestScope): Promise<JiraSprint | undefined>;
}

const FIELDS = ['summary', 'status', 'assignee', 'priority', 'issuetype', 'updated'];

/** What opsbot reads of a sprint's issues (jira.js checks the response against it). */
const sprintIssuesSchema = z
  .object({
    issues: z
      .array(z.object({ key: z.string().optional(), fields: z.record(z.string(), z.unknown()).optional() }))
      .optional(),
  })
  .loose();

/** Plain text as an Atlassian Document Format document (one paragraph per line). */
export function adf(text: string): { type: 'doc'; version: 1; content: Array<Record<string, unknown>> } {
  const lines = text.split(/\r?\n/);
  return {
    type: 'doc',
    version: 1,
    content: lines.map((line) => ({
      type: 'paragraph',
      content: line ? [{ type: 'text', text: line }] : [],
    })),
  };
}

/**
 * Jira Cloud through jira.js 6 (REST v3 and Agile/Software), basic auth with the `jira` secret
 * against `OPSBOT_JIRA_URL`, a client per secret version: a 401 takes the refresh-and-retry-once
 * path; a 429 goes through the shared rate limits. Every value a user typed that reaches JQL is a
 * quoted, escaped literal (src/jira/jql.ts).
 */
export const jira = secretIntegration({
  kind: 'secret',
  name: 'jira',
  title: 'Jira',
  config: jiraConfig,
  secret: { schema: jiraSecretSchema, sensitive: ['apiToken'] },
  createClient: (secret: JiraSecret, deps): JiraClient => {
    const core: Client = createClient({
      host: siteOf(deps),
      auth: { type: 'basic', email: secret.email, apiToken: secret.apiToken },
    });
    return { cloud: createCloudClient(core), agile: createAgileClient(core), core };
  },
  isAuthFailure: (error) => isAuthError(error),
  createApi: (calls, deps) => createJiraApi(calls, deps),
  rotation: jiraRotation((): SecretSpec<JiraSecret> => jira.secret),
});

function siteOf(deps: PlatformDeps): string {
  const url = deps.config.jira.url;
  if (!url)
    throw new UserFacingError(
      'Jira is not configured: set OPSBOT_JIRA_URL to your Jira site (https://your-domain.atlassian.net).',
    );
  return url.replace(/\/+$/, '');
}

export function createJiraApi(calls: CredentialedCalls<JiraClient>, deps: PlatformDeps): JiraApi {
  const site = deps.config.jira.url?.replace(/\/+$/, '') ?? '';
  const call = <T>(what: string, fn: (c: JiraClient) => Promise<T>, scope?: RequestScope) =>
    deps.rateLimits
      .run('jira', jiraRateLimits, () => calls.run((c) => fn(c), scope))
      .catch((error: unknown) => {
        throw explain(error, what);
      });
  const toIssue = (raw: { key?: string; fields?: Record<string, unknown> }): JiraIssue => {
    const f = (raw.fields ?? {}) as {
      summary?: string;
      status?: { name?: string };
      assignee?: { displayName?: string } | null;
      priority?: { name?: string } | null;
      issuetype?: { name?: string };
      updated?: string;
    };
    return {
      key: String(raw.key ?? ''),
      summary: String(f.summary ?? ''),
      status: String(f.status?.name ?? ''),
      ...(f.assignee?.displayName ? { assignee: f.assignee.displayName } : {}),
      ...(f.priority?.name ? { priority: f.priority.name } : {}),
      ...(f.issuetype?.name ? { type: f.issuetype.name } : {}),
      ...(f.updated ? { updated: String(f.updated) } : {}),
      url: `${site}/browse/${raw.key}`,
    };
  };
  return {
    siteUrl: site,
    getIssue: (key, scope) =>
      call(
        `issue ${key}`,
        async (c) => toIssue(await c.cloud.issues.getIssue({ issueIdOrKey: key, fields: FIELDS })),
        scope,
      ),
    transitions: (key, scope) =>
      call(
        `issue ${key}`,
        async (c) => {
          const { transitions = [] } = await c.cloud.issues.getTransitions({ issueIdOrKey: key });
          return transitions.slice(0, 50).map((t) => ({
            name: String(t.name ?? ''),
            to: String(t.to?.name ?? t.name ?? ''),
          }));
        },
        scope,
      ),
    createIssue: (issue, scope) =>
      call(
        `project ${issue.project}`,
        async (c) => {
          const created = await c.cloud.issues.createIssue({
            fields: {
              project: { key: issue.project },
              summary: issue.summary,
              issuetype: { name: issue.type },
              ...(issue.description ? { description: adf(issue.description) } : {}),
              ...(issue.priority ? { priority: { name: issue.priority } } : {}),
              ...(issue.assigneeAccountId ? { assignee: { accountId: issue.assigneeAccountId } } : {}),
            },
          });
          const key = String(created.key ?? '');
          return { key, url: `${site}/browse/${key}` };
        },
        scope,
      ),
    move: (key, to, scope) =>
      call(
        `issue ${key}`,
        async (c) => {
          const issue = await c.cloud.issues.getIssue({ issueIdOrKey: key, fields: ['status'] });
          const from = String(
            (issue.fields as { status?: { name?: string } } | undefined)?.status?.name ?? '',
          );
          const { transitions = [] } = await c.cloud.issues.getTransitions({ issueIdOrKey: key });
          const wanted = to.trim().toLowerCase();
          const match = transitions.find(
            (t) => t.name?.toLowerCase() === wanted || t.to?.name?.toLowerCase() === wanted,
          );
          if (!match?.id) {
            // What the user typed and what Jira names are shown as code: no link, mention or markup.
            const valid = transitions
              .map((t) => inlineCode(String(t.to?.name ?? t.name ?? ''), 60))
              .join(', ');
            throw new UserFacingError(
              `${key} cannot move to ${inlineCode(to, 60)} from ${from ? inlineCode(from, 60) : 'its status'}. It can move to: ${valid || 'nothing'}.`,
            );
          }
          await c.cloud.issues.doTransition({ issueIdOrKey: key, transition: { id: match.id } });
          return { from, to: String(match.to?.name ?? match.name ?? to) };
        },
        scope,
      ),
    assign: (key, accountId, scope) =>
      call(`issue ${key}`, (c) => c.cloud.issues.assignIssue({ issueIdOrKey: key, accountId }), scope),
    comment: (key, text, scope) =>
      call(
        `issue ${key}`,
        async (c) => {
          await c.cloud.issueComments.addComment({ issueIdOrKey: key, body: adf(text) });
        },
        scope,
      ),
    search: (text, { project, limit }, scope) =>
      call(
        'search',
        async (c) => {
          const where = `${project ? `project = ${jqlString(project)} AND ` : ''}text ~ ${jqlPhrase(text)}`;
          const found: JiraIssue[] = [];
          let more = false;
          let nextPageToken: string | undefined;
          for (let page = 0; page < 5 && found.length < limit; page++) {
            const out = await c.cloud.issueSearch.searchAndReconsileIssuesUsingJql({
              jql: `${where} ORDER BY updated DESC`,
              fields: FIELDS,
              maxResults: Math.min(50, limit - found.length),
              ...(nextPageToken ? { nextPageToken } : {}),
            });
            found.push(...(out.issues ?? []).map((i) => toIssue(i)));
            nextPageToken = out.nextPageToken ?? undefined;
            more = Boolean(nextPageToken) && out.isLast !== true;
            if (!more) break;
          }
          if (!more) return { issues: found.slice(0, limit), more };
          // The enhanced search gives no total: Jira's approximate count says about how many match.
          const about = await c.cloud.issueSearch
            .countIssues({ jql: where })
            .then((r) => (typeof r.count === 'number' && r.count > limit ? r.count : undefined))
            .catch(() => undefined);
          return { issues: found.slice(0, limit), more, ...(about ? { about } : {}) };
        },
        scope,
      ),
    activeSprint: (boardId, scope) =>
      call(
        `board ${boardId}`,
        async (c) => {
          const sprints = await c.agile.board.getAllSprints({ boardId, state: 'active' });
          const sprint = (sprints.values ?? [])[0] as
            | { id?: number; name?: string; goal?: string; endDate?: string }
            | undefined;
          if (!sprint?.id) return undefined;
          // jira.js's getIssuesForSprint types `fields` as objects, though the API takes field names:
          // the same request through jira.js's own transport, typed by the schema of what is read.
          const out = await c.core.sendRequest({
            url: `/rest/software/1.0/sprint/${sprint.id}/issue`,
            method: 'GET',
            searchParams: { fields: [...FIELDS, 'flagged'] },
            schema: sprintIssuesSchema,
          });
          const issues = (out.issues ?? []).slice(0, 200).map((i) => ({
            ...toIssue(i),
            flagged: i.fields?.flagged === true,
          }));
          return {
            name: String(sprint.name ?? ''),
            ...(sprint.goal ? { goal: sprint.goal } : {}),
            ...(sprint.endDate ? { endDate: String(sprint.endDate) } : {}),
            issues,
          };
        },
        scope,
      ),
  };
}

/** Jira's refusals as sentences that say what to do next. */
function explain(error: unknown, what: string): unknown {
  if (error instanceof UserFacingError) return error;
  const status = (error as { status?: unknown }).status;
  if (status === 403) {
    return new UserFacingError(
      `Jira does not let opsbot's account do that for ${what}. Ask a Jira admin to grant the bot's account the project's permissions (browse, create, edit, transition, assign, comment).`,
      { cause: error },
    );
  }
  if (status === 400) {
    const body = (error as { body?: { errorMessages?: unknown; errors?: unknown } }).body ?? {};
    const messages = Array.isArray(body.errorMessages) ? body.errorMessages.map(String) : [];
    const fields =
      body.errors && typeof body.errors === 'object'
        ? Object.entries(body.errors as Record<string, unknown>).map(([f, m]) => `${f}: ${String(m)}`)
        : [];
    // Jira's reasons may quote what was sent (or anything): shown escaped, never as markup.
    const reasons = [...messages, ...fields].slice(0, 5).map((r) => escapeText(r.slice(0, 200)));
    return new UserFacingError(
      `Jira refused that for ${what}: ${reasons.join('; ') || 'the request was invalid'}. Check the values and try again.`,
      { cause: error },
    );
  }
  if (isNotFoundError(error)) {
    const messages = (error as { body?: { errorMessages?: string[] } }).body?.errorMessages ?? [];
    return new UserFacingError(
      `Jira has no ${what} (${escapeText((messages[0] ?? 'not found').slice(0, 200))}). Check the key, and that the bot's account may browse the project.`,
      { cause: error },
    );
  }
  return error;
}
