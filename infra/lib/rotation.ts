import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { datadogRotationSpec } from '../../src/rotation/datadog.js';
import { EMERGENCY_TAG, FAILURE_TAGS } from '../../src/rotation/tags.js';
import type { OpsbotSettings } from './context.js';
import { ROTATED_SECRETS } from './rotated-secrets.js';
import { ROTATION_HANDLER, rotationFunctionCode } from './rotation-bundle.js';
import type { OpsbotSecrets } from './secrets.js';

/** What a rotation function does with its own secret (AWS's rotation template; src/rotation/secret-store.ts). */
export const ROTATION_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
];
/** What the bot may do to start and follow a rotation: never write a value, never configure rotation. */
export const TASK_ROTATION_ACTIONS = ['secretsmanager:RotateSecret'];
export const TASK_FOLLOW_ACTIONS = ['secretsmanager:DescribeSecret', 'secretsmanager:ListSecretVersionIds'];

/** The variables the rotation function reads besides the prefix (src/rotation/settings.ts), taken from context `environment`. */
export const ROTATION_VARIABLES = [
  'OPSBOT_SLACK_API_URL',
  'OPSBOT_GITHUB_API_URL',
  'OPSBOT_JIRA_URL',
  'OPSBOT_DATADOG_SITE',
  'OPSBOT_DATADOG_API_URL',
  'LOG_LEVEL',
] as const;

/** How long one step may take: vendor calls with their own timeouts and retries (Datadog's keys, Slack's oauth). */
export const ROTATION_TIMEOUT = Duration.seconds(60);
/**
 * With context `rotation.reservedConcurrency`: one execution at a time per secret. Secrets Manager
 * runs a rotation's steps one after another anyway, and every step is idempotent.
 */
export const ROTATION_CONCURRENCY = 1;

export interface SecretRotationProps {
  settings: OpsbotSettings;
  vpc: ec2.IVpc;
  /** The key of the functions' log groups. */
  logKey: kms.IKey;
  taskRole: iam.IRole;
}

/**
 * opsbot's rotation function (src/rotation/lambda.ts), once per rotated secret so that each runs
 * under a role of its own that may touch only that secret (and, for datadog, the `datadog-rotation`
 * keys that make Datadog keys). Built in two steps: the roles first (the secrets' resource policies
 * name them), then {@link SecretRotation.attach} once the secrets exist.
 */
