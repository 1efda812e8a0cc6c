import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { CONFIG_SECTIONS } from '../../src/features.js';
import { containerEnvironment } from './container-environment.js';
import type { OpsbotSettings } from './context.js';

/** What the stack needs from the configuration file baked into the image. */
export interface DeployedConfig {
  /** Instance types the templates use: the only ones the dev-env role may launch. */
  instanceTypes: string[];
  /** `devenv.roleArn`, when set. */
  roleArn?: string;
  /** Things worth a synth-time warning. */
  warnings: string[];
}

export class ConfigFileError extends Error {
  constructor(file: string, problems: readonly string[]) {
    super(
      `opsbot infra: the configuration file ${file} (context "configFile") would not work in this deployment:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigFileError';
  }
}

/** The dev-env role's name: fixed, so that the configuration file can name it before the stack exists. */
export const devenvRoleName = (stackName: string): string => `${stackName}-devenv`;
/** The launch template's name, which `devenv.templates.*.launchTemplate` names. */
export const launchTemplateName = (stackName: string): string => `${stackName}-devenv`;

/**
 * Loads the configuration file with the bot's own loader (`src/config.ts`), together with the
 * environment the container will get, so that a file or a setting the bot would refuse fails the
 * synth instead of the deployment. Then checks that `devenv` names what this stack creates: the
 * role `<stackName>-devenv` (in `account`, when known) and the launch template `<stackName>-devenv`.
 *
 * @throws ConfigFileError listing every problem.
 */
export function checkConfigFile(settings: OpsbotSettings): DeployedConfig {
  const env = {
    ...containerEnvironment(settings, 'opsbot-state-table'),
    OPSBOT_CONFIG: settings.configPath,
    AWS_REGION: settings.region ?? 'us-east-1',
  };
  let file: ReturnType<typeof loadConfig>['file'];
  try {
    file = loadConfig(env, { sections: CONFIG_SECTIONS }).file;
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigFileError(settings.configFile, error.problems);
    throw error;
  }

  const problems: string[] = [];
  const warnings: string[] = [];
  const { roleArn, templates } = file.devenv;
  const roleName = devenvRoleName(settings.stackName);
  const ltName = launchTemplateName(settings.stackName);
  const names = Object.keys(templates);

  // Without devenv.roleArn in the file, the container gets the stack's role as OPSBOT_DEVENV_ROLE_ARN
  // (which wins over the file anyway); a roleArn the file does name must still be this stack's role.
  if (roleArn) {
    const match = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(.+)$/.exec(roleArn);
    const [, , account, name] = match ?? [];
    if (name !== roleName)
      problems.push(`devenv.roleArn: this stack creates the role ${roleName}; the file names "${name}"`);
    if (settings.account && account !== settings.account)
      problems.push(
        `devenv.roleArn: the stack deploys to account ${settings.account}; the file names ${account}`,
      );
    if (!settings.account)
      warnings.push(
        `devenv.roleArn names account ${account}; with no "account" context this cannot be checked before the deployment. Set -c account=<id>.`,
      );
  }
  for (const name of names) {
    const t = templates[name];
    if (t && t.launchTemplate !== ltName)
      problems.push(
        `devenv.templates.${name}.launchTemplate: this stack creates the launch template "${ltName}" (IMDSv2, encrypted volume, SSM, no key pair) and the dev-env role may launch from it only; got "${t.launchTemplate}"`,
      );
  }
  if (problems.length > 0) throw new ConfigFileError(settings.configFile, problems);

  const instanceTypes = [...new Set(Object.values(templates).map((t) => t.instanceType))].sort();
  return { instanceTypes, ...(roleArn ? { roleArn } : {}), warnings };
}
