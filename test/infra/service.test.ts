import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROTATED_SECRETS } from '../../infra/lib/rotated-secrets.js';
import {
  CERTIFICATE_ARN,
  HTTP_CONTEXT,
  type Json,
  list,
  logicalId,
  resourcesOfType,
  type Synthesized,
  synth,
} from './synth.js';

const SECRET_LOOKING =
  /xox[abp]-|xapp-|ghp_|github_pat_|BEGIN [A-Z ]*PRIVATE KEY|chainKey|signingSecret|apiToken|appKey|webhookSecret/;

function containerOf(s: Synthesized) {
  const taskDefinitions = resourcesOfType(s.json, 'AWS::ECS::TaskDefinition');
  expect(taskDefinitions).toHaveLength(1);
  const containers = taskDefinitions[0]?.[1].Properties?.ContainerDefinitions;
  expect(containers).toHaveLength(1);
  return containers[0];
}

function env(s: Synthesized): Record<string, unknown> {
  return Object.fromEntries(
    list(containerOf(s).Environment).map((e: Json) => [e.Name as string, e.Value as unknown]),
  );
}

/** Every byte size under a directory (to see what the asset staging copied). */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('the service in Socket Mode (the default)', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({}, { staging: true });
  }, 60_000);
  afterAll(() => s?.cleanup());

  it('has no load balancer and no ingress at all', () => {
    expect(
      Object.values(s.json.Resources).filter((r) => r.Type.startsWith('AWS::ElasticLoadBalancingV2::')),
    ).toEqual([]);
    const sg = s.json.Resources[logicalId(s.stack.service.securityGroup)];
    expect(sg?.Properties?.SecurityGroupIngress).toBeUndefined();
    expect(resourcesOfType(s.json, 'AWS::EC2::SecurityGroupIngress')).toEqual([]);
    expect(containerOf(s).PortMappings).toBeUndefined();
    expect(sg?.Properties?.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }),
    ]);
  });

  it('runs the desired count (2 by default) in private subnets, without ECS Exec', () => {
    const [, service] = resourcesOfType(s.json, 'AWS::ECS::Service')[0] ?? [];
    expect(service?.Properties?.DesiredCount).toBe(2);
    expect(service?.Properties?.LaunchType).toBe('FARGATE');
    expect(service?.Properties?.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).toBe('DISABLED');
    expect(service?.Properties?.EnableExecuteCommand).toBe(false);
  });

  it('tells the bot where everything is, and holds no secret value: DynamoDB state, AWS secrets, Socket Mode', () => {
    const variables = env(s);
    expect(variables).toEqual({
      OPSBOT_SECRET_SOURCE: 'aws',
      OPSBOT_SECRET_PREFIX: 'opsbot/',
      OPSBOT_SLACK_MODE: 'socket',
      OPSBOT_STATE: { 'Fn::Join': ['', ['dynamodb:', { Ref: logicalId(s.stack.state.table) }]] },
      OPSBOT_CONFIG: '/app/opsbot.yaml',
      PORT: '3000',
      OPSBOT_DEVENV_ROLE_ARN: { 'Fn::GetAtt': [logicalId(s.stack.devenv.role), 'Arn'] },
      // Socket Mode: CloudTrail's calls on opsbot's secrets come through a queue the bot polls.
      OPSBOT_EVENTS_QUEUE_URL: { Ref: logicalId(s.stack.secretEventsQueue?.queue as IConstruct) },
      AWS_REGION: { Ref: 'AWS::Region' },
    });
    expect(containerOf(s).Secrets).toBeUndefined();
    expect(JSON.stringify(containerOf(s))).not.toMatch(SECRET_LOOKING);
  });

  it('runs as the non-root user on a read-only root filesystem, /tmp its only writable path, every capability dropped', () => {
    const container = containerOf(s);
    expect(container.ReadonlyRootFilesystem).toBe(true);
    expect(container.User).toBe('node');
    expect(container.MountPoints).toEqual([{ ContainerPath: '/tmp', ReadOnly: false, SourceVolume: 'tmp' }]);
    expect(container.LinuxParameters.Capabilities.Drop).toEqual(['ALL']);
    expect(container.HealthCheck.Command.join(' ')).toContain('/healthz');
    const [, taskDefinition] = resourcesOfType(s.json, 'AWS::ECS::TaskDefinition')[0] ?? [];
    // A task-scoped volume, no host path.
    expect(taskDefinition?.Properties?.Volumes).toEqual([{ Name: 'tmp' }]);
  });

  it('logs to CloudWatch for a year, encrypted with the stack’s log key', () => {
    const options = containerOf(s).LogConfiguration;
    expect(options.LogDriver).toBe('awslogs');
    const group = s.json.Resources[logicalId(s.stack.service.logGroup)];
    expect(options.Options['awslogs-group']).toEqual({ Ref: logicalId(s.stack.service.logGroup) });
    expect(group?.Properties?.RetentionInDays).toBe(365);
    expect(group?.Properties?.KmsKeyId).toEqual({ 'Fn::GetAtt': [logicalId(s.stack.logKey.key), 'Arn'] });
  });

  it('gives its one container the whole task’s memory as a hard limit', () => {
    const [, taskDefinition] = resourcesOfType(s.json, 'AWS::ECS::TaskDefinition')[0] ?? [];
    expect(containerOf(s).Memory).toBe(1024);
    expect(taskDefinition?.Properties?.Memory).toBe('1024');
  });

  it('every log group of the stack expires after a year at the earliest and is encrypted with the log key', () => {
    const groups = resourcesOfType(s.json, 'AWS::Logs::LogGroup');
    // Container logs, VPC flow logs, the default security group handler's logs, one per
    // rotation function (infra/lib/rotation.ts) and the Datadog intake's (infra/lib/intake.ts).
    expect(groups).toHaveLength(3 + ROTATED_SECRETS.length + 1);
    for (const [id, group] of groups) {
      expect(group.Properties?.RetentionInDays, id).toBeGreaterThanOrEqual(365);
      expect(group.Properties?.KmsKeyId, id).toEqual({
        'Fn::GetAtt': [logicalId(s.stack.logKey.key), 'Arn'],
      });
    }
  });

  it('the log key: rotated, usable by CloudWatch Logs for this account’s log groups only, no grants but for AWS services', () => {
    const key = s.json.Resources[logicalId(s.stack.logKey.key)];
    expect(key?.Properties?.EnableKeyRotation).toBe(true);
    expect(key?.DeletionPolicy).toBe('Retain');
    const statements = key?.Properties?.KeyPolicy.Statement as Json[];
    const logs = statements.find((st) => st.Sid === 'CloudWatchLogsEncryptsThisAccountsLogGroups');
    expect(logs?.Principal).toEqual({
      Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
    });
    expect(JSON.stringify(logs?.Condition?.ArnLike?.['kms:EncryptionContext:aws:logs:arn'])).toContain(
      ':log-group:*',
    );
    const grants = statements.find((st) => st.Sid === 'GrantsOnlyForAwsServices');
    expect(grants).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:CreateGrant',
      Resource: '*',
      Condition: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    });
  });

  it('no subnet gives what it launches a public address', () => {
    const subnets = resourcesOfType(s.json, 'AWS::EC2::Subnet');
    expect(subnets.length).toBe(4);
    for (const [id, subnet] of subnets) expect(subnet.Properties?.MapPublicIpOnLaunch, id).not.toBe(true);
  });

  it('every Lambda function runs in the VPC’s private subnets, behind a security group that allows HTTPS out only', () => {
    const functions = resourcesOfType(s.json, 'AWS::Lambda::Function');
    // CDK's handler that empties the VPC's default security group, the rotation functions and the
    // Datadog intake.
    expect(functions).toHaveLength(1 + ROTATED_SECRETS.length + 1);
    const privateSubnets = s.stack.service.service.cluster.vpc.privateSubnets.map((subnet) => ({
      Ref: logicalId(subnet.node.defaultChild as IConstruct),
    }));
    for (const [id, fn] of functions) {
      expect(fn.Properties?.VpcConfig?.SubnetIds, id).toEqual(privateSubnets);
      const groups = list(fn.Properties?.VpcConfig?.SecurityGroupIds) as Json[];
      expect(groups, id).toHaveLength(1);
      const group = s.json.Resources[groups[0]['Fn::GetAtt'][0]];
      expect(group?.Properties?.SecurityGroupIngress).toBeUndefined();
      expect(group?.Properties?.SecurityGroupEgress).toEqual([
        expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
      ]);
      expect(fn.Properties?.LoggingConfig?.LogGroup).toEqual({ Ref: expect.any(String) });
      const role = s.json.Resources[fn.Properties?.Role['Fn::GetAtt'][0]];
      expect(JSON.stringify(role?.Properties?.ManagedPolicyArns)).toContain(
        'service-role/AWSLambdaVPCAccessExecutionRole',
      );
    }
    // It runs once the private subnets can reach the EC2 API, and on deletion before they cannot.
    const [, restrict] = resourcesOfType(s.json, 'Custom::VpcRestrictDefaultSG')[0] ?? [];
    expect(JSON.stringify((restrict as Json)?.DependsOn)).toMatch(/privateSubnet1DefaultRoute/);
  });

  it('the State table: pk/sk strings, on-demand, TTL expiresAt, point-in-time recovery, encryption, deletion protection', () => {
    const table = s.json.Resources[logicalId(s.stack.state.table)];
    expect(table?.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      DeletionProtectionEnabled: true,
    });
    expect(table?.DeletionPolicy).toBe('Retain');
  });

  it('stages the image’s build context without node_modules, cdk.out, dist or .git, and with the Dockerfile and config file', () => {
    const assets = readdirSync(s.outdir).filter((name) => name.startsWith('asset.'));
    const context = assets
      .map((a) => join(s.outdir, a))
      .find((dir) => existsSync(join(dir, 'infra/Dockerfile')));
    expect(context, 'an asset directory with infra/Dockerfile').toBeDefined();
    const staged = files(context as string).map((f) => f.slice((context as string).length + 1));
    for (const excluded of ['node_modules/', 'cdk.out/', 'dist/', '.git/', 'test/', 'src/sandbox/'])
      expect(staged.filter((f) => f.startsWith(excluded) || f.includes(`/${excluded}`))).toEqual([]);
    expect(staged).toContain('package-lock.json');
    expect(staged).toContain('src/main.ts');
    expect(staged).toContain('infra/opsbot.example.yaml');
    expect(staged.length).toBeLessThan(2_000);
  });
});

