import { existsSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { readEnvironment } from './container-environment.js';
import { type IntakeSettings, readIntake } from './intake-context.js';
import { REPO_ROOT } from './paths.js';
import { ROTATED_SECRETS } from './rotated-secrets.js';
import { type RotationSettings, readRotation } from './rotation-context.js';
import { readSecretSource, readVault, type SecretSourceName, type VaultDeployment } from './vault-context.js';

/**
 * The deployment's settings, read from CDK context (`infra/cdk.json` "context" holds the defaults;
 * `cdk synth -c key=value` or a `cdk.context.json` overrides them). Every problem is reported at once,
 * naming the key and what it expects, like the bot's own configuration errors.
 */
export interface OpsbotSettings {
  /** `stackName` (default `opsbot`): the CloudFormation stack; also names the dev-env role and launch template. */
  stackName: string;
  /** `account` / `region` (default empty: an environment-agnostic template). */
  account?: string;
  region?: string;
  /** `slackMode` (default `socket`): `socket` (no inbound traffic at all) or `http` (an HTTPS load balancer). */
  slackMode: 'socket' | 'http';
  /** `certificateArn`: the ACM certificate of the HTTPS listener; required when `slackMode` is `http`. */
  certificateArn?: string;
  /**
   * `domainName` (http mode; default none): the DNS name on the certificate, pointing at the load
   * balancer. EventBridge delivers CloudTrail events to `https://<domainName>/webhooks/aws-events`;
   * without it, to the load balancer's own name, which the certificate does not cover.
   */
  domainName?: string;
  /** `httpIngressCidrs` (default `["0.0.0.0/0"]`): who may reach the load balancer on 443 (http mode). */
  httpIngressCidrs: string[];
  /** `desiredCount` (default 2): running tasks. */
  desiredCount: number;
  /** `cpu` (default 512) and `memoryMiB` (default 1024): the Fargate task size. */
  cpu: number;
  memoryMiB: number;
  /** `logRetentionDays` (default and minimum 365): container logs, VPC flow logs and load balancer access logs. */
  logRetentionDays: number;
  /** `secretPrefix` (default `opsbot/`): secret names are `<prefix>slack` … `<prefix>audit` (OPSBOT_SECRET_PREFIX). */
  secretPrefix: string;
  /**
   * `secretsAdminRole` (default `opsbot-secrets-admin`): the only principal, besides CloudFormation,
   * that may write the secrets. A role name in the deployment account, or a full role ARN.
   */
  secretsAdminRole: string;
  /**
   * `deployRoleArn` (default empty: the CDK bootstrap's CloudFormation execution role): the role
   * CloudFormation deploys with, which must keep managing the secrets.
   */
  deployRoleArn?: string;
  /** `configFile` (default `infra/opsbot.example.yaml`): the OPSBOT_CONFIG file baked into the image, relative to the repository. */
  configFile: string;
  /** The same, absolute. */
  configPath: string;
  /** `natGateways` (default 1): NAT gateways of the VPC the stack creates (ignored with `vpc`). */
  natGateways: number;
  /** `vpc` (default none: the stack creates one): an existing VPC, given without lookups. */
  vpc?: ExistingVpc;
  /** `devenvVolumeGiB` (default 20): the dev environments' encrypted root volume. */
  devenvVolumeGiB: number;
  /** `devenvAmiParameter`: the public SSM parameter naming the dev environments' AMI (Amazon Linux 2023). */
  devenvAmiParameter: string;
  /** `environment` (default `{}`): extra non-secret settings for the container (OPSBOT_JIRA_URL, LOG_LEVEL, …). */
  environment: Record<string, string>;
  /**
   * `rotation` (default: audit every 90 days, datadog every 30, the others on demand only): when
   * Secrets Manager runs opsbot's rotation function on each secret (lib/rotation-context.ts).
   */
  rotation: RotationSettings;
  /**
   * `intake` (default: on, no reserved concurrency): the Datadog intake function of Socket Mode with
   * Secrets Manager (lib/intake-context.ts).
   */
  intake: IntakeSettings;
  /**
   * `secretSource` (default `aws`): `aws` (the stack creates the Secrets Manager secrets, their key and
   * rotation) or `vault` (none of that: the bot reads HashiCorp Vault or OpenBao, context `vault`).
   */
  secretSource: SecretSourceName;
  /** `vault`: the Vault server and AWS auth role; required with `secretSource` `vault` (lib/vault-context.ts). */
  vault?: VaultDeployment;
}

export interface ExistingVpc {
  vpcId: string;
  availabilityZones: string[];
  privateSubnetIds: string[];
  publicSubnetIds: string[];
}

/** Context keys this app reads; any other plain key is most likely a typo. */
export const CONTEXT_KEYS = [
  'stackName',
  'account',
  'region',
  'slackMode',
  'certificateArn',
  'domainName',
  'httpIngressCidrs',
  'desiredCount',
  'cpu',
  'memoryMiB',
  'logRetentionDays',
  'secretPrefix',
  'secretsAdminRole',
  'deployRoleArn',
  'configFile',
  'natGateways',
  'vpc',
  'devenvVolumeGiB',
  'devenvAmiParameter',
  'environment',
  'rotation',
  'intake',
  'secretSource',
  'vault',
] as const;

/** The shortest retention AWS Control Tower's proactive controls accept (CT.CLOUDWATCH.PR.2): a year. */
export const MIN_RETENTION_DAYS = 365;

/** CloudWatch Logs retention values (days). */
const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export class ContextError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(
      `opsbot infra: ${problems.length} context problem${problems.length > 1 ? 's' : ''} (infra/cdk.json "context", or cdk -c key=value):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ContextError';
    this.problems = problems;
  }
}

/** Reads a context value; `-c key=value` gives strings, cdk.json gives JSON values. */
export type ContextReader = (key: string) => unknown;

/**
 * Reads and validates every setting. `keys` are the context keys present (for the typo check).
 *
 * @throws ContextError listing every problem.
 */
export function readSettings(get: ContextReader, keys: readonly string[] = []): OpsbotSettings {
  const problems: string[] = [];
  const known = new Set<string>(CONTEXT_KEYS);
  for (const key of keys) {
    if (/^[a-z][A-Za-z0-9]*$/.test(key) && !known.has(key))
      problems.push(`${key}: not a setting of this app (known: ${CONTEXT_KEYS.join(', ')})`);
  }

  const text = (key: string, fallback?: string): string | undefined => {
    const v = get(key);
    if (v === undefined || v === null || v === '') return fallback;
    if (typeof v !== 'string') {
      problems.push(`${key}: expected a string, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v.trim();
  };
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const v = get(key);
    if (v === undefined || v === null || v === '') return fallback;
    const n =
      typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return n;
  };
  const json = (key: string): unknown => {
    const v = get(key);
    if (typeof v !== 'string') return v;
    const t = v.trim();
    if (t === '') return undefined;
    if (!t.startsWith('[') && !t.startsWith('{')) return v;
    try {
      return JSON.parse(t);
    } catch {
      problems.push(`${key}: not valid JSON: ${t.slice(0, 60)}`);
      return undefined;
    }
  };
  const strings = (key: string, value: unknown): string[] | undefined => {
    if (Array.isArray(value) && value.every((s) => typeof s === 'string' && s.trim() !== ''))
      return value.map((s: string) => s.trim());
    problems.push(`${key}: expected a list of strings, got ${JSON.stringify(value)}`);
    return undefined;
  };

  const stackName = text('stackName', 'opsbot') as string;
  if (!/^[A-Za-z][A-Za-z0-9-]{0,40}$/.test(stackName))
    problems.push(
      `stackName: expected letters, digits and hyphens, starting with a letter, at most 41 characters (it also names the dev-env role), got "${stackName}"`,
    );

  const account = text('account');
  if (account !== undefined && !/^\d{12}$/.test(account))
    problems.push(`account: expected a 12-digit AWS account id, got "${account}"`);
  const region = text('region');
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
    problems.push(`region: expected an AWS region such as eu-west-1, got "${region}"`);

  const slackMode = text('slackMode', 'socket');
  if (slackMode !== 'socket' && slackMode !== 'http')
    problems.push(
      `slackMode: expected "socket" (no inbound traffic) or "http" (HTTPS load balancer), got "${slackMode}"`,
    );
  const certificateArn = text('certificateArn');
  if (slackMode === 'http' && certificateArn === undefined)
    problems.push(
      'certificateArn: required when slackMode is "http" (the ACM certificate of the HTTPS listener, in the stack\'s region)',
    );
  if (slackMode === 'http' && region === undefined)
    problems.push(
      'region: required when slackMode is "http" (the load balancer\'s access logging is set up for one region; the certificate lives there too)',
    );
  const certificate =
    certificateArn && /^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate\/[\w-]+$/.exec(certificateArn);
  if (certificateArn !== undefined && !certificate)
    problems.push(
      `certificateArn: expected an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>), got "${certificateArn}"`,
    );
  else if (certificate && region !== undefined && certificate[1] !== region)
    problems.push(
      `certificateArn: the certificate is in ${certificate[1]}; the load balancer needs one in ${region}`,
    );

  const domainName = text('domainName')?.toLowerCase();
  if (domainName !== undefined && slackMode !== 'http')
    problems.push(
      'domainName: read only with slackMode "http" (Socket Mode has no inbound path); add -c slackMode=http, or remove it',
    );
  else if (domainName !== undefined && !isDomainName(domainName))
    problems.push(
      `domainName: expected the DNS name on the certificate, such as opsbot.example.com (no scheme, no path), got "${domainName}"`,
    );

  const cidrsValue = json('httpIngressCidrs') ?? ['0.0.0.0/0'];
  const httpIngressCidrs = strings('httpIngressCidrs', cidrsValue) ?? ['0.0.0.0/0'];
  for (const cidr of httpIngressCidrs) {
    if (!/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(cidr))
      problems.push(`httpIngressCidrs: "${cidr}" is not an IPv4 CIDR such as 0.0.0.0/0`);
  }

  const desiredCount = int('desiredCount', 2, 0, 20);
  const cpu = int('cpu', 512, 256, 16384);
  const memoryMiB = int('memoryMiB', 1024, 512, 122880);
  const logRetentionDays = int('logRetentionDays', MIN_RETENTION_DAYS, 1, 3653);
  if (logRetentionDays < MIN_RETENTION_DAYS || !RETENTION_DAYS.includes(logRetentionDays))
    problems.push(
      `logRetentionDays: expected one of CloudWatch's values from ${MIN_RETENTION_DAYS} (AWS Control Tower's CT.CLOUDWATCH.PR.2 refuses log groups kept less than a year): ${RETENTION_DAYS.filter((d) => d >= MIN_RETENTION_DAYS).join(', ')}`,
    );

  const secretPrefix = text('secretPrefix', 'opsbot/') as string;
  if (!/^[A-Za-z0-9/_+=.@-]{1,100}$/.test(secretPrefix))
    problems.push(
      `secretPrefix: expected a Secrets Manager name prefix such as opsbot/, got "${secretPrefix}"`,
    );

  const secretsAdminRole = text('secretsAdminRole', 'opsbot-secrets-admin') as string;
  if (
    !/^[\w+=,.@-]{1,64}$/.test(secretsAdminRole) &&
    !/^arn:aws[a-z-]*:iam::\d{12}:role\/([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/.test(secretsAdminRole)
  )
    problems.push(
      `secretsAdminRole: expected a role name in the deployment account or a role ARN, got "${secretsAdminRole}"`,
    );

  const deployRoleArn = text('deployRoleArn');
  if (deployRoleArn !== undefined && !/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(deployRoleArn))
    problems.push(`deployRoleArn: expected a role ARN, got "${deployRoleArn}"`);

  const configFile = text('configFile', 'infra/opsbot.example.yaml') as string;
  const configPath = resolve(REPO_ROOT, configFile);
  const inside = relative(REPO_ROOT, configPath);
  if (isAbsolute(configFile) || inside.startsWith('..') || !/\.ya?ml$/.test(configFile))
    problems.push(
      `configFile: expected a .yaml file inside the repository, relative to its root (it is copied into the image), got "${configFile}"`,
    );
  else if (!existsSync(configPath) || !statSync(configPath).isFile())
    problems.push(`configFile: ${configFile} does not exist (relative to the repository root)`);

  const natGateways = int('natGateways', 1, 0, 3);

  let vpc: ExistingVpc | undefined;
  const vpcValue = json('vpc');
  if (vpcValue !== undefined && vpcValue !== null) {
    vpc = readVpc(vpcValue, problems, slackMode === 'http');
  } else if (natGateways === 0) {
    problems.push(
      'natGateways: 0 leaves the tasks no way to reach Slack and AWS; use 1 or more, or give a vpc',
    );
  }

  const devenvVolumeGiB = int('devenvVolumeGiB', 20, 8, 1024);
  const devenvAmiParameter = text(
    'devenvAmiParameter',
    '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
  ) as string;
  if (!/^\/[\w./-]+$/.test(devenvAmiParameter))
    problems.push(
      `devenvAmiParameter: expected an SSM parameter name such as /aws/service/…, got "${devenvAmiParameter}"`,
    );

  const secretSource = readSecretSource(get('secretSource'), problems);
  const beforeVault = problems.length;
  const vaultValue = json('vault');
  const vaultUnreadable = problems.length > beforeVault;
  let vault: VaultDeployment | undefined;
  if (secretSource === 'vault') {
    if (!vaultUnreadable) vault = readVault(vaultValue, problems);
  } else if (vaultValue !== undefined && vaultValue !== null)
    problems.push('vault: read only with secretSource "vault"; add -c secretSource=vault, or remove it');

  const environment = readEnvironment(json('environment'), problems, secretSource);
  const rotation = readRotation(json('rotation'), ROTATED_SECRETS, problems);
  const intake = readIntake(json('intake'), problems);

  if (problems.length > 0) throw new ContextError(problems);
  return {
    stackName,
    ...(account ? { account } : {}),
    ...(region ? { region } : {}),
    slackMode: slackMode as 'socket' | 'http',
    ...(certificateArn ? { certificateArn } : {}),
    ...(domainName ? { domainName } : {}),
    httpIngressCidrs,
    desiredCount,
    cpu,
    memoryMiB,
    logRetentionDays,
    secretPrefix,
    secretsAdminRole,
    ...(deployRoleArn ? { deployRoleArn } : {}),
    configFile: inside,
    configPath,
    natGateways,
    ...(vpc ? { vpc } : {}),
    devenvVolumeGiB,
    devenvAmiParameter,
    environment,
    rotation,
    intake,
    secretSource,
    ...(vault ? { vault } : {}),
  };
}

/** A fully qualified host name: dot-separated labels of letters, digits and inner hyphens, a letter TLD. */
export function isDomainName(name: string): boolean {
  if (name.length > 253) return false;
  const labels = name.split('.');
  return (
    labels.length >= 2 &&
    labels.every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(l)) &&
    /^[a-z]{2,63}$/.test(labels[labels.length - 1] ?? '')
  );
}

