import { type Config, type Env, loadConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { datadogConfig } from '../integrations/datadog-config.js';

/** The secrets the intake reads: Datadog's (the webhook header) and the audit chain key. */
export const INTAKE_SECRETS = ['datadog', 'audit'] as const;

export type IntakeConfig = Config & { state: { kind: 'dynamodb'; table: string } };

/**
 * The intake function's settings, read by the server's own loader from the same variables
 * (README.md, "Configure it": `OPSBOT_STATE`, `OPSBOT_SECRET_*`, `OPSBOT_DATADOG_SITE`, `LOG_LEVEL`,
 * `AWS_REGION`), with no configuration file: routes are the bot's, and access rules do not apply
 * to a webhook. Every problem is thrown at once as a {@link ConfigError}.
 */
export function intakeConfig(env: Env): IntakeConfig {
  const config = loadConfig(env, {
    sections: [datadogConfig],
    secretNames: INTAKE_SECRETS,
    // No file is read: OPSBOT_CONFIG means nothing here.
    readFile: () => '',
  });
  if (config.state.kind !== 'dynamodb')
    throw new ConfigError([
      'OPSBOT_STATE: the intake function stores alerts where the bot reads them: expected dynamodb:TABLE, the table of the bot',
    ]);
  return config as IntakeConfig;
}
