/**
 * Every environment variable opsbot reads, in one place: its default, and who sets it when the CDK
 * app deploys it. `config.ts` reads them (defaults from here; an unknown `OPSBOT_…` is a warning),
 * infra/ decides from `deploy` which the stack sets and which an operator may add, and README's
 * table is held to this list by `test/unit/config/variables.test.ts`.
 */
export interface Variable {
  name: string;
  /** The default, as README shows it; none: unset means "not used". */
  default?: string;
  /**
   * In the CDK deployment: `stack` (the stack sets it; an operator may not), `operator` (may be set
   * through the context's `environment`), `local` (never in a task definition: a secret, or a
   * local-only source).
   */
  deploy: 'stack' | 'operator' | 'local';
}

export const VARIABLES = [
  { name: 'OPSBOT_SECRET_SOURCE', default: 'aws', deploy: 'stack' },
  { name: 'OPSBOT_SECRET_PREFIX', default: 'opsbot/', deploy: 'stack' },
  { name: 'OPSBOT_SECRET_POLL_SECONDS', default: '60', deploy: 'operator' },
  { name: 'OPSBOT_SECRET_MAX_STALE_SECONDS', default: '21600', deploy: 'operator' },
  { name: 'OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS', default: '300', deploy: 'operator' },
  { name: 'OPSBOT_SECRET_FILE', deploy: 'local' },
  { name: 'OPSBOT_SECRET_FILE_KEY', deploy: 'local' },
  { name: 'OPSBOT_SLACK_MODE', default: 'http', deploy: 'stack' },
  { name: 'OPSBOT_SLACK_API_URL', deploy: 'operator' },
  { name: 'OPSBOT_GITHUB_API_URL', deploy: 'operator' },
  { name: 'OPSBOT_JIRA_URL', deploy: 'operator' },
  { name: 'OPSBOT_DATADOG_SITE', default: 'datadoghq.com', deploy: 'operator' },
  { name: 'OPSBOT_DATADOG_API_URL', deploy: 'operator' },
  { name: 'OPSBOT_STATE', default: 'sqlite:./data/opsbot.db', deploy: 'stack' },
  { name: 'OPSBOT_CONFIG', default: './opsbot.yaml', deploy: 'stack' },
  { name: 'PORT', default: '3000', deploy: 'stack' },
  { name: 'OPSBOT_DEVENV_REAPER_SECONDS', default: '60', deploy: 'operator' },
  { name: 'OPSBOT_DEVENV_ROLE_ARN', deploy: 'stack' },
  { name: 'OPSBOT_METRICS_PORT', deploy: 'operator' },
  { name: 'LOG_LEVEL', default: 'info', deploy: 'operator' },
] as const satisfies readonly Variable[];

export type VariableName = (typeof VARIABLES)[number]['name'];

/** The default of a variable that has one (a typo in `name` does not compile). */
export function defaultOf(name: Extract<(typeof VARIABLES)[number], { default: string }>['name']): string {
  const found = VARIABLES.find((v) => v.name === name) as Variable;
  return found.default as string;
}

/** The names with this `deploy`. */
export function variablesDeployedBy(deploy: Variable['deploy']): string[] {
  return VARIABLES.filter((v) => v.deploy === deploy).map((v) => v.name);
}
