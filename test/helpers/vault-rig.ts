import { randomBytes } from 'node:crypto';
import { SimulatedSts } from '../../src/sandbox/aws-sts.js';
import { SimulatedVault, type SimulatedVaultOptions } from '../../src/sandbox/vault.js';
import { vaultSpecCheck } from './vault-spec.js';

/** The ECS task role opsbot runs as, and the session ARN STS answers GetCallerIdentity with. */
export const TASK_ROLE_ARN = 'arn:aws:iam::123456789012:role/opsbot-task';
export const TASK_SESSION_ARN = 'arn:aws:sts::123456789012:assumed-role/opsbot-task/3f9c2e1d';

/** The policy README's "Secrets from Vault" gives opsbot: read on its prefix's data and metadata, nothing else. */
export const OPSBOT_POLICY_RULES = [
  { path: 'secret/data/opsbot/*', capabilities: ['read' as const] },
  { path: 'secret/metadata/opsbot/*', capabilities: ['read' as const] },
];

export interface VaultRig {
  vault: SimulatedVault;
  sts: SimulatedSts;
  /** The task role's credentials, as the SDK's default chain would find them (made at run time). */
  credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string }>;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

/**
 * A simulated Vault held to Vault's API description (every request validated against it), with a
 * simulated STS that verifies signatures for real behind its AWS login, set up as README's
 * "Secrets from Vault" says: KV v2 at `secret`, the `opsbot` policy, an AWS auth role `opsbot`
 * bound to the task role and a Kubernetes role `opsbot` for the `opsbot` service account.
 */
export async function startVaultRig(
  options: Omit<SimulatedVaultOptions, 'stsEndpoint' | 'checkRequest'> & {
    ttlSeconds?: number;
    maxTtlSeconds?: number;
    namespace?: string;
  } = {},
): Promise<VaultRig> {
  const sts = new SimulatedSts(options.now ? { now: options.now } : {});
  await sts.start();
  const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(30).toString('base64');
  sts.addCredentials(accessKeyId, secretAccessKey, { arn: TASK_SESSION_ARN });
  const vault = new SimulatedVault({ ...options, stsEndpoint: sts.url, checkRequest: vaultSpecCheck });
  await vault.start();
  const ns = options.namespace ?? '';
  vault.enableKvV2('secret', ns);
  vault.putPolicy('opsbot', OPSBOT_POLICY_RULES, ns);
  const ttl = {
    ...(options.ttlSeconds !== undefined ? { ttlSeconds: options.ttlSeconds } : {}),
    ...(options.maxTtlSeconds !== undefined ? { maxTtlSeconds: options.maxTtlSeconds } : {}),
  };
  vault.putAwsRole(
    'opsbot',
    { boundIamPrincipalArns: [TASK_ROLE_ARN], policies: ['opsbot'], ...ttl },
    { ns },
  );
  vault.putKubernetesRole(
    'opsbot',
    { serviceAccountNames: ['opsbot'], namespaces: ['ops'], policies: ['opsbot'], ...ttl },
    { ns },
  );
  return {
    vault,
    sts,
    accessKeyId,
    secretAccessKey,
    credentials: async () => ({ accessKeyId, secretAccessKey }),
    async stop() {
      await vault.stop();
      await sts.stop();
    },
  };
}
