import { Annotations, CfnOutput, DefaultStackSynthesizer, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { WEBHOOK_PATH } from '../../src/alerts/webhook-core.js';
import { checkConfigFile, devenvRoleName, launchTemplateName } from './config-file.js';
import { containerEnvironment } from './container-environment.js';
import type { OpsbotSettings } from './context.js';
import { DevEnv } from './devenv-role.js';
import { DatadogIntake } from './intake.js';
import { LogKey } from './kms.js';
import { OpsbotLoadBalancer } from './load-balancer.js';
import { createNetwork } from './network.js';
import { SecretRotation } from './rotation.js';
import { SecretEvents, SecretEventsQueue } from './secret-events.js';
import { adminRoleArn, EVENTS_SECRET, OpsbotSecrets } from './secrets.js';
import { OpsbotService } from './service.js';
import { StateTable } from './state-table.js';
import { allowVaultEgress, bindTaskRoleCommand, bindTaskRoleDescription } from './vault-access.js';

const NO_SECRETS_MANAGER =
  'opsbot infra: with context secretSource "vault" the stack creates no Secrets Manager secrets and no rotation functions';

/**
 * opsbot in one stack: the VPC, the secrets, their key and rotation (with context `secretSource`
 * `vault`, none of these: the bot reads Vault), the State table, the dev-env role and launch
 * template, the Fargate service (and, in HTTP mode, its load balancer; in Socket Mode with Secrets
 * Manager, the Datadog intake function). The task role is built up by each part with exactly what
 * that part needs.
 */
export class OpsbotStack extends Stack {
  readonly taskRole: iam.Role;
  readonly state: StateTable;
  readonly devenv: DevEnv;
  readonly service: OpsbotService;
  readonly loadBalancer?: OpsbotLoadBalancer;
  /** HTTP mode with Secrets Manager: CloudTrail's calls on opsbot's secrets, sent to the bot. */
  readonly secretEvents?: SecretEvents;
  /** Socket Mode with Secrets Manager: the same calls, on a queue the bot long-polls. */
  readonly secretEventsQueue?: SecretEventsQueue;
  /** Socket Mode with Secrets Manager (context `intake.enabled`): Datadog's webhooks, behind a function URL. */
  readonly intake?: DatadogIntake;
  readonly logKey: LogKey;
  readonly #secrets?: OpsbotSecrets;
  readonly #rotation?: SecretRotation;

  /** The Secrets Manager secrets (source `aws`); throws with the `vault` source, which has none. */
  get secrets(): OpsbotSecrets {
    if (!this.#secrets) throw new Error(NO_SECRETS_MANAGER);
    return this.#secrets;
  }

  /** Their rotation functions (source `aws`); throws with the `vault` source, which has none. */
  get rotation(): SecretRotation {
    if (!this.#rotation) throw new Error(NO_SECRETS_MANAGER);
    return this.#rotation;
  }

  constructor(scope: Construct, id: string, settings: OpsbotSettings, props: StackProps = {}) {
    super(scope, id, {
      description: `opsbot: a Slack-native DevOps bot (ECS Fargate, ${settings.secretSource === 'vault' ? 'secrets in Vault' : 'Secrets Manager'}, DynamoDB, dev-env role)`,
      ...(settings.account || settings.region
        ? { env: { account: settings.account, region: settings.region } }
        : {}),
      ...props,
    });
    const config = checkConfigFile(settings);
    for (const warning of config.warnings) Annotations.of(this).addWarningV2('opsbot:config-file', warning);

    this.logKey = new LogKey(this, 'Logs');
    const vpc = createNetwork(this, settings, this.logKey.key);

    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: { 'aws:SourceArn': this.formatArn({ service: 'ecs', resource: '*' }) },
        },
      }),
      description:
        settings.secretSource === 'vault'
          ? 'opsbot task role: logs into Vault with its identity (no Secrets Manager access), uses its State table, assumes the dev-env role; no EC2 power of its own'
          : 'opsbot task role: reads its own secrets, uses its State table, assumes the dev-env role; no EC2 power of its own',
    });

    // Like the rotation functions' roles, before the secrets whose resource policies name readers.
    this.intake = this.datadogIntake(settings, vpc);
    if (settings.secretSource === 'aws') {
      // The rotation functions' roles first: each secret's resource policy names its own.
      this.#rotation = new SecretRotation(this, 'Rotation', {
        settings,
        vpc,
        logKey: this.logKey.key,
        taskRole: this.taskRole,
      });
      this.#secrets = new OpsbotSecrets(this, 'Secrets', {
        prefix: settings.secretPrefix,
        taskRole: this.taskRole,
        adminRoleArn: adminRoleArn(this, settings.secretsAdminRole),
        deployRoleArn: settings.deployRoleArn ?? this.cloudFormationExecutionRoleArn(),
        rotationRoles: this.#rotation.roles,
        ...(this.intake ? { readers: this.intake.secretReaders } : {}),
      });
      this.#rotation.attach(this.#secrets);
    }
    this.state = new StateTable(this, 'State', { taskRole: this.taskRole });
    if (this.intake) {
      this.intake.attach(this.secrets, this.state.table);
      new CfnOutput(this, 'DatadogWebhookUrl', {
        description:
          "Datadog's webhook integration posts here, with the custom header X-Opsbot-Webhook-Secret (the datadog secret's webhookSecret)",
        value: this.intake.webhookUrl,
      });
    }
    this.devenv = new DevEnv(this, 'DevEnv', {
      vpc,
      taskRole: this.taskRole,
      roleName: devenvRoleName(settings.stackName),
      launchTemplateName: launchTemplateName(settings.stackName),
      instanceTypes: config.instanceTypes,
      volumeGiB: settings.devenvVolumeGiB,
      amiParameter: settings.devenvAmiParameter,
    });
    // Before the service: the container is told the queue's URL.
    this.secretEventsQueue = this.queueSecretCalls(settings);
    this.service = new OpsbotService(this, 'Bot', {
      settings,
      vpc,
      taskRole: this.taskRole,
      logKey: this.logKey.key,
      environment: containerEnvironment(
        settings,
        this.state.table.tableName,
        this.devenv.role.roleArn,
        this.secretEventsQueue?.queue.queueUrl,
      ),
    });
    if (settings.vault) allowVaultEgress(this.service.securityGroup, settings.vault);
    if (settings.slackMode === 'http') {
      this.loadBalancer = new OpsbotLoadBalancer(this, 'Http', {
        settings,
        vpc,
        service: this.service.service,
      });
      new CfnOutput(this, 'SlackRequestUrl', {
        description: 'Point the Slack app (infra/slack-manifest.yaml) and your DNS name here',
        value: `https://${this.loadBalancer.loadBalancer.loadBalancerDnsName}/slack/events`,
      });
      // The bot takes Datadog's webhooks itself; only the name on the certificate makes a URL for them.
      if (settings.domainName)
        new CfnOutput(this, 'DatadogWebhookUrl', {
          description:
            "Datadog's webhook integration posts here, with the custom header X-Opsbot-Webhook-Secret (the datadog secret's webhookSecret)",
          value: `https://${settings.domainName}${WEBHOOK_PATH}`,
        });
    }
    this.secretEvents = this.reportSecretCalls(settings);

    new CfnOutput(this, 'DevEnvRoleArn', {
      description:
        'The dev-env role; the container gets it as OPSBOT_DEVENV_ROLE_ARN (devenv.roleArn in the file may be left out)',
      value: this.devenv.role.roleArn,
    });
    new CfnOutput(this, 'LaunchTemplateName', {
      description: 'devenv.templates.*.launchTemplate in the configuration file',
      value: launchTemplateName(settings.stackName),
    });
    new CfnOutput(this, 'StateTableName', { value: this.state.table.tableName });
    new CfnOutput(this, 'TaskRoleArn', {
      value: this.taskRole.roleArn,
      ...(settings.vault ? { description: bindTaskRoleDescription(settings.vault) } : {}),
    });
    if (settings.vault)
      new CfnOutput(this, 'VaultAuthRole', {
        description:
          "Run this in Vault once, so that the tasks log in as the AWS auth role opsbot's context names",
        value: bindTaskRoleCommand(settings.vault, this.taskRole.roleArn),
      });
    new CfnOutput(this, 'LogGroup', { value: this.service.logGroup.logGroupName });
  }

  /**
   * Socket Mode with secrets in Secrets Manager: the Datadog intake function (lib/intake.ts), as
   * Datadog cannot reach the bot; its role is made here, the rest once the secrets and the table
   * exist. HTTP mode needs none (the bot answers POST /webhooks/datadog itself), nor does context
   * `intake.enabled` false; Vault has none (logging into Vault from Lambda is not built): a note
   * says so.
   */
  private datadogIntake(settings: OpsbotSettings, vpc: ec2.IVpc): DatadogIntake | undefined {
    if (settings.slackMode === 'http') return undefined;
    if (settings.secretSource !== 'aws') {
      Annotations.of(this).addWarningV2(
        'opsbot:datadog-intake',
        'opsbot infra: Socket Mode with secrets in Vault: no Datadog intake function (it reads Secrets Manager only), so Datadog cannot deliver alerts to the bot; use slackMode "http" (POST /webhooks/datadog on the load balancer) or secretSource "aws"',
      );
      return undefined;
    }
    if (!settings.intake.enabled) {
      Annotations.of(this).addInfo(
        'opsbot infra: intake.enabled is false: no Datadog intake function, so Datadog cannot deliver alerts to this Socket Mode bot',
      );
      return undefined;
    }
    return new DatadogIntake(this, 'DatadogIntake', { settings, vpc, logKey: this.logKey.key });
  }

  /**
   * Socket Mode with secrets in Secrets Manager: CloudTrail's Secrets Manager calls on opsbot's
   * secrets go to an SQS queue the bot long-polls (lib/secret-events.ts, `SecretEventsQueue`), as
   * nothing can call a Socket Mode bot.
   */
  private queueSecretCalls(settings: OpsbotSettings): SecretEventsQueue | undefined {
    if (settings.slackMode === 'http' || settings.secretSource !== 'aws') return undefined;
    const queued = new SecretEventsQueue(this, 'SecretEventsQueue', {
      secretPrefix: settings.secretPrefix,
      taskRole: this.taskRole,
    });
    new CfnOutput(this, 'SecretEventsDeadLetterQueue', {
      description:
        "CloudTrail events on opsbot's secrets the bot never took (kept 14 days): look here if the bot was down for days or a message was not an event",
      value: queued.deadLetterQueue.queueUrl,
    });
    return queued;
  }

  /**
   * Sends CloudTrail's Secrets Manager calls on opsbot's secrets to `POST /webhooks/aws-events`
   * (lib/secret-events.ts) in HTTP mode, with secrets in Secrets Manager (Vault's calls are its
   * audit device's: a note says so). Socket Mode has its queue instead ({@link queueSecretCalls}).
   */
  private reportSecretCalls(settings: OpsbotSettings): SecretEvents | undefined {
    if (settings.secretSource !== 'aws') {
      Annotations.of(this).addInfo(
        "opsbot infra: secrets in Vault: no EventBridge rule reports reads of them (forward Vault's audit device to the bot instead)",
      );
      return undefined;
    }
    if (!this.loadBalancer) return undefined;
    if (!settings.domainName)
      Annotations.of(this).addWarningV2(
        'opsbot:domain-name',
        'opsbot infra: EventBridge will call the load balancer by its own DNS name, which your certificate does not cover, so every delivery fails TLS: set -c domainName=<the DNS name on the certificate>',
      );
    const secretEvents = new SecretEvents(this, 'SecretEvents', {
      secretPrefix: settings.secretPrefix,
      eventsSecret: this.secrets.secret(EVENTS_SECRET),
      host: settings.domainName ?? this.loadBalancer.loadBalancer.loadBalancerDnsName,
    });
    new CfnOutput(this, 'SecretEventsDeadLetterQueue', {
      description:
        "CloudTrail events on opsbot's secrets the bot never took (kept 14 days): look here if the bot was down or refused the key",
      value: secretEvents.deadLetterQueue.queueUrl,
    });
    return secretEvents;
  }

  /**
   * The first two zones of the region, resolved by CloudFormation (Fn::GetAZs) rather than looked
   * up, so that a synth with `account`/`region` context stays offline.
   */
  override get availabilityZones(): string[] {
    return [0, 1].map((i) => Fn.select(i, Fn.getAzs()));
  }

  /** The CDK bootstrap's CloudFormation execution role, which deploys this stack. */
  private cloudFormationExecutionRoleArn(): string {
    if (!(this.synthesizer instanceof DefaultStackSynthesizer))
      throw new Error(
        'opsbot infra: with a custom stack synthesizer, set context "deployRoleArn" (the role CloudFormation deploys with)',
      );
    return Fn.sub(this.synthesizer.cloudFormationExecutionRoleArn);
  }
}
