import { variablesDeployedBy } from '../../src/config/variables.js';
import { VARIABLES } from '../../src/features.js';
import type { OpsbotSettings } from './context.js';
import { CONFIG_PATH_IN_IMAGE, CONTAINER_PORT } from './paths.js';
import { type SecretSourceName, vaultEnvironment, vaultKeyOf } from './vault-context.js';

/**
 * Settings the stack sets itself, or that would put a secret into the task definition: never
 * accepted in `environment` (from the bot's own list of variables: the core's and those its
 * integrations and features contribute, `VARIABLES` in src/features.ts).
 */
const MANAGED_VARIABLES: ReadonlySet<string> = new Set([
  ...variablesDeployedBy(VARIABLES, 'stack'),
  ...variablesDeployedBy(VARIABLES, 'local'),
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
]);

/** The non-secret settings an operator may add (README.md, "Settings (CDK context)", `environment`). */
const ALLOWED_VARIABLES: ReadonlySet<string> = new Set(variablesDeployedBy(VARIABLES, 'operator'));

/**
 * The variables the container gets, apart from AWS_REGION (a deploy-time value) and the table name
 * (`tableName`, a token at synth time).
 */
export function containerEnvironment(
  settings: OpsbotSettings,
  tableName: string,
  /** The dev-env role the stack creates (a token at synth time): overrides `devenv.roleArn` of the file. */
  devenvRoleArn?: string,
  /** Socket Mode: the queue CloudTrail's calls on opsbot's secrets arrive on (a token at synth time). */
  eventsQueueUrl?: string,
): Record<string, string> {
  return {
    OPSBOT_SECRET_SOURCE: settings.secretSource,
    ...(settings.vault ? vaultEnvironment(settings.vault) : {}),
    OPSBOT_SECRET_PREFIX: settings.secretPrefix,
    OPSBOT_SLACK_MODE: settings.slackMode,
    OPSBOT_STATE: `dynamodb:${tableName}`,
    OPSBOT_CONFIG: CONFIG_PATH_IN_IMAGE,
    PORT: String(CONTAINER_PORT),
    ...(devenvRoleArn ? { OPSBOT_DEVENV_ROLE_ARN: devenvRoleArn } : {}),
    ...(eventsQueueUrl ? { OPSBOT_EVENTS_QUEUE_URL: eventsQueueUrl } : {}),
    ...settings.environment,
  };
}

/**
 * Reads context "environment": allow-listed, non-secret settings only. The Vault variables context
 * "vault" sets are not taken here (one place for each), nor any Vault variable with the `aws` source.
 */
export function readEnvironment(
  value: unknown,
  problems: string[],
  secretSource: SecretSourceName = 'aws',
): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(
      'environment: expected a mapping of variable names to strings, e.g. { "OPSBOT_JIRA_URL": "https://acme.atlassian.net" }',
    );
    return {};
  }
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    const vaultKey = vaultKeyOf(name);
    if (MANAGED_VARIABLES.has(name)) {
      problems.push(
        `environment.${name}: set by the stack itself${vaultKey ? ` (from context "vault", key "${vaultKey}")` : ''}; remove it`,
      );
    } else if (vaultKey && secretSource === 'vault') {
      problems.push(`environment.${name}: set it in context "vault" as "${vaultKey}"; remove it here`);
    } else if (name.startsWith('OPSBOT_VAULT_') && secretSource !== 'vault' && ALLOWED_VARIABLES.has(name)) {
      problems.push(
        `environment.${name}: read only with secretSource "vault" (context "vault"${vaultKey ? `, key "${vaultKey}"` : ''}); remove it`,
      );
    } else if (/^OPSBOT_SECRET_[A-Z]+$/.test(name) && !ALLOWED_VARIABLES.has(name)) {
      problems.push(
        `environment.${name}: a secret never goes into the task definition; store it in ${secretSource === 'vault' ? 'Vault' : 'Secrets Manager'} (README.md, "Deploy it")`,
      );
    } else if (!ALLOWED_VARIABLES.has(name)) {
      problems.push(
        `environment.${name}: not a setting the container takes (allowed: ${[...ALLOWED_VARIABLES].join(', ')})`,
      );
    } else if (typeof raw !== 'string' && typeof raw !== 'number') {
      problems.push(`environment.${name}: expected a string`);
    } else {
      out[name] = String(raw);
    }
  }
  return out;
}
