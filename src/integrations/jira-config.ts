import { z } from 'zod';
import { userId } from '../config/fields.js';
import { parseHttpUrl } from '../config/parsers.js';
import { defineConfigSection } from '../config/section.js';

/** `jira:` of the configuration file: the default project and board, and Slack users' Jira accounts. */
const jiraSchema = z.strictObject({
  defaultProject: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]{1,9}$/, 'expected a Jira project key such as OPS')
    .optional(),
  /** The board `/jira sprint` shows when no board is given. */
  defaultBoard: z.number().int().positive().optional(),
  users: z.record(userId, z.string().min(1).max(128)).default({}),
});

export type JiraConfig = z.output<typeof jiraSchema>;

/** What Jira reads from the environment: `config.jira`. */
export interface JiraSettings {
  /** `OPSBOT_JIRA_URL`: the Jira site (`https://acme.atlassian.net`); unset: Jira is not configured. */
  url?: string;
}

declare module '../config/section.js' {
  interface ConfigSections {
    jira: JiraConfig;
  }
  interface EnvSettings {
    jira: JiraSettings;
  }
}

export const jiraConfig = defineConfigSection('jira', jiraSchema, {
  env: { url: { name: 'OPSBOT_JIRA_URL', deploy: 'operator', parse: parseHttpUrl } },
});
