import { Fn } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { VaultDeployment } from './vault-context.js';

/** The Vault policy the README's "Secrets from Vault" has the operator write for opsbot. */
export const VAULT_POLICY = 'opsbot';

/**
 * Lets the tasks reach Vault: 443 is open already (HTTPS to Slack, vendors and AWS APIs), so only
 * another port gets a rule of its own, to the same destinations (a Vault's address may change
 * behind its name, as Slack's and AWS's do).
 */
export function allowVaultEgress(securityGroup: ec2.SecurityGroup, vault: VaultDeployment): void {
  if (vault.port === 443) return;
  securityGroup.addEgressRule(
    ec2.Peer.anyIpv4(),
    ec2.Port.tcp(vault.port),
    `HTTPS to Vault (${new URL(vault.addr).hostname})`,
  );
}

/** `auth/<mount>/role/<role>`, with `-namespace=` when the role lives in a namespace. */
function rolePath(vault: VaultDeployment): string {
  const namespace = vault.namespace ? `-namespace=${vault.namespace} ` : '';
  return `${namespace}auth/${vault.authMount ?? 'aws'}/role/${vault.role}`;
}

/**
 * The `TaskRoleArn` output's description with the `vault` source: what the operator runs in Vault
 * so that the task role logs in as `vault.role` (CloudFormation takes a literal description).
 */
export function bindTaskRoleDescription(vault: VaultDeployment): string {
  return `The task role. Bind it in Vault (the VaultAuthRole output is this command, filled in): vault write ${rolePath(vault)} auth_type=iam bound_iam_principal_arn=<this ARN> policies=${VAULT_POLICY}`;
}

/** The `vault write` command that binds `vault.role` to the task role, the ARN filled in at deploy time. */
export function bindTaskRoleCommand(vault: VaultDeployment, taskRoleArn: string): string {
  return Fn.join('', [
    `vault write ${rolePath(vault)} auth_type=iam bound_iam_principal_arn=`,
    taskRoleArn,
    ` policies=${VAULT_POLICY}`,
  ]);
}
