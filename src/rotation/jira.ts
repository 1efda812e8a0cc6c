import type { SecretSpec } from '../credentials/secret-spec.js';
import type { JiraSecret } from '../integrations/jira.js';
import { type RotationContext, type RotationKind, RotationTestError } from './kind.js';
import { vendorGet } from './vendor-http.js';

/**
 * The `jira` secret is made by a person (Atlassian makes API tokens only in the account's security
 * settings). testSecret proves the new email and token: `GET /rest/api/3/myself` answers 200.
 */
export function jiraRotation(spec: () => SecretSpec<JiraSecret>): RotationKind<JiraSecret> {
  return {
    get spec() {
      return spec();
    },
    automatic: () => false,
    personMakes: 'Jira API token (with the account email)',
    test: testJira,
  };
}

async function testJira(pending: JiraSecret, ctx: RotationContext): Promise<void> {
  const site = ctx.endpoints.jiraUrl?.replace(/\/+$/, '');
  if (!site) {
    throw new RotationTestError(
      'OPSBOT_JIRA_URL is not set for the rotation function: set it to your Jira site (https://your-domain.atlassian.net) so the new token can be tested',
    );
  }
  const basic = Buffer.from(`${pending.email}:${pending.apiToken}`).toString('base64');
  const answer = await vendorGet('Jira', `${site}/rest/api/3/myself`, { authorization: `Basic ${basic}` });
  if (answer.status === 401) {
    throw new RotationTestError(
      `Jira refused the new API token (401): ${answer.reason}. Check the token and that email is the account that made it, then put it as AWSPENDING again`,
    );
  }
  if (answer.status !== 200) {
    throw new RotationTestError(
      `Jira answered ${answer.status} to the new API token: ${answer.reason}. AWSCURRENT keeps serving; rotate again once Jira answers 200`,
    );
  }
}
