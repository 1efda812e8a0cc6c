import { Aws, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { INTAKE_TOPIC } from '../../src/alerts/routes.js';
import { WEBHOOK_PATH } from '../../src/alerts/webhook-core.js';
import { INTAKE_SECRETS } from '../../src/intake/settings.js';
import { AUDIT_PK } from '../../src/store/dynamodb-audit-items.js';
import { pendingPk } from '../../src/store/dynamodb-outbox-items.js';
import { keyPart } from '../../src/store/dynamodb-table.js';
import type { OpsbotSettings } from './context.js';
import { CONTROL_TOWER_PLUGIN } from './control-tower.js';
import { BUNDLE_HANDLER, functionCode } from './rotation-bundle.js';
import type { OpsbotSecrets } from './secrets.js';

/** The intake function's source (src/intake/lambda.ts, export `handler`). */
export const INTAKE_ENTRY = 'src/intake/lambda.ts';

/**
 * What the intake does with its two secrets (src/credentials/aws-source.ts): DescribeSecret to
 * follow the versions, GetSecretValue to load one. It never lists versions nor writes.
 */
export const INTAKE_SECRET_ACTIONS = ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'];

/**
 * The item operations of the intake's path through the State store: reading the audit head and the
 * signals (GetItem, Query), enqueueing an alert and appending its audit record (TransactWriteItems,
 * authorized per item as PutItem and UpdateItem), bumping the intake signal (UpdateItem). No
 * DeleteItem, no ConditionCheckItem, no batch: the intake never deletes and never checks an item it
 * does not write. test/infra/intake.test.ts records the intake's calls and holds it to this list.
 */
export const INTAKE_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
];

/**
 * Both forms of a partition key of `kind` (src/store/dynamodb-table.ts `keyPart`): `<kind>#<value>`
 * and, for a value too long for a key, `<kind>~sha256#<hex>`, as `dynamodb:LeadingKeys` patterns.
 */
function partitionsOf(kind: string): string[] {
  const plain = `${keyPart(kind, '')}*`;
  // A lone surrogate never fits in a key, so it shows the hashed form.
  const hashed = keyPart(kind, '\uD800').replace(/[0-9a-f]{64}$/, '*');
  return [plain, hashed];
}

/**
 * The partitions the intake reads and writes (the key layout in src/store/dynamodb.ts): its own
 * topic's outbox partition, the `outbox-id` items that make enqueue idempotent, the audit trail and
 * the signals item. Not the other topics', the leases, the dedupe keys, the message refs nor the
 * done partitions: those are the bot's.
 */
export const INTAKE_PARTITIONS: readonly string[] = [
  pendingPk(INTAKE_TOPIC),
  ...partitionsOf('outbox-id'),
  AUDIT_PK,
  'signals',
];

/** The variables the intake reads besides the table, the source and the prefix (src/intake/settings.ts), taken from context `environment`. */
export const INTAKE_VARIABLES = [
  'OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS',
  'OPSBOT_DATADOG_SITE',
  'LOG_LEVEL',
] as const;

/**
 * A webhook: one table write or two and an audit record, a secret load on a cold start (opening
 * waits up to 5 s for the table, then Datadog is answered 503 and retries).
 */
export const INTAKE_TIMEOUT = Duration.seconds(10);
export const INTAKE_MEMORY_MIB = 512;

/** The Control Tower controls a function URL with auth type NONE breaks, by the rule that implements each. */
export const INTAKE_CONTROLS = {
  'CT.LAMBDA.PR.2': 'lambda_function_public_access_prohibited_check',
  'CT.LAMBDA.PR.5': 'lambda_function_url_auth_check',
} as const;

const PUBLIC_URL_REASON =
  'Datadog cannot sign a webhook (no SigV4, so no AWS_IAM auth type): the function URL takes requests from anyone, and the function refuses, in constant time and before reading the body, every request whose X-Opsbot-Webhook-Secret header is not the webhookSecret of the datadog secret. An organisation that enforces this control: set context intake.enabled to false and deploy in HTTP mode (POST /webhooks/datadog on the load balancer), or put an API that checks the header in front';

export interface DatadogIntakeProps {
  settings: OpsbotSettings;
  vpc: ec2.IVpc;
  /** The key of the function's log group (lib/kms.ts). */
  logKey: kms.IKey;
}

/**
 * The Datadog intake function (src/intake/lambda.ts) behind a Lambda function URL: `POST
 * /webhooks/datadog` for a Socket Mode bot, which nothing can call. It stores each alert in the
 * State table's outbox under the intake topic, and the bot routes and delivers it. Built in two
 * steps like the rotation functions: the role first (a secret's resource policy names its readers),
 * then {@link DatadogIntake.attach} once the secrets and the table exist.
 */
