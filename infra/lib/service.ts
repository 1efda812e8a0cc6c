import { Aws, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { OpsbotSettings } from './context.js';
import { CONTAINER_PORT, DOCKERFILE, REPO_ROOT } from './paths.js';

/**
 * Never copied into the asset staging (and so never sent to `docker build`), on top of the
 * top-level `.dockerignore`: dependencies, outputs and VCS data are large or recursive.
 */
export const ASSET_EXCLUDES = ['**/node_modules', 'cdk.out', 'dist', 'data', '.git', 'coverage'];

/** The container's liveness check: GET /healthz on PORT, with node (the image has no curl). */
export const HEALTHCHECK_SCRIPT =
  "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))";

export interface OpsbotServiceProps {
  settings: OpsbotSettings;
  vpc: ec2.IVpc;
  taskRole: iam.IRole;
  /** The key of the container's log group. */
  logKey: kms.IKey;
  /** Non-secret settings only (checked by the tests: no value of a secret ever goes here). */
  environment: Record<string, string>;
}

/**
 * The bot on ECS Fargate: the image built from infra/Dockerfile, running as a non-root user with a
 * read-only root filesystem (a task-scoped volume on /tmp is its only writable path), all Linux
 * capabilities dropped, logs to CloudWatch, in private subnets. Secrets are not injected: the bot
 * reads them at run time under the task role. The execution role (image pull, logs) is separate.
 */
export class OpsbotService extends Construct {
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly securityGroup: ec2.SecurityGroup;
  readonly executionRole: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: OpsbotServiceProps) {
    super(scope, id);
    const { settings } = props;

    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: settings.logRetentionDays as logs.RetentionDays,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'opsbot ECS execution role: pulls the image and writes the logs; no access to the secrets',
    });

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: settings.cpu,
      memoryLimitMiB: settings.memoryMiB,
      taskRole: props.taskRole,
      executionRole: this.executionRole,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
      volumes: [{ name: 'tmp' }],
    });

    const linuxParameters = new ecs.LinuxParameters(this, 'LinuxParameters', { initProcessEnabled: true });
    linuxParameters.dropCapabilities(ecs.Capability.ALL);

    this.container = this.taskDefinition.addContainer('opsbot', {
      image: ecs.ContainerImage.fromAsset(REPO_ROOT, {
        file: DOCKERFILE,
        exclude: ASSET_EXCLUDES,
        platform: Platform.LINUX_AMD64,
        buildArgs: { OPSBOT_CONFIG_FILE: settings.configFile },
      }),
      // The whole task's memory, as a hard limit on its one container (Control Tower CT.ECS.PR.7).
      memoryLimitMiB: settings.memoryMiB,
      environment: { ...props.environment, AWS_REGION: Aws.REGION },
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'opsbot' }),
      readonlyRootFilesystem: true,
      user: 'node',
      linuxParameters,
      essential: true,
      stopTimeout: Duration.seconds(15),
      healthCheck: {
        command: ['CMD', 'node', '-e', HEALTHCHECK_SCRIPT],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      ...(settings.slackMode === 'http'
        ? { portMappings: [{ containerPort: CONTAINER_PORT, protocol: ecs.Protocol.TCP }] }
        : {}),
    });
    this.container.addMountPoints({ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false });

    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: `The environment holds only non-secret settings (secret source and prefix, Slack mode, table name, config path, port, region, and the allow-listed extras of context "environment"); every secret is read at run time ${settings.secretSource === 'vault' ? 'from Vault, logged into with the task role (the address, role and mounts are not secret)' : 'from Secrets Manager under the task role'}, and a test asserts that no secret name or value is in the task definition`,
    });
    Validations.of(this.executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecr:GetAuthorizationToken, added by CDK for pulling the image, supports no resource-level permissions; the pull itself is limited to the asset repository',
    });

    // Outbound HTTPS only: Slack (Web API and Socket Mode), GitHub, Jira, Datadog, AWS APIs. DNS goes
    // to the VPC resolver, which security groups do not filter.
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description:
        settings.slackMode === 'socket'
          ? 'opsbot tasks (Socket Mode): no ingress, HTTPS out'
          : 'opsbot tasks (HTTP mode): ingress from the load balancer only, HTTPS out',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS to Slack, vendors and AWS APIs',
    );

    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: settings.desiredCount,
      assignPublicIp: false,
      vpcSubnets: { subnets: props.vpc.privateSubnets },
      securityGroups: [this.securityGroup],
      circuitBreaker: { enable: true, rollback: true },
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      enableExecuteCommand: false,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      ...(settings.slackMode === 'http' ? { healthCheckGracePeriod: Duration.seconds(60) } : {}),
    });
  }
}
