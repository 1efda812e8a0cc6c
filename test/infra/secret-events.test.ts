import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AWS_EVENTS_PATH,
  EVENTS_KEY_HEADER,
  EVENTS_QUEUE_TASK_ACTIONS,
  RULE_STATE,
  WATCHED_SECRET_CALLS,
} from '../../infra/lib/secret-events.js';
import { EVENTS_KEY_GENERATOR, EVENTS_SECRET, SECRET_NAMES } from '../../infra/lib/secrets.js';
import { eventsSecret } from '../../src/security/aws-events/events-secret.js';
import { parseSqsQueueUrl } from '../../src/security/config.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';
import { ROOT } from '../helpers/process.js';
import {
  actionsOf,
  HTTP_CONTEXT,
  type Json,
  list,
  logicalId,
  resourcesOf,
  resourcesOfType,
  roleStatements,
  type Statement,
  type Synthesized,
  synth,
} from './synth.js';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
/** HTTP mode where the recorded CloudTrail events (test/fixtures/cloudtrail) were made, with its DNS name. */
const HTTP_US_EAST = {
  slackMode: 'http',
  region: REGION,
  account: ACCOUNT,
  certificateArn: `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0f5e3c2a-1b2c-4d5e-8f90-123456789abc`,
  domainName: 'opsbot.example.com',
};
const ARN_PREFIX = {
  'Fn::Join': [
    '',
    ['arn:', { Ref: 'AWS::Partition' }, `:secretsmanager:${REGION}:${ACCOUNT}:secret:opsbot/`],
  ],
};
const FIXTURES = join(ROOT, 'test/fixtures/cloudtrail');
const RECORDED = [
  'get-secret-value.json',
  'put-secret-value.json',
  'update-secret-version-stage.json',
  'delete-secret.json',
  'rotate-secret-scheduled.json',
  'rotate-secret-by-user.json',
];

const only = <T>(items: T[]): T => {
  expect(items).toHaveLength(1);
  return items[0] as T;
};

/** Template JSON with the partition filled in (`aws`), as CloudFormation would in a commercial region. */
function inPartitionAws(value: Json): Json {
  if (Array.isArray(value)) return value.map(inPartitionAws);
  if (value === null || typeof value !== 'object') return value;
  if (value.Ref === 'AWS::Partition') return 'aws';
  // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub placeholder
  if (typeof value['Fn::Sub'] === 'string') return value['Fn::Sub'].replaceAll('${AWS::Partition}', 'aws');
  if (Array.isArray(value['Fn::Join'])) {
    const [separator, parts] = value['Fn::Join'] as [string, Json[]];
    return parts.map(inPartitionAws).join(separator);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inPartitionAws(v)]));
}

