import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { OpsbotSettings } from './context.js';
import { runDefaultSecurityGroupHandlerInVpc } from './default-security-group.js';

/**
 * The VPC: a new one (public subnets for NAT and the load balancer, private subnets with egress for
 * the tasks and the dev environments, flow logs encrypted with `logKey`) or an existing one named in
 * context, imported without lookups so that the synth stays offline.
 */
export function createNetwork(scope: Construct, settings: OpsbotSettings, logKey: kms.IKey): ec2.IVpc {
  if (settings.vpc) {
    const { vpcId, availabilityZones, privateSubnetIds, publicSubnetIds } = settings.vpc;
    return ec2.Vpc.fromVpcAttributes(scope, 'Vpc', {
      vpcId,
      availabilityZones,
      privateSubnetIds,
      ...(publicSubnetIds.length > 0 ? { publicSubnetIds } : {}),
    });
  }
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    maxAzs: 2,
    natGateways: settings.natGateways,
    subnetConfiguration: [
      // Nothing launched here needs an address of its own: the NAT gateways and the load balancer get
      // theirs explicitly (Control Tower CT.EC2.PR.11).
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
      { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
    ],
    // The default security group allows nothing (a CDK custom resource removes its rules).
    restrictDefaultSecurityGroup: true,
  });
  runDefaultSecurityGroupHandlerInVpc(vpc, logKey, settings.logRetentionDays);
  const flowLogs = new logs.LogGroup(scope, 'FlowLogs', {
    retention: settings.logRetentionDays as logs.RetentionDays,
    encryptionKey: logKey,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  vpc.addFlowLog('FlowLog', {
    destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
    trafficType: ec2.FlowLogTrafficType.ALL,
  });
  return vpc;
}
