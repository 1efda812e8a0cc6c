import type { Parsed } from './parsers.js';
import type { ConfigSection } from './section.js';

/**
 * The environment variables opsbot reads: the core ones here, and those each integration or feature
 * contributes with its configuration section (`env` of {@link ConfigSection}, next to its owner).
 * `config.ts` reads them all (defaults from here; an unknown `OPSBOT_…` is a warning), infra/
 * decides from `deploy` which the stack sets and which an operator may add, and README's table is
 * held to the assembled list ({@link variablesOf}) by `test/unit/config/variables.test.ts`.
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

/** A variable an integration or a feature contributes, with the parser of its value. */
export interface EnvVariable<T = unknown> extends Variable {
  /** Reads the trimmed, non-empty value (or the default); a failure is one line naming the variable. */
  parse(text: string): Parsed<T>;
}

/** The variables of the core: secrets, State, the file, the listeners, logging and Slack (the transport). */
export const CORE_VARIABLES = [
  { name: 'OPSBOT_SECRET_SOURCE', default: 'aws', deploy: 'stack' },
  { name: 'OPSBOT_SECRET_PREFIX', default: 'opsbot/', deploy: 'stack' },
  { name: 'OPSBOT_SECRET_POLL_SECONDS', default: '60', deploy: 'operator' },
  { name: 'OPSBOT_SECRET_MAX_STALE_SECONDS', default: '21600', deploy: 'operator' },
  { name: 'OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS', default: '300', deploy: 'operator' },
  { name: 'OPSBOT_SECRET_FILE', deploy: 'local' },
  { name: 'OPSBOT_SECRET_FILE_KEY', deploy: 'local' },
  { name: 'OPSBOT_VAULT_ADDR', deploy: 'stack' },
  { name: 'OPSBOT_VAULT_AUTH', default: 'aws', deploy: 'stack' },
  { name: 'OPSBOT_VAULT_ROLE', deploy: 'stack' },
  { name: 'OPSBOT_VAULT_AUTH_MOUNT', deploy: 'operator' },
  { name: 'OPSBOT_VAULT_KV_MOUNT', default: 'secret', deploy: 'operator' },
  { name: 'OPSBOT_VAULT_NAMESPACE', deploy: 'operator' },
  { name: 'OPSBOT_VAULT_IAM_SERVER_ID', deploy: 'operator' },
  { name: 'OPSBOT_VAULT_CACERT', deploy: 'operator' },
  {
    name: 'OPSBOT_VAULT_K8S_TOKEN_FILE',
    default: '/var/run/secrets/kubernetes.io/serviceaccount/token',
    deploy: 'local',
  },
  { name: 'OPSBOT_SLACK_MODE', default: 'http', deploy: 'stack' },
  { name: 'OPSBOT_SLACK_API_URL', deploy: 'operator' },
  { name: 'OPSBOT_STATE', default: 'sqlite:./data/opsbot.db', deploy: 'stack' },
  { name: 'OPSBOT_CONFIG', default: './opsbot.yaml', deploy: 'stack' },
  { name: 'PORT', default: '3000', deploy: 'stack' },
  { name: 'OPSBOT_METRICS_PORT', deploy: 'operator' },
  { name: 'LOG_LEVEL', default: 'info', deploy: 'operator' },
] as const satisfies readonly Variable[];

/** The default of a core variable that has one (a typo in `name` does not compile). */
export function defaultOf(
  name: Extract<(typeof CORE_VARIABLES)[number], { default: string }>['name'],
): string {
  const found = CORE_VARIABLES.find((v) => v.name === name) as Variable;
  return found.default as string;
}

/**
 * Every variable opsbot reads with these sections registered: the core's, then each section's in
 * its order (`variablesOf(CONFIG_SECTIONS)` in src/features.ts for the production build).
 *
 * @throws Error when two owners declare one variable (a wiring mistake, found at start-up).
 */
export function variablesOf(sections: readonly ConfigSection[]): Variable[] {
  const all: Variable[] = [...CORE_VARIABLES];
  const owners = new Map<string, string>(all.map((v) => [v.name, 'the core']));
  for (const section of sections) {
    for (const { name, default: fallback, deploy } of Object.values(section.env ?? {})) {
      const owner = owners.get(name);
      if (owner)
        throw new Error(
          `the environment variable ${name} is declared by ${owner} and by "${section.key}": each variable has one owner`,
        );
      owners.set(name, `"${section.key}"`);
      all.push({ name, ...(fallback !== undefined ? { default: fallback } : {}), deploy });
    }
  }
  return all;
}

/** The names with this `deploy`, of these variables. */
export function variablesDeployedBy(variables: readonly Variable[], deploy: Variable['deploy']): string[] {
  return variables.filter((v) => v.deploy === deploy).map((v) => v.name);
}
