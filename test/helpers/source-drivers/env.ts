import { envVariableFor } from '../../../src/config/secret-variables.js';
import type { Env } from '../../../src/config.js';
import { createEnvSource } from '../../../src/credentials/env-source.js';
import type { SourceDriver } from '../../contract/secret-source-contract.js';
import { SECRET_NAMES } from '../catalog.js';

/**
 * The `env` source over an environment object of its own (the source reads it on every call, as it
 * reads process.env): a put sets `OPSBOT_SECRET_<INTEGRATION>`, a remove deletes it. It keeps one
 * version only and cannot be unavailable (no `outage`).
 */
export async function openEnvDriver(): Promise<SourceDriver> {
  const env: Env = {};
  const prefix = 'opsbot/';
  const variableOf = (name: string) => envVariableFor(name.slice(prefix.length));
  return {
    source: createEnvSource({ env, prefix, names: SECRET_NAMES }),
    prefix,
    async put(name, secretString) {
      env[variableOf(name)] = secretString;
    },
    async remove(name) {
      delete env[variableOf(name)];
    },
    previousVersions: 0,
    async close() {},
  };
}
