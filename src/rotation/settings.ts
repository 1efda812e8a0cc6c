import { parseHttpUrl } from '../config/parsers.js';
import { defaultOf } from '../config/variables.js';
import type { Env } from '../config.js';
import { RotationStepError } from './errors.js';
import type { RotationEndpoints } from './kind.js';

const DEFAULT_DATADOG_SITE = 'datadoghq.com';

export interface RotationSettings {
  /** `OPSBOT_SECRET_PREFIX` (`opsbot/`). */
  prefix: string;
  endpoints: RotationEndpoints;
  logLevel: string;
}

/**
 * The rotation function's settings, from the variables the server reads (README "Configure it"):
 * the secret prefix and the vendors' endpoints. A bad value stops the step, naming the variable.
 */
export function rotationSettings(env: Env): RotationSettings {
  const problems: string[] = [];
  const url = (name: string): string | undefined => {
    const text = env[name]?.trim();
    if (!text) return undefined;
    const parsed = parseHttpUrl(text);
    if (parsed.ok) return parsed.value;
    problems.push(`${name}: expected ${parsed.expected}`);
    return undefined;
  };
  const prefix = env.OPSBOT_SECRET_PREFIX ?? defaultOf('OPSBOT_SECRET_PREFIX');
  if (!/^[A-Za-z0-9/_+=.@-]{0,400}$/.test(prefix))
    problems.push('OPSBOT_SECRET_PREFIX: expected a Secrets Manager name prefix, such as opsbot/');
  // The Datadog kind checks the site against the sites it knows; here only its form.
  const site = env.OPSBOT_DATADOG_SITE?.trim().toLowerCase() || DEFAULT_DATADOG_SITE;
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(site))
    problems.push('OPSBOT_DATADOG_SITE: expected a Datadog site such as datadoghq.com or datadoghq.eu');
  const endpoints: RotationEndpoints = { datadogSite: site };
  const slackApiUrl = url('OPSBOT_SLACK_API_URL');
  const githubApiUrl = url('OPSBOT_GITHUB_API_URL');
  const jiraUrl = url('OPSBOT_JIRA_URL');
  const datadogApiUrl = url('OPSBOT_DATADOG_API_URL');
  if (slackApiUrl) endpoints.slackApiUrl = slackApiUrl;
  if (githubApiUrl) endpoints.githubApiUrl = githubApiUrl;
  if (jiraUrl) endpoints.jiraUrl = jiraUrl;
  if (datadogApiUrl) endpoints.datadogApiUrl = datadogApiUrl;
  if (problems.length > 0)
    throw new RotationStepError(`the rotation function's environment is invalid: ${problems.join('; ')}`);
  return { prefix, endpoints, logLevel: env.LOG_LEVEL?.trim() || defaultOf('LOG_LEVEL') };
}
