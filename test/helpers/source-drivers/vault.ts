import { VaultHttp } from '../../../src/credentials/vault/http.js';
import { awsIamLogin } from '../../../src/credentials/vault/login.js';
import { VaultSession } from '../../../src/credentials/vault/session.js';
import { createVaultSource } from '../../../src/credentials/vault/source.js';
import { SecretRedactor } from '../../../src/log.js';
import type { SourceDriver } from '../../contract/secret-source-contract.js';
import { captureLogs } from '../log-capture.js';
import { startVaultRig } from '../vault-rig.js';

/**
 * The `vault` source against the simulated Vault (requests held to Vault's API description),
 * logged in with the AWS IAM method through the simulated STS, as in production. A put writes a new
 * KV version of the value's fields; a remove deletes the secret's metadata (every version); an
 * outage seals the server; an emergency destroys every version before the current one (what an
 * operator does in Vault when old values leaked: they are then never accepted, not even in a grace).
 */
export async function openVaultDriver(): Promise<SourceDriver> {
  const rig = await startVaultRig();
  const vault = new VaultHttp({ addr: rig.vault.url });
  const session = new VaultSession({
    vault,
    login: awsIamLogin({ role: 'opsbot', mount: 'aws', stsUrl: rig.sts.url, credentials: rig.credentials }),
    clock: { now: () => Date.now(), schedule: () => () => {} },
    log: captureLogs().log,
    masker: new SecretRedactor(),
  });
  const source = createVaultSource({ vault, session, kvMount: 'secret' });
  return {
    source,
    prefix: 'opsbot/',
    async put(name, secretString) {
      const fields = JSON.parse(secretString) as Record<string, unknown>;
      if (!fields || typeof fields !== 'object' || Array.isArray(fields)) {
        throw new Error('Vault holds fields: the value must be a JSON object');
      }
      rig.vault.writeSecret('secret', name, fields);
    },
    async remove(name) {
      rig.vault.deleteMetadata('secret', name);
    },
    outage: {
      async begin() {
        rig.vault.seal();
      },
      async end() {
        rig.vault.unseal();
      },
    },
    async markEmergency(name) {
      const meta = await fetch(`${rig.vault.url}/v1/secret/metadata/${name}`, {
        headers: { 'x-vault-token': await session.token() },
      }).then((r) => r.json() as Promise<{ data: { current_version: number } }>);
      const current = meta.data.current_version;
      const earlier = Array.from({ length: current - 1 }, (_, i) => i + 1);
      if (earlier.length > 0) rig.vault.destroyVersions('secret', name, earlier);
    },
    previousVersions: 1,
    async close() {
      await source.close?.();
      await rig.stop();
    },
  };
}