export class DatadogIntake extends Construct {
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly securityGroup: ec2.SecurityGroup;
  function?: lambda.Function;
  url?: lambda.FunctionUrl;

  /**
   * The secrets the role reads, by short name, each with the role: what `OpsbotSecrets` must add to
   * that secret's readers, whose resource policy denies reading to everyone else.
   */
  get secretReaders(): Record<string, iam.IRole[]> {
    return Object.fromEntries(INTAKE_SECRETS.map((name) => [name, [this.role]]));
  }

  /** `https://<id>.lambda-url.<region>.on.aws/webhooks/datadog` (a token at synth time), once attached. */
  get webhookUrl(): string {
    if (!this.url) throw new Error('opsbot infra: the Datadog intake has no URL before attach()');
    // The function URL ends with a slash.
    return `${this.url.url}${WEBHOOK_PATH.replace(/^\//, '')}`;
  }

  constructor(
    scope: Construct,
    id: string,
    private readonly props: DatadogIntakeProps,
  ) {
    super(scope, id);
    const { settings } = props;
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `opsbot Datadog intake: reads ${INTAKE_SECRETS.map((s) => `${settings.secretPrefix}${s}`).join(' and ')}, writes its partitions of the State table`,
    });
    // A function in a VPC creates its network interfaces (and writes its logs) under its role.
    this.role.addManagedPolicy(
      iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      reason:
        'A function in a VPC needs to create and delete its network interfaces (ec2:CreateNetworkInterface and friends, which take no resource constraint) and write its logs: AWS maintains exactly that set as AWSLambdaVPCAccessExecutionRole; everything about secrets, keys and the table is in the inline policy, on named resources',
    });

    // Outbound HTTPS only: DynamoDB and Secrets Manager (through the NAT gateway).
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'opsbot Datadog intake: no ingress (the function URL is not in the VPC), HTTPS out',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS to DynamoDB and Secrets Manager',
    );

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: settings.logRetentionDays as logs.RetentionDays,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /**
   * Gives the role its two secrets and its partitions of the table, then creates the function and
   * its public URL.
   */
  attach(secrets: OpsbotSecrets, table: dynamodb.ITable): lambda.Function {
    const { settings, vpc } = this.props;
    const arns = INTAKE_SECRETS.map((name) => secrets.secret(name).secretArn);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ReadIntakeSecrets', actions: INTAKE_SECRET_ACTIONS, resources: arns }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DecryptIntakeSecrets',
        actions: ['kms:Decrypt'],
        resources: [secrets.key.keyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': `secretsmanager.${Aws.REGION}.amazonaws.com`,
            'kms:EncryptionContext:SecretARN': arns,
          },
        },
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'IntakePartitionsOfStateTable',
        actions: INTAKE_TABLE_ACTIONS,
        resources: [table.tableArn],
        // Every key an item operation names must be one of these partitions (ForAllValues: each
        // item of a transaction is authorized on its own, with its own key).
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...INTAKE_PARTITIONS] } },
      }),
    );

    const environment: Record<string, string> = {
      OPSBOT_STATE: `dynamodb:${table.tableName}`,
      OPSBOT_SECRET_SOURCE: 'aws',
      OPSBOT_SECRET_PREFIX: settings.secretPrefix,
    };
    for (const name of INTAKE_VARIABLES) {
      const value = settings.environment[name];
      if (value !== undefined) environment[name] = value;
    }
    const reserved = settings.intake.reservedConcurrency;
    const fn = new lambda.Function(this, 'Function', {
      description: `opsbot: POST ${WEBHOOK_PATH} from Datadog, stored in the State table for the bot (Socket Mode)`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.X86_64,
      code: functionCode(INTAKE_ENTRY),
      handler: BUNDLE_HANDLER,
      role: this.role,
      environment,
      timeout: INTAKE_TIMEOUT,
      memorySize: INTAKE_MEMORY_MIB,
      ...(reserved !== undefined ? { reservedConcurrentExecutions: reserved } : {}),
      logGroup: this.logGroup,
      vpc,
      vpcSubnets: { subnets: vpc.privateSubnets },
      securityGroups: [this.securityGroup],
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'opsbot is built and tested on Node.js 22 (package.json engines, the node:22 image of the service); the intake function runs the same code on the same major version, and moves to a newer runtime together with the image',
    });
    // The URL and the two permissions that open it to everyone are children of the function.
    for (const [control, rule] of Object.entries(INTAKE_CONTROLS))
      Validations.of(fn).acknowledge({
        id: `${CONTROL_TOWER_PLUGIN}::${rule}`,
        reason: `${control}: ${PUBLIC_URL_REASON}`,
      });
    // No CORS: Datadog calls from its servers, never from a browser.
    this.url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.function = fn;
    return fn;
  }
}