export class SecretRotation extends Construct {
  /** By secret short name. */
  readonly roles: Record<string, iam.Role> = {};
  readonly functions: Record<string, lambda.Function> = {};
  readonly logGroups: Record<string, logs.LogGroup> = {};
  readonly schedules: Record<string, secretsmanager.CfnRotationSchedule> = {};
  readonly securityGroup: ec2.SecurityGroup;
  /** `<prefix>datadog-rotation`, when the datadog secret is rotated. */
  datadogRotation?: secretsmanager.Secret;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: SecretRotationProps,
  ) {
    super(scope, id);
    const { settings } = props;

    // Outbound HTTPS only: Secrets Manager, Datadog, Slack, GitHub, Jira (through the NAT gateway).
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'opsbot rotation functions: no ingress, HTTPS out',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS to Secrets Manager and the vendors',
    );

    const environment: Record<string, string> = { OPSBOT_SECRET_PREFIX: settings.secretPrefix };
    for (const name of ROTATION_VARIABLES) {
      const value = settings.environment[name];
      if (value !== undefined) environment[name] = value;
    }
    const code = rotationFunctionCode();

    for (const name of ROTATED_SECRETS) {
      const title = titleOf(name);
      const role = new iam.Role(this, `${title}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `opsbot rotation of ${settings.secretPrefix}${name}: that secret only${name === 'datadog' ? `, and reads ${settings.secretPrefix}${datadogRotationSpec.name}` : ''}`,
      });
      // A function in a VPC creates its network interfaces (and writes its logs) under its role.
      role.addManagedPolicy(
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'),
      );
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason:
          'A function in a VPC needs to create and delete its network interfaces (ec2:CreateNetworkInterface and friends, which take no resource constraint) and write its logs: AWS maintains exactly that set as AWSLambdaVPCAccessExecutionRole; everything about secrets and keys is in the inline policy, on one secret',
      });
      this.roles[name] = role;

      const logGroup = new logs.LogGroup(this, `${title}Logs`, {
        retention: settings.logRetentionDays as logs.RetentionDays,
        encryptionKey: props.logKey,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      this.logGroups[name] = logGroup;

      const fn = new lambda.Function(this, `${title}Function`, {
        description: `opsbot: rotates ${settings.secretPrefix}${name} (Secrets Manager's four steps)`,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.X86_64,
        code,
        handler: ROTATION_HANDLER,
        role,
        environment,
        timeout: ROTATION_TIMEOUT,
        memorySize: 256,
        ...(settings.rotation.reservedConcurrency
          ? { reservedConcurrentExecutions: ROTATION_CONCURRENCY }
          : {}),
        logGroup,
        vpc: props.vpc,
        vpcSubnets: { subnets: props.vpc.privateSubnets },
        securityGroups: [this.securityGroup],
      });
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions-L1',
        reason:
          'opsbot is built and tested on Node.js 22 (package.json engines, the node:22 image of the service); the rotation function runs the same code on the same major version, and moves to a newer runtime together with the image',
      });
      this.functions[name] = fn;
    }
  }

  /**
   * Gives each function its secret, Secrets Manager the right to invoke it for that secret only,
   * the schedule from context `rotation`, and the task role the right to start (not perform) a
   * rotation. Creates `<prefix>datadog-rotation`, readable by the datadog function alone.
   */
  attach(secrets: OpsbotSecrets): void {
    const { settings, taskRole } = this.props;
    const stack = Stack.of(this);
    const viaSecretsManager = { 'kms:ViaService': `secretsmanager.${Aws.REGION}.amazonaws.com` };

    if (this.functions.datadog) {
      const role = this.roles.datadog as iam.Role;
      const secret = new secretsmanager.Secret(this, 'DatadogRotationKeys', {
        secretName: `${settings.secretPrefix}${datadogRotationSpec.name}`,
        description:
          "opsbot: { apiKey, appKey } of a Datadog application key that may create and revoke the bot's Datadog keys; set by the operator, read by the datadog rotation function only",
        encryptionKey: secrets.key,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      (secret.node.defaultChild as secretsmanager.CfnSecret).addPropertyDeletionOverride(
        'GenerateSecretString',
      );
      secrets.restrict(secret, { readers: [role.roleArn] });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'These are Datadog keys that make other Datadog keys: only a person with Datadog admin rights can make them, so they are rotated by hand (README.md, "Deploy it"); the bot\'s own Datadog keys, which they make, rotate on a schedule',
      });
      this.datadogRotation = secret;
    }

    const rotated: secretsmanager.ISecret[] = [];
    for (const [name, fn] of Object.entries(this.functions)) {
      const secret = secrets.secret(name);
      const role = this.roles[name] as iam.Role;
      rotated.push(secret);
      const ownArn = secret.secretArn;

      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'RotateOwnSecret',
          actions: ROTATION_SECRET_ACTIONS,
          resources: [ownArn],
        }),
      );
      // Why a step failed, left on the secret for `/opsbot rotate` (these tag keys only).
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'LeaveFailureTags',
          actions: ['secretsmanager:TagResource'],
          resources: [ownArn],
          conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': Object.values(FAILURE_TAGS) } },
        }),
      );
      const readsToo = name === 'datadog' && this.datadogRotation ? [this.datadogRotation.secretArn] : [];
      if (readsToo.length > 0)
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            sid: 'ReadDatadogRotationKeys',
            actions: ['secretsmanager:GetSecretValue'],
            resources: readsToo,
          }),
        );
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'UseSecretsKeyThroughSecretsManager',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [secrets.key.keyArn],
          conditions: {
            StringEquals: { ...viaSecretsManager, 'kms:EncryptionContext:SecretARN': [ownArn, ...readsToo] },
          },
        }),
      );

      // Secrets Manager invokes the function for this secret only, from this account.
      const permission = fn.addPermission('SecretsManagerInvokes', {
        principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
        action: 'lambda:InvokeFunction',
        sourceAccount: stack.account,
        sourceArn: ownArn,
      });

      const schedule = settings.rotation.schedules[name] ?? 'off';
      const rotation = new secretsmanager.CfnRotationSchedule(this, `${titleOf(name)}Schedule`, {
        secretId: ownArn,
        rotationLambdaArn: fn.functionArn,
        // A deploy never rotates: the integration secrets are empty until the operator sets them.
        rotateImmediatelyOnUpdate: false,
        ...(schedule === 'off' ? {} : { rotationRules: { scheduleExpression: schedule.expression } }),
      });
      // Secrets Manager checks that it may invoke the function when rotation is configured.
      rotation.node.addDependency(permission ?? fn);
      rotation.node.addDependency(role);
      this.schedules[name] = rotation;
    }

    const arns = rotated.map((s) => s.secretArn);
    taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StartRotationOfOwnSecrets',
        actions: TASK_ROTATION_ACTIONS,
        resources: arns,
      }),
    );
    taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MarkEmergencyRotation',
        actions: ['secretsmanager:TagResource'],
        resources: arns,
        conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [EMERGENCY_TAG] } },
      }),
    );
    taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'FollowRotations',
        actions: TASK_FOLLOW_ACTIONS,
        resources: Object.values(secrets.secrets).map((s) => s.secretArn),
      }),
    );
  }
}

function titleOf(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