describe('HTTP mode: CloudTrail’s Secrets Manager calls on opsbot’s secrets go to POST /webhooks/aws-events', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth(HTTP_US_EAST);
  }, 60_000);
  afterAll(() => s?.cleanup());

  const secretEvents = () => s.stack.secretEvents as NonNullable<typeof s.stack.secretEvents>;
  const resource = (construct: Parameters<typeof logicalId>[0]) => s.json.Resources[logicalId(construct)];
  /** The destination's logical id (its L1 is not the construct's default child). */
  const destinationId = () => only(resourcesOfType(s.json, 'AWS::Events::ApiDestination'))[0];

  it('one rule on the default bus, receiving read-only calls too, matching exactly the watched calls on opsbot/*', () => {
    const [, rule] = only(resourcesOfType(s.json, 'AWS::Events::Rule'));
    expect(rule.Properties?.EventBusName).toBeUndefined();
    // ENABLED alone would leave GetSecretValue out: it is a read-only management event.
    expect(rule.Properties?.State).toBe(RULE_STATE);
    expect(RULE_STATE).toBe('ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS');
    expect(rule.Properties?.EventPattern).toEqual({
      source: ['aws.secretsmanager'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['secretsmanager.amazonaws.com'],
        eventName: [
          'GetSecretValue',
          'PutSecretValue',
          'UpdateSecretVersionStage',
          'DeleteSecret',
          'RotateSecret',
        ],
        requestParameters: { secretId: [{ prefix: 'opsbot/' }, { prefix: ARN_PREFIX }] },
      },
    });
  });

  it('the connection sends the events secret’s apiKey in X-Opsbot-Events-Key (a dynamic reference, never the value)', () => {
    const [, connection] = only(resourcesOfType(s.json, 'AWS::Events::Connection'));
    expect(connection.Properties?.AuthorizationType).toBe('API_KEY');
    expect(connection.Properties?.AuthParameters).toEqual({
      ApiKeyAuthParameters: {
        ApiKeyName: 'X-Opsbot-Events-Key',
        ApiKeyValue: {
          'Fn::Join': [
            '',
            [
              '{{resolve:secretsmanager:',
              { Ref: logicalId(s.stack.secrets.secret('events')) },
              ':SecretString:apiKey::}}',
            ],
          ],
        },
      },
    });
    expect(EVENTS_KEY_HEADER).toBe('X-Opsbot-Events-Key');
  });

  it('the API destination is POST https://<domainName>/webhooks/aws-events through that connection, rate limited', () => {
    const [, destination] = only(resourcesOfType(s.json, 'AWS::Events::ApiDestination'));
    expect(destination.Properties).toMatchObject({
      InvocationEndpoint: 'https://opsbot.example.com/webhooks/aws-events',
      HttpMethod: 'POST',
      InvocationRateLimitPerSecond: 10,
      ConnectionArn: { 'Fn::GetAtt': [only(resourcesOfType(s.json, 'AWS::Events::Connection'))[0], 'Arn'] },
    });
    expect(AWS_EVENTS_PATH).toBe('/webhooks/aws-events');
  });

  it('the load balancer forwards POST /webhooks/aws-events to the bot', () => {
    const [, rule] = only(resourcesOfType(s.json, 'AWS::ElasticLoadBalancingV2::ListenerRule'));
    const paths = list(rule.Properties?.Conditions as Json[]).find((c) => c.Field === 'path-pattern');
    expect(paths?.PathPatternConfig.Values).toContain('/webhooks/aws-events');
  });

  it('the rule’s only target is the destination, retried for 24 hours, with an encrypted 14-day dead-letter queue and its own role', () => {
    const [, rule] = only(resourcesOfType(s.json, 'AWS::Events::Rule'));
    const target = only(list(rule.Properties?.Targets) as Json[]);
    expect(target).toEqual({
      Id: expect.any(String),
      Arn: { 'Fn::GetAtt': [destinationId(), 'Arn'] },
      RoleArn: { 'Fn::GetAtt': [logicalId(secretEvents().role), 'Arn'] },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(secretEvents().deadLetterQueue), 'Arn'] } },
      RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
    });

    const queue = resource(secretEvents().deadLetterQueue);
    expect(queue?.Properties).toEqual({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
      RedriveAllowPolicy: { redrivePermission: 'allowAll' },
    });
    // Only this rule sends to it, over TLS.
    const [, policy] = only(
      resourcesOfType(s.json, 'AWS::SQS::QueuePolicy').filter(
        ([, p]) => p.Properties?.Queues?.[0]?.Ref === logicalId(secretEvents().deadLetterQueue),
      ),
    );
    const statements = list(policy.Properties?.PolicyDocument.Statement) as Statement[];
    const allows = statements.filter((st) => st.Effect === 'Allow');
    expect(allows).toEqual([
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Principal: { Service: 'events.amazonaws.com' },
        Condition: {
          ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(secretEvents().rule), 'Arn'] } },
        },
      }),
    ]);
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  it('no events queue: the task role has no SQS permission and the container no OPSBOT_EVENTS_QUEUE_URL', () => {
    expect(s.stack.secretEventsQueue).toBeUndefined();
    const actions = roleStatements(s.json, logicalId(s.stack.taskRole)).flatMap(actionsOf);
    expect(actions.filter((a) => a.startsWith('sqs:'))).toEqual([]);
    const [, taskDefinition] = only(resourcesOfType(s.json, 'AWS::ECS::TaskDefinition'));
    const names = (list(taskDefinition.Properties?.ContainerDefinitions[0].Environment) as Json[]).map(
      (e) => e.Name,
    );
    expect(names).not.toContain('OPSBOT_EVENTS_QUEUE_URL');
  });

  it('the role may invoke this destination and nothing else, and only EventBridge rules of this account assume it', () => {
    const roleId = logicalId(secretEvents().role);
    const statement = only(roleStatements(s.json, roleId));
    expect(statement.Effect).toBe('Allow');
    expect(actionsOf(statement)).toEqual(['events:InvokeApiDestination']);
    expect(resourcesOf(statement)).toEqual([{ 'Fn::GetAtt': [destinationId(), 'Arn'] }]);
    const role = s.json.Resources[roleId];
    expect(role?.Properties?.ManagedPolicyArns).toBeUndefined();
    const trust = only(list(role?.Properties?.AssumeRolePolicyDocument.Statement) as Statement[]);
    expect(trust.Principal).toEqual({ Service: 'events.amazonaws.com' });
    expect(trust.Condition?.StringEquals).toEqual({ 'aws:SourceAccount': ACCOUNT });
    expect(inPartitionAws(trust.Condition?.ArnLike)).toEqual({
      'aws:SourceArn': `arn:aws:events:${REGION}:${ACCOUNT}:rule/*`,
    });
  });

  it('the events secret: {"apiKey": 48 letters and digits} generated by CloudFormation; the task role and CloudFormation read it, nobody else', () => {
    const secret = resource(s.stack.secrets.secret(EVENTS_SECRET));
    expect(secret?.Properties?.Name).toBe('opsbot/events');
    expect(secret?.Properties?.SecretString).toBeUndefined();
    expect(secret?.Properties?.GenerateSecretString).toEqual({
      SecretStringTemplate: '{}',
      GenerateStringKey: 'apiKey',
      PasswordLength: 48,
      ExcludePunctuation: true,
      IncludeSpace: false,
      RequireEachIncludedType: false,
    });
    const task = { 'Fn::GetAtt': [logicalId(s.stack.taskRole), 'Arn'] };
    const reads = roleStatements(s.json, logicalId(s.stack.taskRole)).find(
      (st) => st.Sid === 'ReadOwnSecrets',
    );
    expect(resourcesOf(reads as Statement)).toContainEqual({
      Ref: logicalId(s.stack.secrets.secret('events')),
    });
    const [, policy] = only(
      resourcesOfType(s.json, 'AWS::SecretsManager::ResourcePolicy').filter(
        ([, p]) => p.Properties?.SecretId?.Ref === logicalId(s.stack.secrets.secret('events')),
      ),
    );
    const denyReads = only(
      (list(policy.Properties?.ResourcePolicy.Statement) as Statement[]).filter((st) =>
        actionsOf(st).includes('secretsmanager:GetSecretValue'),
      ),
    );
    expect(denyReads.Effect).toBe('Deny');
    expect(inPartitionAws(denyReads.Condition)).toEqual({
      StringNotEquals: {
        'aws:PrincipalArn': [
          task,
          `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`,
        ],
      },
    });
  });

  it('such a generated key is one the bot accepts, and fits in a header as it is', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    const key = fc
      .array(fc.constantFrom(...alphabet), {
        minLength: EVENTS_KEY_GENERATOR.passwordLength,
        maxLength: EVENTS_KEY_GENERATOR.passwordLength,
      })
      .map((chars) => chars.join(''));
    fc.assert(
      fc.property(key, (apiKey) => {
        expect(eventsSecret.schema.safeParse({ apiKey }).success).toBe(true);
        expect(() => new Headers({ [EVENTS_KEY_HEADER]: apiKey })).not.toThrow();
      }),
    );
  });

  describe('the synthesized pattern against EventBridge’s matching (moto), with recorded CloudTrail events', () => {
    let moto: Moto | undefined;
    let bus: EventBus;
    beforeAll(async () => {
      moto = await startMoto();
      if (!moto) return warnMotoMissing('test/infra/secret-events.test.ts');
      const [, rule] = only(resourcesOfType(s.json, 'AWS::Events::Rule'));
      bus = await EventBus.withRule(moto.url, inPartitionAws(rule.Properties?.EventPattern));
    }, 30_000);
    afterAll(async () => moto?.stop());

    const recorded = (file: string): Json => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8'));

    it('every recorded call on an opsbot secret reaches the target', async (t) => {
      if (!moto) return t.skip();
      for (const file of RECORDED) expect(await bus.delivered(recorded(file)), file).toBe(true);
    });

    it('a call reaches it exactly when it is a watched call on opsbot/* here, by name or ARN (property)', async (t) => {
      if (!moto) return t.skip();
      const template = recorded('get-secret-value.json');
      const calls = fc.constantFrom(
        ...WATCHED_SECRET_CALLS,
        'DescribeSecret',
        'ListSecretVersionIds',
        'GetResourcePolicy',
      );
      const names = fc.oneof(
        fc.constantFrom(...SECRET_NAMES, 'datadog-rotation'),
        fc.stringMatching(/^[A-Za-z0-9_+=.@-]{1,20}$/),
      );
      const prefixes = fc.constantFrom('opsbot/', 'opsbot', 'other/', 'prod/opsbot/', 'OPSBOT/');
      const accounts = fc.constantFrom(ACCOUNT, '999988887777');
      const forms = fc.constantFrom('name', 'arn', 'partial arn');
      await fc.assert(
        fc.asyncProperty(
          calls,
          prefixes,
          names,
          accounts,
          forms,
          async (call, prefix, name, account, form) => {
            const arn = `arn:aws:secretsmanager:${REGION}:${account}:secret:${prefix}${name}`;
            const secretId = form === 'name' ? `${prefix}${name}` : form === 'arn' ? `${arn}-AbC123` : arn;
            const event = structuredClone(template);
            event.detail.eventName = call;
            event.detail.requestParameters = { secretId };
            const ours =
              prefix === 'opsbot/' &&
              (form === 'name' || account === ACCOUNT) &&
              (WATCHED_SECRET_CALLS as readonly string[]).includes(call);
            expect(await bus.delivered(event)).toBe(ours);
          },
        ),
        { numRuns: 60 },
      );
    }, 60_000);
  });
});

