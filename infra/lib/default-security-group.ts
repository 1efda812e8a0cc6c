import { Aws, type CfnResource, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';

/** The singleton provider `restrictDefaultSecurityGroup` adds to the stack, and the resource it backs. */
export const RESTRICT_PROVIDER_ID = 'Custom::VpcRestrictDefaultSGCustomResourceProvider';
const RESTRICT_RESOURCE_ID = 'RestrictDefaultSecurityGroupCustomResource';

/**
 * The VPC's default security group allows nothing: CDK's own handler removes its rules at deploy
 * time (`restrictDefaultSecurityGroup`). Its Lambda function, though, runs outside any VPC, which
 * Control Tower CT.LAMBDA.PR.3 refuses. This puts that function into the VPC's private subnets, with
 * a security group that lets it reach only HTTPS (the EC2 API, and CloudFormation's response URL,
 * through the NAT gateway), and its logs into an encrypted log group that expires (CT.CLOUDWATCH.PR.2
 * and PR.3) instead of one Lambda would create unencrypted and keep forever.
 *
 * The handler stays CDK's (same code, same permissions on the default group only); its role gets the
 * network-interface actions a function in a VPC needs (AWS's AWSLambdaVPCAccessExecutionRole, which
 * also covers the logs AWSLambdaBasicExecutionRole did). The custom resource waits for the private
 * subnets' route to the NAT gateway, and on deletion runs before that route goes.
 *
 * @throws Error when the VPC has no such provider (a CDK upgrade renamed it): better than a stack
 * that Control Tower refuses at deploy time.
 */
export function runDefaultSecurityGroupHandlerInVpc(
  vpc: ec2.Vpc,
  logKey: kms.IKey,
  retentionDays: number,
): void {
  const stack = Stack.of(vpc);
  const provider = stack.node.tryFindChild(RESTRICT_PROVIDER_ID);
  const customResource = vpc.node.tryFindChild(RESTRICT_RESOURCE_ID);
  const handler = provider?.node.tryFindChild('Handler') as CfnResource | undefined;
  const role = provider?.node.tryFindChild('Role') as CfnResource | undefined;
  if (!provider || !customResource || !handler || !role)
    throw new Error(
      `opsbot infra: CDK's ${RESTRICT_PROVIDER_ID} (restrictDefaultSecurityGroup) was not found where infra/lib/default-security-group.ts expects it; update that module for this aws-cdk-lib version`,
    );

  const securityGroup = new ec2.SecurityGroup(vpc, 'RestrictDefaultSecurityGroupHandler', {
    vpc,
    description: 'opsbot: the handler that empties the default security group; HTTPS out only',
    allowAllOutbound: false,
  });
  securityGroup.addEgressRule(
    ec2.Peer.anyIpv4(),
    ec2.Port.tcp(443),
    'HTTPS to the EC2 API and CloudFormation',
  );

  const logGroup = new logs.LogGroup(vpc, 'RestrictDefaultSecurityGroupLogs', {
    retention: retentionDays as logs.RetentionDays,
    encryptionKey: logKey,
    removalPolicy: RemovalPolicy.RETAIN,
  });

  handler.addPropertyOverride('VpcConfig', {
    SubnetIds: vpc.privateSubnets.map((s) => s.subnetId),
    SecurityGroupIds: [securityGroup.securityGroupId],
  });
  handler.addPropertyOverride('LoggingConfig', { LogGroup: logGroup.logGroupName, LogFormat: 'Text' });
  role.addPropertyOverride('ManagedPolicyArns', [
    `arn:${Aws.PARTITION}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole`,
  ]);
  for (const subnet of vpc.privateSubnets)
    customResource.node.addDependency(subnet.internetConnectivityEstablished);
}
