/** Seed data for `SimulatedJira`: the OPS and WEB projects, their people, workflow, issues and a scrum sprint. */

/** An Atlassian Document Format document (what REST v3 carries in `description` and comment `body`). */
export interface AdfDoc {
  type: 'doc';
  version: 1;
  content: Record<string, unknown>[];
}

export interface JiraUserSeed {
  accountId: string;
  displayName: string;
  emailAddress: string;
  timeZone: string;
}

export interface JiraStatusSeed {
  id: string;
  name: string;
  category: 'new' | 'indeterminate' | 'done';
}

export interface JiraTransitionSeed {
  id: string;
  name: string;
  /** The status id the transition leads to (every transition is global, as in a team-managed workflow). */
  to: string;
}

export interface JiraIssueSeed {
  key: string;
  summary: string;
  description: string | null;
  status: string;
  issuetype: string;
  priority: string;
  assignee: string | null;
  reporter: string;
  labels: string[];
  /** Flagged as an impediment: `customfield_10021` on REST v3, `fields.flagged` on the Agile API. */
  flagged: boolean;
  /** Hours before the simulator started that the issue was created / last updated. */
  createdHoursAgo: number;
  updatedHoursAgo: number;
  sprint: number | null;
}

export const DEVI = '5b10a2844c20165700ede21g';
export const ADA = '5b10ac8d82e05b22cc7d4ef5';
export const SAM = '712020:3d7a9c55-1c29-4a4b-9a0b-9f1e4c2b7e10';

export const USERS: JiraUserSeed[] = [
  { accountId: DEVI, displayName: 'Devi Rao', emailAddress: 'devi@example.com', timeZone: 'Europe/London' },
  {
    accountId: ADA,
    displayName: 'Ada Lovelace',
    emailAddress: 'ada@example.com',
    timeZone: 'America/New_York',
  },
  { accountId: SAM, displayName: 'Sam Ops', emailAddress: 'sam@example.com', timeZone: 'UTC' },
];

export const PROJECTS = [
  { id: '10000', key: 'OPS', name: 'Operations', lead: DEVI },
  { id: '10001', key: 'WEB', name: 'Web Platform', lead: ADA },
] as const;

export const ISSUE_TYPES = [
  { id: '10001', name: 'Task', description: 'A small, distinct piece of work.' },
  { id: '10002', name: 'Bug', description: 'A problem or error.' },
  { id: '10003', name: 'Story', description: 'A user-facing feature.' },
] as const;

export const PRIORITIES = [
  { id: '1', name: 'Highest' },
  { id: '2', name: 'High' },
  { id: '3', name: 'Medium' },
  { id: '4', name: 'Low' },
  { id: '5', name: 'Lowest' },
] as const;

export const STATUSES: JiraStatusSeed[] = [
  { id: '10000', name: 'To Do', category: 'new' },
  { id: '3', name: 'In Progress', category: 'indeterminate' },
  { id: '10001', name: 'In Review', category: 'indeterminate' },
  { id: '10002', name: 'Done', category: 'done' },
];

export const STATUS_CATEGORIES = {
  new: { id: 2, key: 'new', colorName: 'blue-gray', name: 'To Do' },
  indeterminate: { id: 4, key: 'indeterminate', colorName: 'yellow', name: 'In Progress' },
  done: { id: 3, key: 'done', colorName: 'green', name: 'Done' },
} as const;

export const TRANSITIONS: JiraTransitionSeed[] = [
  { id: '11', name: 'To Do', to: '10000' },
  { id: '21', name: 'In Progress', to: '3' },
  { id: '31', name: 'In Review', to: '10001' },
  { id: '41', name: 'Done', to: '10002' },
];

export const ISSUES: JiraIssueSeed[] = [
  {
    key: 'OPS-1',
    summary: 'Users hit login timeout after SSO redirect',
    description: 'Since the IdP change users see a "login timeout" after the redirect back from SSO.',
    status: 'In Progress',
    issuetype: 'Bug',
    priority: 'Highest',
    assignee: DEVI,
    reporter: ADA,
    labels: ['auth', 'blocked'],
    flagged: true,
    createdHoursAgo: 72,
    updatedHoursAgo: 2,
    sprint: 1,
  },
  {
    key: 'OPS-2',
    summary: 'Rotate the staging database credentials',
    description: null,
    status: 'To Do',
    issuetype: 'Task',
    priority: 'High',
    assignee: ADA,
    reporter: DEVI,
    labels: ['security'],
    flagged: false,
    createdHoursAgo: 60,
    updatedHoursAgo: 30,
    sprint: 1,
  },
  {
    key: 'OPS-3',
    summary: 'Alert on disk usage above 90% for the build agents',
    description: 'Path C:\\agents\\work fills up; page when it crosses 90%.',
    status: 'In Review',
    issuetype: 'Story',
    priority: 'Medium',
    assignee: DEVI,
    reporter: DEVI,
    labels: [],
    flagged: false,
    createdHoursAgo: 50,
    updatedHoursAgo: 5,
    sprint: 1,
  },
  {
    key: 'OPS-4',
    summary: 'Deploy pipeline stuck waiting for the "prod" approval',
    description: 'The approval gate never receives the webhook.',
    status: 'To Do',
    issuetype: 'Bug',
    priority: 'High',
    assignee: null,
    reporter: SAM,
    labels: ['ci'],
    flagged: true,
    createdHoursAgo: 40,
    updatedHoursAgo: 1,
    sprint: 1,
  },
  {
    key: 'OPS-5',
    summary: 'Write the on-call runbook for login timeout incidents',
    description: null,
    status: 'Done',
    issuetype: 'Task',
    priority: 'Low',
    assignee: ADA,
    reporter: DEVI,
    labels: ['docs'],
    flagged: false,
    createdHoursAgo: 200,
    updatedHoursAgo: 100,
    sprint: null,
  },
  {
    key: 'WEB-1',
    summary: 'Checkout button misaligned on Safari',
    description: null,
    status: 'To Do',
    issuetype: 'Bug',
    priority: 'Medium',
    assignee: ADA,
    reporter: ADA,
    labels: [],
    flagged: false,
    createdHoursAgo: 20,
    updatedHoursAgo: 10,
    sprint: null,
  },
];

export const BOARDS = [{ id: 1, name: 'OPS board', type: 'scrum', project: 'OPS' }] as const;

export const SPRINTS = [
  {
    id: 1,
    boardId: 1,
    name: 'OPS Sprint 14',
    goal: 'Stabilise SSO login and CI approvals',
    state: 'active',
    /** Days relative to the simulator's start. */
    startDays: -4,
    endDays: 10,
  },
  {
    id: 2,
    boardId: 1,
    name: 'OPS Sprint 13',
    goal: 'Runbooks',
    state: 'closed',
    startDays: -18,
    endDays: -4,
  },
] as const;

/** A one-paragraph ADF document holding `text`. */
export function adf(text: string): AdfDoc {
  return { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text }] }] };
}

/** The plain text of an ADF node tree (text nodes joined with spaces), for `text ~` searches. */
export function adfText(node: unknown, depth = 0): string {
  if (depth > 50 || typeof node !== 'object' || node === null) return '';
  const n = node as { text?: unknown; content?: unknown };
  const own = typeof n.text === 'string' ? n.text : '';
  const kids = Array.isArray(n.content) ? n.content.map((c) => adfText(c, depth + 1)) : [];
  return [own, ...kids].filter(Boolean).join(' ');
}