describe('the service in HTTP mode', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ ...HTTP_CONTEXT, desiredCount: 3 });
  }, 60_000);
  afterAll(() => s?.cleanup());

  it('listens on HTTPS 443 with the context’s certificate, forwarding only the three POST paths; anything else is a 404', () => {
    const listeners = resourcesOfType(s.json, 'AWS::ElasticLoadBalancingV2::Listener');
    expect(listeners).toHaveLength(1);
    const listener = listeners[0]?.[1].Properties;
    expect(listener?.Port).toBe(443);
    expect(listener?.Protocol).toBe('HTTPS');
    expect(listener?.Certificates).toEqual([{ CertificateArn: CERTIFICATE_ARN }]);
    expect(listener?.SslPolicy).toMatch(/TLS13/);
    expect(listener?.DefaultActions).toEqual([
      expect.objectContaining({
        Type: 'fixed-response',
        FixedResponseConfig: expect.objectContaining({ StatusCode: '404' }),
      }),
    ]);
    const rules = resourcesOfType(s.json, 'AWS::ElasticLoadBalancingV2::ListenerRule');
    expect(rules).toHaveLength(1);
    const conditions = rules[0]?.[1].Properties?.Conditions;
    expect(conditions).toContainEqual({
      Field: 'path-pattern',
      PathPatternConfig: { Values: ['/slack/events', '/webhooks/datadog', '/webhooks/aws-events'] },
    });
    expect(conditions).toContainEqual({
      Field: 'http-request-method',
      HttpRequestMethodConfig: { Values: ['POST'] },
    });
  });

  it('sends traffic to the tasks on port 3000, healthy when /readyz answers', () => {
    const groups = resourcesOfType(s.json, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(groups).toHaveLength(1);
    expect(groups[0]?.[1].Properties).toMatchObject({
      Port: 3000,
      Protocol: 'HTTP',
      TargetType: 'ip',
      HealthCheckPath: '/readyz',
    });
    expect(containerOf(s).PortMappings).toEqual([{ ContainerPort: 3000, Protocol: 'tcp' }]);
    expect(env(s).OPSBOT_SLACK_MODE).toBe('http');
    const [, service] = resourcesOfType(s.json, 'AWS::ECS::Service')[0] ?? [];
    expect(service?.Properties?.DesiredCount).toBe(3);
  });

  it('lets the internet reach the load balancer on 443 only, and the tasks only from the load balancer on 3000', () => {
    const lb = s.stack.loadBalancer;
    if (!lb) throw new Error('http mode has a load balancer');
    const lbId = logicalId(lb.securityGroup);
    const lbGroup = s.json.Resources[lbId];
    expect(lbGroup?.Properties?.SecurityGroupIngress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }),
    ]);
    const taskGroupId = logicalId(s.stack.service.securityGroup);
    const taskIngress = resourcesOfType(s.json, 'AWS::EC2::SecurityGroupIngress').filter(
      ([, r]) =>
        JSON.stringify(r.Properties?.GroupId) === JSON.stringify({ 'Fn::GetAtt': [taskGroupId, 'GroupId'] }),
    );
    expect(taskIngress).toHaveLength(1);
    expect(taskIngress[0]?.[1].Properties).toMatchObject({
      FromPort: 3000,
      ToPort: 3000,
      SourceSecurityGroupId: { 'Fn::GetAtt': [lbId, 'GroupId'] },
    });
    // And the load balancer may only reach the tasks.
    expect(lbGroup?.Properties?.SecurityGroupEgress).toBeUndefined();
    const lbEgress = resourcesOfType(s.json, 'AWS::EC2::SecurityGroupEgress').filter(
      ([, r]) =>
        JSON.stringify(r.Properties?.GroupId) === JSON.stringify({ 'Fn::GetAtt': [lbId, 'GroupId'] }),
    );
    expect(lbEgress.map(([, r]) => r.Properties)).toEqual([
      expect.objectContaining({
        FromPort: 3000,
        ToPort: 3000,
        DestinationSecurityGroupId: { 'Fn::GetAtt': [taskGroupId, 'GroupId'] },
      }),
    ]);
  });

  it('keeps access logs, drops invalid headers, and cannot be deleted by accident', () => {
    const [, lb] = resourcesOfType(s.json, 'AWS::ElasticLoadBalancingV2::LoadBalancer')[0] ?? [];
    expect(lb?.Properties?.Scheme).toBe('internet-facing');
    const attributes = Object.fromEntries(
      list(lb?.Properties?.LoadBalancerAttributes).map((a: Json) => [a.Key, a.Value]),
    );
    expect(attributes['access_logs.s3.enabled']).toBe('true');
    expect(attributes['routing.http.drop_invalid_header_fields.enabled']).toBe('true');
    expect(attributes['deletion_protection.enabled']).toBe('true');
  });

  it('the access-log bucket: versioned, old versions gone after a day, events to EventBridge without a Lambda', () => {
    const buckets = resourcesOfType(s.json, 'AWS::S3::Bucket');
    expect(buckets).toHaveLength(1);
    const bucket = buckets[0]?.[1].Properties;
    expect(bucket?.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket?.LifecycleConfiguration?.Rules).toEqual([
      expect.objectContaining({ ExpirationInDays: 365, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }),
    ]);
    expect(bucket?.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    // The default security group's handler and the rotation functions: nothing for the bucket.
    expect(resourcesOfType(s.json, 'AWS::Lambda::Function')).toHaveLength(1 + ROTATED_SECRETS.length);
  });
});
