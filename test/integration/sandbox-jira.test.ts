import { randomBytes } from 'node:crypto';
import {
  ApiError,
  AuthError,
  createAgileClient,
  createCloudClient,
  NotFoundError,
  RateLimitError,
  ServerError,
} from 'jira.js';
import { createClient } from 'jira.js/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedJira } from '../../src/sandbox/jira.js';

// The real jira.js 6 clients against the simulated Jira, with `onSchemaMismatch: 'throw'`: every answer must pass
// the library's own zod schemas, and errors must reach it as ApiError subclasses carrying Atlassian's body.

const EMAIL = 'devi@example.com';
const TOKEN = `jira-test-canary-${randomBytes(8).toString('hex')}`;
const DEVI = '5b10a2844c20165700ede21g';
const ADA = '5b10ac8d82e05b22cc7d4ef5';
const jira = new SimulatedJira();
let url = '';

const config = (apiToken = TOKEN) => ({
  host: url,
  auth: { type: 'basic' as const, email: EMAIL, apiToken },
  onSchemaMismatch: 'throw' as const,
});
const cloud = () => createCloudClient(config());
const agile = () => createAgileClient(config());
const doc = (text: string) => ({
  type: 'doc' as const,
  version: 1,
  content: [{ type: 'paragraph', content: [{ type: 'text', text }] }],
});

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

beforeAll(async () => {
  ({ url } = await jira.start());
  jira.addToken(EMAIL, TOKEN);
});
afterAll(() => jira.stop());

