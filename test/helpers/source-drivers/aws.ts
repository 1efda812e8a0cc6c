import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { createAwsSource } from '../../../src/credentials/aws-source.js';
import { STAGE } from '../../../src/credentials/source.js';
import { SimulatedSecretsManager } from '../../../src/sandbox/secrets-manager.js';
import type { SourceDriver } from '../../contract/secret-source-contract.js';
import { startTcpGate } from './tcp-gate.js';

/** Test credentials for the emulators (never real ones: they check a signature's presence only). */
const CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' };

/** The `aws` source as from-config.ts builds it, pointed at `endpoint`; one attempt per call, as in awsProviderRig. */
function awsSource(endpoint: string) {
  return createAwsSource({
    region: 'us-east-1',
    clientConfig: { endpoint, credentials: CREDENTIALS, maxAttempts: 1 },
  });
}

/** Writes secrets as an operator (or a rotation function) would: CreateSecret, then PutSecretValue. */
function adminOf(endpoint: string) {
  const client = new SecretsManagerClient({ endpoint, region: 'us-east-1', credentials: CREDENTIALS });
  const created = new Set<string>();
  return {
    client,
    async put(name: string, secretString: string): Promise<void> {
      if (created.has(name)) {
        await client.send(
          new PutSecretValueCommand({
            SecretId: name,
            SecretString: secretString,
            ClientRequestToken: randomUUID(),
          }),
        );
        return;
      }
      await client.send(new CreateSecretCommand({ Name: name, SecretString: secretString }));
      created.add(name);
    },
    forget(name: string): void {
      created.delete(name);
    },
    /** `aws secretsmanager update-secret-version-stage --version-stage OPSBOT_EMERGENCY` on AWSCURRENT. */
    async markEmergency(name: string): Promise<void> {
      const out = await client.send(new DescribeSecretCommand({ SecretId: name }));
      const current = Object.entries(out.VersionIdsToStages ?? {}).find(([, s]) => s.includes(STAGE.current));
      if (!current) throw new Error(`${name} has no AWSCURRENT version to mark`);
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: STAGE.emergency,
          MoveToVersionId: current[0],
        }),
      );
    },
  };
}

/**
 * The `aws` source against moto_server (shared by the whole file: a fresh prefix per driver). The
 * source reaches moto through a TCP gate, so an outage is moto becoming unreachable (connections cut).
 */
export async function openAwsMotoDriver(motoUrl: string): Promise<SourceDriver> {
  const gate = await startTcpGate(motoUrl);
  const source = awsSource(gate.url);
  const admin = adminOf(motoUrl);
  return {
    source,
    prefix: `c-${randomUUID().slice(0, 8)}/`,
    put: (name, secretString) => admin.put(name, secretString),
    async remove(name) {
      await admin.client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
      admin.forget(name);
    },
    outage: {
      begin: async () => gate.shut(),
      end: async () => gate.open(),
    },
    markEmergency: (name) => admin.markEmergency(name),
    previousVersions: 1,
    async close() {
      source.close?.();
      admin.client.destroy();
      await gate.stop();
    },
  };
}

/** The calls the `aws` source makes: an outage fails these, and the operator's writes still go through. */
const SOURCE_APIS = ['DescribeSecret', 'GetSecretValue'] as const;

/**
 * The `aws` source against the simulated Secrets Manager of src/sandbox (one per driver). An outage
 * is the sandbox answering 500 InternalServiceError to every call of the source. The sandbox has no
 * DeleteSecret, so `remove` makes every call of the source about that secret answer
 * ResourceNotFoundException, as after a deletion (such a secret cannot be put again).
 */
export async function openAwsSandboxDriver(): Promise<SourceDriver> {
  const sm = new SimulatedSecretsManager();
  const { url } = await sm.start();
  const source = awsSource(url);
  const admin = adminOf(url);
  const removed = new Set<string>();
  let down = false;
  const plan = () => {
    sm.faults.clear();
    for (const secret of removed)
      for (const api of SOURCE_APIS) sm.faults.set({ kind: 'not_found', api, secret });
    if (down) for (const api of SOURCE_APIS) sm.faults.set({ kind: '5xx', api });
  };
  return {
    source,
    prefix: 'opsbot/',
    async put(name, secretString) {
      if (removed.has(name)) throw new Error(`the sandbox cannot put ${name} again after removing it`);
      await admin.put(name, secretString);
    },
    async remove(name) {
      removed.add(name);
      plan();
    },
    outage: {
      async begin() {
        down = true;
        plan();
      },
      async end() {
        down = false;
        plan();
      },
    },
    markEmergency: (name) => admin.markEmergency(name),
    previousVersions: 1,
    async close() {
      source.close?.();
      admin.client.destroy();
      await sm.stop();
    },
  };
}
