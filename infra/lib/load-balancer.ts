import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { OpsbotSettings } from './context.js';
import { acknowledgeControl } from './control-tower.js';
import { CONTAINER_PORT } from './paths.js';
import { AWS_EVENTS_PATH } from './secret-events.js';

/** The only paths the load balancer forwards; everything else (/metrics, /readyz, …) is a 404 at the edge. */
export const PUBLIC_PATHS = ['/slack/events', '/webhooks/datadog', AWS_EVENTS_PATH];

export interface OpsbotLoadBalancerProps {
  settings: OpsbotSettings;
  vpc: ec2.IVpc;
  service: ecs.FargateService;
}

/**
 * HTTP mode: an internet-facing ALB with an HTTPS listener (the context's certificate, TLS 1.2+),
 * forwarding POST /slack/events, POST /webhooks/datadog and POST /webhooks/aws-events (EventBridge)
 * to the tasks on port 3000 and answering 404 to anything else. Targets are healthy when /readyz answers 200 (secrets loaded, state store
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
          'Slack, Datadog and EventBridge API destinations deliver from addresses they do not commit to, so 443 is open to the internet (narrow it with context "httpIngressCidrs"); every request is authenticated by the bot (Slack signature, Datadog webhook secret, events key) and only three POST paths are forwarded',
      });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup,
      dropInvalidHeaderFields: true,
      // Control Tower CT.ELASTICLOADBALANCING.PR.5. Switching to slackMode "socket", or deleting the
      // stack, needs it turned off first (README.md, "Deploy it").
      deletionProtection: true,
    });

    const logs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Versioned (Control Tower CT.S3.PR.11), so an overwritten or deleted log stays recoverable for a
      // day; the current versions expire after logRetentionDays as before.
      versioned: true,
      lifecycleRules: [
        {
          expiration: Duration.days(settings.logRetentionDays),
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Object events go to the account's default EventBridge bus (Control Tower CT.S3.PR.4), set on
    // the bucket itself: CDK's eventBridgeEnabled would add a notifications Lambda outside the VPC.
    (logs.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    acknowledgeControl(
      logs,
      'CT.S3.PR.10',
      'Elastic Load Balancing writes access logs only to buckets encrypted with S3-managed keys (SSE-S3); with a KMS key the logs are never delivered, and CDK refuses the combination. The bucket is private, TLS-only and expires its objects. An organisation that enforces this control can run opsbot in Socket Mode, which has no load balancer',
    );
    acknowledgeControl(
      logs,
      'CT.S3.PR.2',
      'This bucket holds the load balancer access logs; logging access to it into yet another bucket would recurse (the same reason as AwsSolutions-S1). An organisation that enforces this control can run opsbot in Socket Mode, which has no load balancer and no bucket',
    );
    acknowledgeControl(
      logs,
      'CT.S3.PR.9',
      'The access logs are diagnostics kept logRetentionDays and then expired by the lifecycle rule; an Object Lock retention would block that expiry (in compliance mode for good), and a lock with no retention would satisfy the rule while protecting nothing. opsbot’s tamper-evident record is its own keyed audit chain. An organisation that enforces this control can run opsbot in Socket Mode, which has no bucket',
    );
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