describe('SimulatedJira with the real jira.js clients', () => {
  it('gets an issue with its fields, and a 404 carries the Atlassian message', async () => {
    const issue = await cloud().issues.getIssue({ issueIdOrKey: 'OPS-1' });
    expect(issue.key).toBe('OPS-1');
    const f = issue.fields ?? {};
    expect(f.summary).toContain('login timeout');
    expect(f.status.name).toBe('In Progress');
    expect(f.status.statusCategory.key).toBe('indeterminate');
    expect(f.assignee).toMatchObject({ accountId: DEVI, displayName: 'Devi Rao' });
    expect(f.priority.name).toBe('Highest');
    expect(f.issuetype.name).toBe('Bug');
    expect(f.project.key).toBe('OPS');
    expect(f.description.type).toBe('doc');
    expect(f.customfield_10021[0].value).toBe('Impediment');
    expect(Number.isNaN(Date.parse(f.updated))).toBe(false);

    const only = await cloud().issues.getIssue({ issueIdOrKey: 'OPS-2', fields: ['summary', 'assignee'] });
    expect(Object.keys(only.fields ?? {}).sort()).toEqual(['assignee', 'summary']);

    const error = await rejection(cloud().issues.getIssue({ issueIdOrKey: 'OPS-999' }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.status).toBe(404);
    expect(error.body).toEqual({
      errorMessages: ['Issue does not exist or you do not have permission to see it.'],
      errors: {},
    });
  });

  it('creates issues and answers field errors with 400', async () => {
    const created = await cloud().issues.createIssue({
      fields: {
        project: { key: 'OPS' },
        summary: 'Created by the test',
        issuetype: { name: 'Task' },
        description: doc('Body text'),
        priority: { name: 'High' },
        assignee: { accountId: ADA },
      },
    });
    expect(created.key).toBe('OPS-6');
    expect(created.self).toBe(`${url}/rest/api/3/issue/${created.id}`);
    const read = await cloud().issues.getIssue({ issueIdOrKey: created.key });
    expect(read.fields?.assignee.accountId).toBe(ADA);
    expect(read.fields?.status.name).toBe('To Do');

    const empty = await rejection(
      cloud().issues.createIssue({
        fields: { project: { key: 'OPS' }, summary: '', issuetype: { name: 'Task' } },
      }),
    );
    expect(empty.status).toBe(400);
    expect(empty.body).toEqual({
      errorMessages: [],
      errors: { summary: 'You must specify a summary of the issue.' },
    });
    const long = await rejection(
      cloud().issues.createIssue({
        fields: { project: { key: 'OPS' }, summary: 'x'.repeat(256), issuetype: { name: 'Nope' } },
      }),
    );
    expect((long.body as { errors: Record<string, string> }).errors).toEqual({
      summary: 'Summary must be less than 255 characters.',
      issuetype: 'The issue type selected is invalid.',
    });
    const project = await rejection(
      cloud().issues.createIssue({
        fields: { project: { key: 'NOPE' }, summary: 'x', issuetype: { name: 'Task' } },
      }),
    );
    expect(project.body).toEqual({ errorMessages: [], errors: { project: 'valid project is required' } });
    const notAdf = await rejection(
      cloud().issues.createIssue({
        fields: {
          project: { key: 'OPS' },
          summary: 'x',
          issuetype: { id: '10001' },
          description: { type: 'paragraph' } as never,
        },
      }),
    );
    expect(Object.keys((notAdf.body as { errors: object }).errors)).toEqual(['description']);
  });

  it('lists and performs transitions; an invalid one is a 400', async () => {
    const { transitions } = await cloud().issues.getTransitions({ issueIdOrKey: 'OPS-2' });
    expect(transitions?.map((t) => [t.id, t.to?.name])).toEqual([
      ['21', 'In Progress'],
      ['31', 'In Review'],
      ['41', 'Done'],
    ]);
    await cloud().issues.doTransition({ issueIdOrKey: 'OPS-2', transition: { id: '41' } });
    expect(jira.issue('OPS-2')?.statusId).toBe('10002');
    const again = await rejection(
      cloud().issues.doTransition({ issueIdOrKey: 'OPS-2', transition: { id: '41' } }),
    );
    expect(again.status).toBe(400);
    expect(again.body).toEqual({
      errorMessages: ["Transition id '41' is not valid for this issue."],
      errors: {},
    });
  });

  it('assigns and comments', async () => {
    await cloud().issues.assignIssue({ issueIdOrKey: 'OPS-4', accountId: DEVI });
    expect(jira.issue('OPS-4')?.assignee).toBe(DEVI);
    await cloud().issues.assignIssue({ issueIdOrKey: 'OPS-4', accountId: null as unknown as string });
    expect(jira.issue('OPS-4')?.assignee).toBeNull();
    const bad = await rejection(cloud().issues.assignIssue({ issueIdOrKey: 'OPS-4', accountId: 'ghost' }));
    expect(bad.status).toBe(400);

    const comment = await cloud().issueComments.addComment({
      issueIdOrKey: 'OPS-3',
      body: doc('Looking into it'),
    });
    expect(comment.author?.accountId).toBe(DEVI);
    expect(comment.body?.content).toEqual(doc('Looking into it').content);
    expect(comment.created).toBeInstanceOf(Date);
    const empty = await rejection(
      cloud().issueComments.addComment({ issueIdOrKey: 'OPS-3', body: doc('  ') }),
    );
    expect(empty.body).toEqual({ errorMessages: [], errors: { comment: 'Comment body can not be empty!' } });
  });

  it('pages the enhanced JQL search with nextPageToken, each issue once', async () => {
    const seen: string[] = [];
    let nextPageToken: string | undefined;
    let pages = 0;
    do {
      const page = await cloud().issueSearch.searchAndReconsileIssuesUsingJql({
        jql: 'project = "OPS" AND key IN (OPS-1, OPS-2, OPS-3, OPS-4, OPS-5) ORDER BY updated DESC',
        maxResults: 2,
        fields: ['summary', 'status', 'updated'],
        nextPageToken,
      });
      pages += 1;
      for (const issue of page.issues ?? []) seen.push(issue.key ?? '');
      expect(page.isLast).toBe(page.nextPageToken === undefined);
      nextPageToken = page.nextPageToken ?? undefined;
    } while (nextPageToken && pages < 10);
    expect(pages).toBe(3);
    expect([...seen].sort()).toEqual(['OPS-1', 'OPS-2', 'OPS-3', 'OPS-4', 'OPS-5']);
    const updated = seen.map((k) => jira.issue(k)?.updated ?? 0);
    expect(updated).toEqual([...updated].sort((a, b) => b - a));

    // Without `fields` the enhanced search answers ids only, as Atlassian's does.
    const ids = await cloud().issueSearch.searchAndReconsileIssuesUsingJqlPost({
      jql: 'project = OPS',
      maxResults: 1,
    });
    expect(Object.keys(ids.issues?.[0] ?? {})).toEqual(['id']);
    expect(ids.isLast).toBe(false);
  });

  it('parses quoted text with escaped quotes and backslashes', async () => {
    const search = (jql: string) =>
      cloud().issueSearch.searchAndReconsileIssuesUsingJql({ jql, fields: ['summary'] });
    const phrase = await search('project = "OPS" AND text ~ "\\"login timeout\\"" ORDER BY key ASC');
    expect(phrase.issues?.map((i) => i.key)).toEqual(['OPS-1', 'OPS-5']);
    // JQL string literals escape `"` and `\` with a backslash; an inner quoted phrase asks for an exact match.
    const jqlString = (text: string) => `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    const withQuote = await search(`text ~ ${jqlString('"the "prod" approval"')}`);
    expect(withQuote.issues?.map((i) => i.key)).toEqual(['OPS-4']);
    const notAdjacent = await search(`summary ~ ${jqlString('"prod" pipeline')}`);
    expect(notAdjacent.issues?.map((i) => i.key)).toEqual(['OPS-4']);
    const backslash = await search(`text ~ ${jqlString('"C:\\agents\\work"')}`);
    expect(backslash.issues?.map((i) => i.key)).toEqual(['OPS-3']);
    const badEscape = await rejection(search('text ~ "C:\\agents"'));
    expect((badEscape.body as { errorMessages: string[] }).errorMessages[0]).toMatch(/escape sequence/);
    const post = await cloud().issueSearch.searchAndReconsileIssuesUsingJqlPost({
      jql: 'assignee = currentUser() AND status != Done ORDER BY priority DESC',
      fields: ['priority'],
    });
    expect(post.issues?.map((i) => i.key)).toEqual(['OPS-1', 'OPS-3']);

    const broken = await rejection(search('project = "OPS'));
    expect(broken.status).toBe(400);
    expect((broken.body as { errorMessages: string[] }).errorMessages[0]).toMatch(
      /^Error in the JQL Query: /,
    );
    const garbage = await rejection(search('project = OPS status = Done'));
    expect((garbage.body as { errorMessages: string[] }).errorMessages[0]).toBe(
      "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'status'. (line 1, character 15)",
    );
    const unknown = await rejection(search('project = NOPE'));
    expect((unknown.body as { errorMessages: string[] }).errorMessages).toEqual([
      "The value 'NOPE' does not exist for the field 'project'.",
    ]);
    const unbounded = await rejection(search('ORDER BY updated DESC'));
    expect(unbounded.status).toBe(400);
  });

  it('counts issues for bounded JQL (approximate-count), and refuses unbounded JQL with 400', async () => {
    const { count } = await cloud().issueSearch.countIssues({ jql: 'text ~ "login"' });
    const found = await cloud().issueSearch.searchAndReconsileIssuesUsingJql({
      jql: 'text ~ "login"',
      maxResults: 100,
    });
    expect(count).toBe(found.issues?.length);
    expect(count).toBeGreaterThan(0);
    const error = await rejection(cloud().issueSearch.countIssues({ jql: 'ORDER BY created' }));
    expect(error.status).toBe(400);
  });

  it('shows a renamed status in issues and transitions; injected 4xx carry the given body', async () => {
    jira.renameStatus('In Review', '<!channel> Review');
    try {
      const { transitions = [] } = await cloud().issues.getTransitions({ issueIdOrKey: 'OPS-1' });
      expect(transitions.map((t) => t.to?.name)).toContain('<!channel> Review');
    } finally {
      jira.renameStatus('In Review', 'In Review');
    }
    jira.failNext({
      path: '/rest/api/3/issue/OPS-1',
      status: 400,
      errorMessages: ['no'],
      errors: { f: 'why' },
    });
    const error = await rejection(cloud().issues.getIssue({ issueIdOrKey: 'OPS-1' }));
    expect(error.status).toBe(400);
    expect(error.body).toEqual({ errorMessages: ['no'], errors: { f: 'why' } });
  });

  it('answers the removed /rest/api/3/search with 410 Gone', async () => {
    const client = createClient(config());
    const gone = await rejection(
      client.sendRequest({
        url: '/rest/api/3/search',
        method: 'GET',
        searchParams: { jql: 'project = OPS' },
      }),
    );
    expect(gone.status).toBe(410);
    expect((gone.body as { errorMessages: string[] }).errorMessages[0]).toContain('/rest/api/3/search/jql');
  });

  it('serves projects, myself and create metadata', async () => {
    const project = await cloud().projects.getProject({ projectIdOrKey: 'OPS' });
    expect(project).toMatchObject({ id: '10000', key: 'OPS' });
    expect(project.issueTypes?.map((t) => t.name)).toEqual(['Task', 'Bug', 'Story']);
    const me = await cloud().myself.getCurrentUser();
    expect(me.accountId).toBe(DEVI);
    const meta = await cloud().issues.getCreateIssueMetaIssueTypes({ projectIdOrKey: 'WEB' });
    expect(meta.issueTypes?.length).toBe(3);
    const missing = await rejection(cloud().projects.getProject({ projectIdOrKey: 'NOPE' }));
    expect(missing.body).toEqual({
      errorMessages: ["No project could be found with key 'NOPE'."],
      errors: {},
    });
  });

  it('serves the scrum board, its active sprint and the sprint issues with flags', async () => {
    const board = await agile().board.getBoard({ boardId: 1 });
    expect(board).toMatchObject({ id: 1, type: 'scrum', location: { projectKey: 'OPS' } });
    const sprints = await agile().board.getAllSprints({ boardId: 1, state: 'active' });
    expect(sprints.values?.map((s) => s.name)).toEqual(['OPS Sprint 14']);
    const sprint = sprints.values?.[0];
    expect(sprint?.goal).toContain('SSO');
    expect(sprint?.startDate).toBeInstanceOf(Date);
    expect(sprint?.endDate).toBeInstanceOf(Date);
    const result = await agile().sprint.getIssuesForSprint({ sprintId: sprint?.id ?? 0 });
    expect(result.isLast).toBe(true);
    const flags = Object.fromEntries(result.issues.map((i) => [i.key, i.fields?.flagged]));
    expect(flags).toEqual({ 'OPS-1': true, 'OPS-2': false, 'OPS-3': false, 'OPS-4': true });
    expect(result.issues[0]?.fields?.status.name).toBe('In Progress');

    const old = await createClient(config()).sendRequest<{ total: number; issues: unknown[] }>({
      url: `/rest/agile/1.0/sprint/${sprint?.id}/issue`,
      method: 'GET',
      searchParams: { maxResults: 2 },
    });
    expect(old.total).toBe(4);
    expect(old.issues).toHaveLength(2);
    const noBoard = await rejection(agile().board.getBoard({ boardId: 99 }));
    expect(noBoard).toBeInstanceOf(NotFoundError);
  });

  it('refuses a revoked token with Atlassian 401 body', async () => {
    const other = `jira-test-canary-${randomBytes(8).toString('hex')}`;
    jira.addToken(EMAIL, other);
    await createCloudClient(config(other)).myself.getCurrentUser();
    jira.revokeToken(other);
    const error = await rejection(createCloudClient(config(other)).myself.getCurrentUser());
    expect(error).toBeInstanceOf(AuthError);
    expect(error.status).toBe(401);
    expect(error.body).toEqual({
      errorMessages: ['Client must be authenticated to access this resource.'],
      errors: {},
    });
    const wrongEmail = createCloudClient({
      ...config(),
      auth: { type: 'basic', email: 'x@example.com', apiToken: TOKEN },
    });
    expect((await rejection(wrongEmail.myself.getCurrentUser())).status).toBe(401);
    expect(JSON.stringify(jira.calls)).not.toContain(other);
    expect(JSON.stringify(jira.calls)).not.toContain(TOKEN);
  });

  it('surfaces an injected 429 with Retry-After, and 5xx as ServerError (no retries)', async () => {
    jira.failNext({ path: '/rest/api/3/search/jql', status: 429, retryAfterSeconds: 17 });
    const before = jira.calls.length;
    const limited = await rejection(
      cloud().issueSearch.searchAndReconsileIssuesUsingJql({ jql: 'project = OPS', fields: ['summary'] }),
    );
    expect(limited).toBeInstanceOf(RateLimitError);
    expect((limited as RateLimitError).retryAfterMs).toBe(17_000);
    expect(jira.calls.length).toBe(before + 1);
    expect(jira.calls.at(-1)).toMatchObject({ method: 'GET', path: '/rest/api/3/search/jql', status: 429 });

    jira.failNext({ status: 503 });
    const down = await rejection(cloud().issues.getIssue({ issueIdOrKey: 'OPS-1' }));
    expect(down).toBeInstanceOf(ServerError);
    expect(down.status).toBe(503);
    // The fault is used up: the next call succeeds.
    expect((await cloud().issues.getIssue({ issueIdOrKey: 'OPS-1' })).key).toBe('OPS-1');
  });
});
