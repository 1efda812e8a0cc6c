import { Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The session tags opsbot sets (src/credentials/role-sessions.ts): nothing else may be passed. */
export const SESSION_TAG_KEYS = ['slack-user', 'slack-team', 'opsbot-action'];
/** SourceIdentity values opsbot sets: `slack.<team>.<user>` (or `slack.<user>`) and `opsbot.reaper`. */
export const SOURCE_IDENTITIES = ['slack.*', 'opsbot.reaper'];
/** The tags RunInstances may set (src/integrations/devenv.ts, TAG). */
export const LAUNCH_TAG_KEYS = [
  'ManagedBy',
  'Owner',
  'ExpiresAt',
  'Name',
  'opsbot:template',
  'opsbot:channel',
];
/**
 * The condition key of EC2's own tag naming the launch template an instance came from. An `aws:`
 * tag: only EC2 sets it, at launch.
 */
export const LAUNCH_TEMPLATE_TAG_CONDITION = 'ec2:ResourceTag/aws:ec2launchtemplate:id';
/** After launch, only the expiry may change (`/devenv extend`). */
export const RETAG_KEYS = ['ExpiresAt'];
/** What the task role may do with the dev-env role: assume it for a named person, with session tags. */
export const ASSUME_ACTIONS = ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'];

export interface DevEnvProps {
  vpc: ec2.IVpc;
  /** The only principal the dev-env role trusts. */
  taskRole: iam.IRole;
  roleName: string;
  launchTemplateName: string;
  /** Instance types the configuration file's templates use; none: the role cannot launch anything. */
  instanceTypes: string[];
  volumeGiB: number;
  amiParameter: string;
}

/**
 * The task role as the principal of the dev-env role's trust policy, for exactly what opsbot does:
 * AssumeRole with a SourceIdentity (required, one opsbot sets) and its own session tags.
 */
class TaskRoleActingForSomeone extends iam.ArnPrincipal {
  override addToAssumeRolePolicy(document: iam.PolicyDocument): void {
    document.addStatements(
      new iam.PolicyStatement({
        sid: 'TaskRoleActsForANamedPerson',
        principals: [new iam.ArnPrincipal(this.arn)],
        actions: ASSUME_ACTIONS,
        conditions: {
          StringLike: { 'sts:SourceIdentity': SOURCE_IDENTITIES },
          'ForAllValues:StringEquals': { 'aws:TagKeys': SESSION_TAG_KEYS },
        },
      }),
    );
  }
}

/**
 * Dev environments: the launch template (IMDSv2 required, encrypted root volume, an instance
 * profile for SSM Session Manager, no key pair, a private subnet, a security group with no
 * ingress) and the dev-env role the bot assumes for each person. The role may launch only from that
 * template, only the configured instance types, only with IMDSv2 and only tagged ManagedBy=opsbot
 * and Owner=<the session's slack-user tag>; it may retag (ExpiresAt only) and terminate only
 * ManagedBy=opsbot instances that EC2 itself tags as launched from that template, and pass only the
 * instance profile's role.
 */
export class DevEnv extends Construct {
  readonly role: iam.Role;
  readonly launchTemplate: ec2.LaunchTemplate;
  readonly instanceRole: iam.Role;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: DevEnvProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'opsbot dev environments: SSM Session Manager only',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    Validations.of(this.instanceRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason:
        "The SSM agent's own minimal policy, maintained by AWS as the agent changes: it is what lets `aws ssm start-session` reach a dev environment with no key pair and no open port",
    });

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'opsbot dev environments: no ingress (SSM Session Manager connects outbound)',
      allowAllOutbound: true,
    });

    const machineImage = ec2.MachineImage.fromSsmParameter(props.amiParameter, {
      os: ec2.OperatingSystemType.LINUX,
    });
    const subnet = props.vpc.privateSubnets[0];
    if (!subnet) throw new Error('opsbot infra: the VPC has no private subnet for the dev environments');
    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      launchTemplateName: props.launchTemplateName,
      machineImage,
      role: this.instanceRole,
      requireImdsv2: true,
      // One-minute CloudWatch metrics (Control Tower CT.EC2.PR.10): a few dollars a month per running
      // dev environment, and dev environments are short-lived.
      detailedMonitoring: true,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      httpEndpoint: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(props.volumeGiB, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            deleteOnTermination: true,
          }),
        },
      ],
    });
    const cfnTemplate = this.launchTemplate.node.defaultChild as ec2.CfnLaunchTemplate;
    // No tags from the template itself: an instance's tags are the ones RunInstances sets (and the
    // role may set), and its volume gets none (tagging it would need CreateTags on volumes).
    cfnTemplate.addPropertyDeletionOverride('LaunchTemplateData.TagSpecifications');
    // One network interface in a private subnet, no public address, the no-ingress security group.
    cfnTemplate.addPropertyOverride('LaunchTemplateData.NetworkInterfaces', [
      {
        DeviceIndex: 0,
        SubnetId: subnet.subnetId,
        Groups: [this.securityGroup.securityGroupId],
        AssociatePublicIpAddress: false,
        DeleteOnTermination: true,
      },
    ]);

    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName,
      assumedBy: new TaskRoleActingForSomeone(props.taskRole.roleArn),
      description: 'opsbot dev environments, assumed by the opsbot task role for one Slack user at a time',
    });

    const ec2Arn = (resource: string, name: string) =>
      stack.formatArn({ service: 'ec2', resource, resourceName: name });
    const launchTemplateArn = ec2Arn('launch-template', this.launchTemplate.launchTemplateId as string);
    const fromOurTemplate = { ArnEquals: { 'ec2:LaunchTemplate': launchTemplateArn } };
    const instances = ec2Arn('instance', '*');
    // EC2 tags every instance launched from a launch template with its id (aws:ec2launchtemplate:id);
    // no principal can set or change an aws: tag. ManagedBy=opsbot alone can be set by anyone who
    // may tag an instance; the reaper and /devenv manage only instances this template launched.
    const launchedByUs = {
      'aws:ResourceTag/ManagedBy': 'opsbot',
      [LAUNCH_TEMPLATE_TAG_CONDITION]: this.launchTemplate.launchTemplateId as string,
    };
    const statements: iam.PolicyStatement[] = [];

    if (props.instanceTypes.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'LaunchOwnedTaggedImdsV2Instances',
          actions: ['ec2:RunInstances'],
          resources: [instances],
          conditions: {
            ...fromOurTemplate,
            StringEquals: {
              'aws:RequestTag/ManagedBy': 'opsbot',
              // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, resolved by IAM
              'aws:RequestTag/Owner': '${aws:PrincipalTag/slack-user}',
              'ec2:MetadataHttpTokens': 'required',
              'ec2:InstanceType': props.instanceTypes,
            },
            Null: { 'aws:RequestTag/ExpiresAt': 'false' },
            'ForAllValues:StringEquals': { 'aws:TagKeys': LAUNCH_TAG_KEYS },
          },
        }),
        new iam.PolicyStatement({
          sid: 'LaunchFromTheOpsbotTemplateOnly',
          actions: ['ec2:RunInstances'],
          resources: [
            launchTemplateArn,
            ec2Arn('subnet', subnet.subnetId),
            ec2Arn('security-group', this.securityGroup.securityGroupId),
            ec2Arn('network-interface', '*'),
            stack.formatArn({
              service: 'ec2',
              account: '',
              resource: 'image',
              resourceName: machineImage.getImage(this).imageId,
            }),
          ],
          conditions: fromOurTemplate,
        }),
        new iam.PolicyStatement({
          sid: 'LaunchEncryptedVolumesOnly',
          actions: ['ec2:RunInstances'],
          resources: [ec2Arn('volume', '*')],
          conditions: { ...fromOurTemplate, Bool: { 'ec2:Encrypted': 'true' } },
        }),
        new iam.PolicyStatement({
          sid: 'TagAtLaunchOnly',
          actions: ['ec2:CreateTags'],
          resources: [instances],
          conditions: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
        }),
        new iam.PolicyStatement({
          sid: 'PassTheInstanceRoleOnly',
          actions: ['iam:PassRole'],
          resources: [this.instanceRole.roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
        }),
      );
    }
    statements.push(
      new iam.PolicyStatement({
        sid: 'ExtendManagedInstances',
        actions: ['ec2:CreateTags'],
        resources: [instances],
        conditions: {
          StringEquals: launchedByUs,
          'ForAllValues:StringEquals': { 'aws:TagKeys': RETAG_KEYS },
        },
      }),
      new iam.PolicyStatement({
        sid: 'TerminateManagedInstances',
        actions: ['ec2:TerminateInstances'],
        resources: [instances],
        conditions: { StringEquals: launchedByUs },
      }),
      new iam.PolicyStatement({
        sid: 'DescribeInstances',
        // DescribeLaunchTemplates: the bot resolves the template's name (<stackName>-devenv) to the
        // id EC2 tags instances with (aws:ec2launchtemplate:id), which is how it knows its own.
        actions: ['ec2:DescribeInstances', 'ec2:DescribeLaunchTemplates'],
        resources: ['*'],
      }),
    );
    for (const statement of statements) this.role.addToPrincipalPolicy(statement);

    const wildcard = (resource: string, reason: string) =>
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason,
      });
    // cdk-nag names a finding by the ARN as written, with <AWS::…> for what is not known at synth.
    const known = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
    const nagEc2 = (resource: string) =>
      `arn:${known(stack.partition, 'Partition')}:ec2:${known(stack.region, 'Region')}:${known(stack.account, 'AccountId')}:${resource}`;
    wildcard(
      nagEc2('instance/*'),
      'Instance ids are not known before launch. Every statement on instances is conditioned: RunInstances on the opsbot launch template, IMDSv2, the configured instance types and the ManagedBy=opsbot / Owner=<session slack-user> request tags; CreateTags at launch only, or ExpiresAt only on ManagedBy=opsbot instances launched from the opsbot template (aws:ec2launchtemplate:id); TerminateInstances on those instances only',
    );
    wildcard(
      '*',
      'ec2:DescribeInstances and ec2:DescribeLaunchTemplates support no resource-level permissions; they read, and are the only actions on *',
    );
    if (props.instanceTypes.length > 0) {
      wildcard(
        nagEc2('network-interface/*'),
        'The network interface RunInstances creates has no id before launch; the statement applies only to launches from the opsbot launch template (ec2:LaunchTemplate)',
      );
      wildcard(
        nagEc2('volume/*'),
        'The root volume RunInstances creates has no id before launch; the statement applies only to encrypted volumes (ec2:Encrypted) of launches from the opsbot launch template',
      );
    }

    props.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AssumeDevEnvRole',
        actions: ASSUME_ACTIONS,
        resources: [this.role.roleArn],
      }),
    );
  }
}
