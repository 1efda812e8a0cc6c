import { createHmac, randomBytes } from 'node:crypto';
import { envVariableFor } from '../config/secret-variables.js';
import type { Env } from '../config.js';
import { SecretValue } from '../log/secret-value.js';
import {
  integrationOfSecretName,
  type SecretDescription,
  type SecretSource,
  SecretSourceError,
  type SecretVersion,
  STAGE,
} from './source.js';

export interface EnvSourceOptions {
  /** Usually process.env; read on every call. */
  env: Env;
  /** OPSBOT_SECRET_PREFIX: secret names are `<prefix><integration>`, as for Secrets Manager. */
  prefix?: string;
  /** The secrets opsbot knows (the catalog's names); any other name is not found. */
  names: readonly string[];
}

/**
 * Secrets from environment variables (`OPSBOT_SECRET_<INTEGRATION>` holds the JSON), for local runs
 * and platforms that inject secrets as variables. There is one version, AWSCURRENT; its id is an
 * HMAC of the value under a key drawn when the source is created, so it is stable while the process
 * runs, changes on restart, and cannot be used to confirm a guessed value offline.
 *
 * @example
 * const source = createEnvSource({ env: process.env, prefix: 'opsbot/' });
 * await source.describe('opsbot/slack'); // reads OPSBOT_SECRET_SLACK
 */
export function createEnvSource(options: EnvSourceOptions): SecretSource {
  const prefix = options.prefix ?? 'opsbot/';
  const versionKey = randomBytes(32);

  function load(name: string): { variable: string; text: string; versionId: string } {
    const integration = integrationOf(name, prefix, options.names);
    const variable = envVariableFor(integration);
    const text = options.env[variable];
    if (text === undefined || text.trim() === '') {
      throw new SecretSourceError(
        'not_found',
        name,
        `${name}: ${variable} is not set (or empty); set it to the ${integration} secret as JSON ` +
          '(README.md, "Secrets") to enable the integration',
      );
    }
    const versionId = `env-${createHmac('sha256', versionKey).update(text).digest('hex').slice(0, 16)}`;
    return { variable, text, versionId };
  }

  return {
    kind: 'env',
    async describe(name): Promise<SecretDescription> {
      const { variable, versionId } = load(name);
      return { name, arn: `env:${variable}`, versions: new Map([[versionId, [STAGE.current]]]) };
    },
    async getVersion(name, versionId): Promise<SecretVersion> {
      const { variable, text, versionId: currentId } = load(name);
      if (versionId !== currentId) {
        throw new SecretSourceError(
          'not_found',
          name,
          `${name}: version ${versionId} is gone; ${variable} changed since it was described`,
        );
      }
      return {
        name,
        arn: `env:${variable}`,
        versionId,
        stages: [STAGE.current],
        secretString: new SecretValue(text),
      };
    },
  };
}

function integrationOf(name: string, prefix: string, known: readonly string[]): string {
  const integration = integrationOfSecretName(name, prefix, known);
  if (!integration) {
    throw new SecretSourceError(
      'not_found',
      name,
      `${name}: the env source knows only ${known.map((i) => `${prefix}${i}`).join(', ')} ` +
        `(variables ${known.map(envVariableFor).join(', ')})`,
    );
  }
  return integration;
}
