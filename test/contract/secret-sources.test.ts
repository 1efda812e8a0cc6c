import { afterAll, describe, vi } from 'vitest';
import { startMoto, warnMotoMissing } from '../helpers/moto.js';
import { openAwsMotoDriver, openAwsSandboxDriver } from '../helpers/source-drivers/aws.js';
import { openEnvDriver } from '../helpers/source-drivers/env.js';
import { openFileDriver } from '../helpers/source-drivers/file.js';
import { openVaultDriver } from '../helpers/source-drivers/vault.js';
import { describeSecretSourceContract } from './secret-source-contract.js';

// The property cases make a few hundred calls to moto (~5 ms each: it closes the connection after each).
vi.setConfig({ testTimeout: 60_000 });

const moto = await startMoto();
if (!moto) warnMotoMissing('the SecretSource contract (test/contract/secret-sources.test.ts)');
afterAll(async () => {
  await moto?.stop();
});

const NO_LABELS = 'an operator cannot put a staging label on a version of this source';

// Secrets Manager twice: moto_server (an independent implementation) and the sandbox's simulation,
// so neither the sandbox nor the aws source can drift into agreeing with the other's bugs.
describe.skipIf(!moto)('aws source (moto)', () => {
  describeSecretSourceContract('aws (moto)', () => openAwsMotoDriver(moto?.url ?? ''));
});
describeSecretSourceContract('aws (sandbox)', openAwsSandboxDriver);
describeSecretSourceContract('vault', openVaultDriver, {
  fieldsOnly: "Vault's KV v2 stores a secret's fields, never a bare string",
});
describeSecretSourceContract('file', openFileDriver, { noEmergencyLabel: NO_LABELS });
describeSecretSourceContract('env', openEnvDriver, {
  noOutage: 'the variables are read from memory: the source cannot be unavailable',
  noEmergencyLabel: NO_LABELS,
});
