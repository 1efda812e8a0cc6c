import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { OpsbotSettings } from './context.js';
import { CONTAINER_PORT } from './paths.js';

/** The only paths the load balancer forwards; everything else (/metrics, /readyz, …) is a 404 at the edge. */
export const PUBLIC_PATHS = ['/slack/events', '/webhooks/datadog'];

export interface OpsbotLoadBalancerProps {
  settings: OpsbotSettings;
  vpc: ec2.IVpc;
  service: ecs.FargateService;
}

/**
 * HTTP mode: an internet-facing ALB with an HTTPS listener (the context's certificate, TLS 1.2+),
 * forwarding POST /slack/events and POST /webhooks/datadog to the tasks on port 3000 and answering
 * 404 to anything else. Targets are healthy when /readyz answers 200 (secrets loaded, state store
 * answering). Access logs go to an encrypted, private bucket.
 */
export class OpsbotLoadBalancer extends Construct {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly listener: elbv2.ApplicationListener;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: OpsbotLoadBalancerProps) {
    super(scope, id);
    const { settings } = props;
    if (!settings.certificateArn) throw new Error('opsbot infra: http mode needs certificateArn');

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'opsbot load balancer: HTTPS in, to the tasks only',
      allowAllOutbound: false,
    });
    this.securityGroup = securityGroup;
    for (const cidr of settings.httpIngressCidrs)
      securityGroup.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), 'HTTPS from Slack and Datadog');
    if (settings.httpIngressCidrs.includes('0.0.0.0/0'))
      Validations.of(securityGroup).acknowledge({
        id: 'AwsSolutions-EC23',
        reason:
          'Slack and Datadog deliver from addresses they do not commit to, so 443 is open to the internet (narrow it with context "httpIngressCidrs"); every request is authenticated by the bot (Slack signature, Datadog webhook secret) and only two POST paths are forwarded',
      });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup,
      dropInvalidHeaderFields: true,
    });

    const logs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(settings.logRetentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(logs).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This bucket holds the load balancer access logs; logging access to the log bucket into yet another bucket would recurse. It is private, encrypted, TLS-only and expires objects',
    });
    this.loadBalancer.logAccessLogs(logs, 'alb');

    this.listener = this.loadBalancer.addListener('Https', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [elbv2.ListenerCertificate.fromArn(settings.certificateArn)],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      open: false,
      defaultAction: elbv2.ListenerAction.fixedResponse(404, {
        contentType: 'text/plain',
        messageBody: 'not found',
      }),
    });

    const targets = new elbv2.ApplicationTargetGroup(this, 'Targets', {
      vpc: props.vpc,
      port: CONTAINER_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      deregistrationDelay: Duration.seconds(15),
      healthCheck: {
        path: '/readyz',
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
      targets: [props.service],
    });
    this.listener.addAction('Bot', {
      priority: 10,
      conditions: [
        elbv2.ListenerCondition.pathPatterns(PUBLIC_PATHS),
        elbv2.ListenerCondition.httpRequestMethods(['POST']),
      ],
      action: elbv2.ListenerAction.forward([targets]),
    });
  }
}
