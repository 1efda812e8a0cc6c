import { z } from 'zod';
import { secretText } from '../credentials/secret-spec.js';
import { secretIntegration } from './integration.js';

export const jiraSecretSchema = z.object({
  email: z.email({
    error: (issue) =>
      issue.input === undefined ? 'email: required' : 'email: expected the Atlassian account e-mail address',
  }),
  apiToken: secretText('apiToken'),
});
export type JiraSecret = z.infer<typeof jiraSecretSchema>;

/**
 * Jira: its secret is declared (loaded, validated, masked, rotated) so operators can set it up now;
 * the client and `/jira` arrive with the Jira issue.
 */
export const jira = secretIntegration<'jira', JiraSecret>({
  kind: 'secret',
  name: 'jira',
  title: 'Jira',
  secret: { schema: jiraSecretSchema, sensitive: ['apiToken'] },
});