function readVpc(value: unknown, problems: string[], needsPublic: boolean): ExistingVpc | undefined {
  const shape =
    'expected { "vpcId": "vpc-…", "availabilityZones": [...], "privateSubnetIds": [...], "publicSubnetIds": [...] }';
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`vpc: ${shape}`);
    return undefined;
  }
  const v = value as Record<string, unknown>;
  const list = (key: string, pattern: RegExp): string[] => {
    const items = v[key] ?? [];
    if (!Array.isArray(items) || !items.every((s) => typeof s === 'string' && pattern.test(s))) {
      problems.push(`vpc.${key}: ${shape}`);
      return [];
    }
    return items as string[];
  };
  const vpcId = typeof v.vpcId === 'string' && /^vpc-[0-9a-f]+$/.test(v.vpcId) ? v.vpcId : undefined;
  if (!vpcId) problems.push(`vpc.vpcId: expected a VPC id such as vpc-0123abcd`);
  for (const key of Object.keys(v)) {
    if (!['vpcId', 'availabilityZones', 'privateSubnetIds', 'publicSubnetIds'].includes(key))
      problems.push(`vpc.${key}: unknown key; ${shape}`);
  }
  const availabilityZones = list('availabilityZones', /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/);
  const privateSubnetIds = list('privateSubnetIds', /^subnet-[0-9a-f]+$/);
  const publicSubnetIds = list('publicSubnetIds', /^subnet-[0-9a-f]+$/);
  if (availabilityZones.length < 2) problems.push('vpc.availabilityZones: name at least two zones');
  if (privateSubnetIds.length !== availabilityZones.length)
    problems.push(
      'vpc.privateSubnetIds: one private subnet (with a route to the internet through NAT) per availability zone',
    );
  if (needsPublic && publicSubnetIds.length !== availabilityZones.length)
    problems.push(
      'vpc.publicSubnetIds: one public subnet per availability zone (the load balancer, http mode)',
    );
  return vpcId ? { vpcId, availabilityZones, privateSubnetIds, publicSubnetIds } : undefined;
}