describe('HTTP mode without domainName', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth(HTTP_CONTEXT);
  }, 60_000);
  afterAll(() => s?.cleanup());

  it('calls the load balancer by its own name, and the synth warns that the certificate does not cover it', () => {
    const [, destination] = only(resourcesOfType(s.json, 'AWS::Events::ApiDestination'));
    const loadBalancer = logicalId(
      s.stack.loadBalancer?.loadBalancer as NonNullable<typeof s.stack.loadBalancer>['loadBalancer'],
    );
    expect(destination.Properties?.InvocationEndpoint).toEqual({
      'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [loadBalancer, 'DNSName'] }, '/webhooks/aws-events']],
    });
    const messages = s.app.synth().getStackArtifact(s.stack.artifactId).messages;
    expect(messages.filter((m) => m.level === 'warning').map((m) => String(m.entry.data))).toContainEqual(
      expect.stringMatching(/set -c domainName=<the DNS name on the certificate>/),
    );
  });
});

describe('Socket Mode: the same calls go to an SQS queue the bot long-polls', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ region: REGION, account: ACCOUNT });
  }, 60_000);
  afterAll(() => s?.cleanup());

  const queued = () => s.stack.secretEventsQueue as NonNullable<typeof s.stack.secretEventsQueue>;
  const resource = (construct: Parameters<typeof logicalId>[0]) => s.json.Resources[logicalId(construct)];
  const queueArn = () => ({ 'Fn::GetAtt': [logicalId(queued().queue), 'Arn'] });
  const deadLetterArn = () => ({ 'Fn::GetAtt': [logicalId(queued().deadLetterQueue), 'Arn'] });
  const policyOf = (queue: Parameters<typeof logicalId>[0]) => {
    const [, policy] = only(
      resourcesOfType(s.json, 'AWS::SQS::QueuePolicy').filter(
        ([, p]) => p.Properties?.Queues?.[0]?.Ref === logicalId(queue),
      ),
    );
    return list(policy.Properties?.PolicyDocument.Statement) as Statement[];
  };

  it('no HTTP path: no connection, API destination or EventBridge role', () => {
    expect(s.stack.secretEvents).toBeUndefined();
    for (const type of ['AWS::Events::Connection', 'AWS::Events::ApiDestination'])
      expect(resourcesOfType(s.json, type), type).toEqual([]);
    const trusts = resourcesOfType(s.json, 'AWS::IAM::Role').map(([, r]) =>
      JSON.stringify(r.Properties?.AssumeRolePolicyDocument),
    );
    expect(trusts.filter((t) => t.includes('events.amazonaws.com'))).toEqual([]);
  });

  it('one rule, as in HTTP mode (read-only calls included, the watched calls on opsbot/*), whose only target is the queue', () => {
    const [, rule] = only(resourcesOfType(s.json, 'AWS::Events::Rule'));
    expect(rule.Properties?.EventBusName).toBeUndefined();
    expect(rule.Properties?.State).toBe(RULE_STATE);
    expect(rule.Properties?.EventPattern).toEqual({
      source: ['aws.secretsmanager'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['secretsmanager.amazonaws.com'],
        eventName: [...WATCHED_SECRET_CALLS],
        requestParameters: { secretId: [{ prefix: 'opsbot/' }, { prefix: ARN_PREFIX }] },
      },
    });
    // The whole event as the message body (no InputTransformer): what the API destination POSTs.
    expect(only(list(rule.Properties?.Targets) as Json[])).toEqual({
      Id: expect.any(String),
      Arn: queueArn(),
      DeadLetterConfig: { Arn: deadLetterArn() },
      RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
    });
  });

  it('the queue: encrypted by SQS, 4 days, a 60-second visibility timeout, dead-lettered after 5 receives', () => {
    expect(resource(queued().queue)?.Properties).toEqual({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 4 * 24 * 3600,
      VisibilityTimeout: 60,
      RedrivePolicy: { deadLetterTargetArn: deadLetterArn(), maxReceiveCount: 5 },
    });
    expect(resource(queued().deadLetterQueue)?.Properties).toEqual({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
      RedriveAllowPolicy: { redrivePermission: 'allowAll' },
    });
    expect(resourcesOfType(s.json, 'AWS::SQS::Queue')).toHaveLength(2);
  });

  it('only this rule sends to either queue, and both refuse requests without TLS', () => {
    const ruleArn = { 'Fn::GetAtt': [logicalId(queued().rule), 'Arn'] };
    // The queue target's grant is CDK's grantSendMessages (SendMessage and the two reads that go
    // with it); the dead-letter configuration's is SendMessage alone.
    for (const [queue, actions] of [
      [queued().queue, ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl']],
      [queued().deadLetterQueue, 'sqs:SendMessage'],
    ] as const) {
      const statements = policyOf(queue);
      expect(statements.filter((st) => st.Effect === 'Allow')).toEqual([
        expect.objectContaining({
          Action: actions,
          Principal: { Service: 'events.amazonaws.com' },
          Condition: { ArnEquals: { 'aws:SourceArn': ruleArn } },
        }),
      ]);
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  it('the task role may consume the queue (receive, delete, change visibility, read attributes) and nothing else on SQS', () => {
    const statements = roleStatements(s.json, logicalId(s.stack.taskRole));
    const sqs = statements.filter((st) => actionsOf(st).some((a) => a.startsWith('sqs:')));
    const statement = only(sqs);
    expect(statement.Effect).toBe('Allow');
    expect(actionsOf(statement).sort()).toEqual([...EVENTS_QUEUE_TASK_ACTIONS].sort());
    expect(actionsOf(statement).sort()).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:ReceiveMessage',
    ]);
    expect(resourcesOf(statement)).toEqual([queueArn()]);
    // SSE-SQS: no key to decrypt with beyond what the task role had before.
    expect(statements.flatMap(actionsOf).filter((a) => a.startsWith('kms:'))).toEqual(['kms:Decrypt']);
  });

  it('tells the container the queue (OPSBOT_EVENTS_QUEUE_URL), a URL the bot takes', () => {
    const [, taskDefinition] = only(resourcesOfType(s.json, 'AWS::ECS::TaskDefinition'));
    const environment = list(taskDefinition.Properties?.ContainerDefinitions[0].Environment) as Json[];
    expect(environment).toContainEqual({
      Name: 'OPSBOT_EVENTS_QUEUE_URL',
      Value: { Ref: logicalId(queued().queue) },
    });
    // What CloudFormation makes of that Ref: https://sqs.<region>.amazonaws.com/<account>/<stack>-<id>-<suffix>.
    const url = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/Opsbot-SecretEventsQueueQueue1A2B3C4D-AbCdEf012345`;
    expect(parseSqsQueueUrl(url)).toEqual({ ok: true, value: url });
  });

  it('names the dead-letter queue in an output', () => {
    expect(s.json.Outputs?.SecretEventsDeadLetterQueue?.Value).toEqual({
      Ref: logicalId(queued().deadLetterQueue),
    });
  });
});

describe('HTTP mode, secrets from Vault', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({
      ...HTTP_CONTEXT,
      secretSource: 'vault',
      vault: { addr: 'https://vault.internal:8200', role: 'opsbot' },
    });
  }, 60_000);
  afterAll(() => s?.cleanup());

  it('creates no rule, connection, destination, queue or EventBridge role, and a synth note says why', () => {
    for (const type of [
      'AWS::Events::Rule',
      'AWS::Events::Connection',
      'AWS::Events::ApiDestination',
      'AWS::SQS::Queue',
    ])
      expect(resourcesOfType(s.json, type), type).toEqual([]);
    expect(s.stack.secretEvents).toBeUndefined();
    expect(s.stack.secretEventsQueue).toBeUndefined();
    const names = resourcesOfType(s.json, 'AWS::SecretsManager::Secret').map(([, r]) => r.Properties?.Name);
    expect(names).toEqual([]);
    const trusts = resourcesOfType(s.json, 'AWS::IAM::Role').map(([, r]) =>
      JSON.stringify(r.Properties?.AssumeRolePolicyDocument),
    );
    expect(trusts.filter((t) => t.includes('events.amazonaws.com'))).toEqual([]);
    const messages = s.app.synth().getStackArtifact(s.stack.artifactId).messages;
    expect(messages.filter((m) => m.level === 'info').map((m) => String(m.entry.data))).toContainEqual(
      expect.stringMatching(/secrets in Vault: no EventBridge rule/),
    );
  });
});

/**
 * moto's EventBridge (an independent implementation of its matching) over HTTP, signed as the AWS
 * SDK would: one rule with the pattern under test, targeting an SQS queue; an event "reaches the
 * target" when PutEvents delivered it to the queue (moto delivers before PutEvents answers).
 */
class EventBus {
  private constructor(
    private readonly url: string,
    private readonly queueUrl: string,
  ) {}

  static async withRule(url: string, pattern: Json): Promise<EventBus> {
    const { QueueUrl } = await call(url, 'sqs', 'AmazonSQS.CreateQueue', { QueueName: 'secret-events' });
    const { Attributes } = await call(url, 'sqs', 'AmazonSQS.GetQueueAttributes', {
      QueueUrl,
      AttributeNames: ['QueueArn'],
    });
    await call(url, 'events', 'AWSEvents.PutRule', {
      Name: 'opsbot-secret-events',
      EventPattern: JSON.stringify(pattern),
      State: RULE_STATE,
    });
    await call(url, 'events', 'AWSEvents.PutTargets', {
      Rule: 'opsbot-secret-events',
      Targets: [{ Id: 'queue', Arn: Attributes.QueueArn }],
    });
    return new EventBus(url, QueueUrl);
  }

  /** Puts the CloudTrail event on the default bus; was it delivered to the rule's target? */
  async delivered(event: Json): Promise<boolean> {
    const put = await call(this.url, 'events', 'AWSEvents.PutEvents', {
      Entries: [
        { Source: event.source, DetailType: event['detail-type'], Detail: JSON.stringify(event.detail) },
      ],
    });
    expect(put.FailedEntryCount).toBe(0);
    const { Messages = [] } = await call(this.url, 'sqs', 'AmazonSQS.ReceiveMessage', {
      QueueUrl: this.queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
    });
    for (const m of Messages as Json[])
      await call(this.url, 'sqs', 'AmazonSQS.DeleteMessage', {
        QueueUrl: this.queueUrl,
        ReceiptHandle: m.ReceiptHandle,
      });
    expect(Messages.length).toBeLessThanOrEqual(1);
    if (Messages.length === 1) expect(JSON.parse(Messages[0].Body).detail).toEqual(event.detail);
    return Messages.length === 1;
  }
}

async function call(url: string, service: 'events' | 'sqs', target: string, body: unknown): Promise<Json> {
  const endpoint = new URL(url);
  const signer = new SignatureV4({
    // Generated per run: moto takes any credentials.
    credentials: { accessKeyId: 'AKIATESTKEY', secretAccessKey: crypto.randomUUID() },
    region: REGION,
    service,
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      port: Number(endpoint.port),
      path: '/',
      headers: {
        host: endpoint.host,
        'content-type': service === 'sqs' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1',
        'x-amz-target': target,
      },
      body: JSON.stringify(body),
    }),
  );
  const response = await fetch(url, {
    method: 'POST',
    headers: signed.headers as Record<string, string>,
    body: signed.body as string,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${target}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : {};
}
