import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROTATED_SECRETS } from '../../infra/lib/rotated-secrets.js';
import { ROTATION_SECRET_ACTIONS } from '../../infra/lib/rotation.js';
import { SECRET_NAMES } from '../../infra/lib/secrets.js';
import { EMERGENCY_TAG } from '../../src/rotation/steps.js';
import {
  actionsOf,
  allIdentityStatements,
  type CfnResource,
  covers,
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

const VIA_SECRETS_MANAGER = {
  'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']],
};
const VPC_ACCESS = {
  'Fn::Join': [
    '',
    ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole'],
  ],
};
/** Actions that write a value or its labels, or change how a secret rotates: never the bot's. */
const VALUE_WRITES = [
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:UpdateSecret',
  'secretsmanager:CancelRotateSecret',
  'secretsmanager:CreateSecret',
  'secretsmanager:DeleteSecret',
  'secretsmanager:UntagResource',
  'secretsmanager:PutResourcePolicy',
];

describe('the rotation functions (default context)', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth();
  }, 60_000);
  afterAll(() => s?.cleanup());

  const ref = (construct: Parameters<typeof logicalId>[0]) => ({ Ref: logicalId(construct) });
  const secretRef = (name: string) => ref(s.stack.secrets.secret(name));
  const rotationKeysRef = () =>
    ref(s.stack.rotation.datadogRotation as NonNullable<typeof s.stack.rotation.datadogRotation>);
  const fnOf = (name: string): CfnResource => {
    const fn = s.stack.rotation.functions[name];
    if (!fn) throw new Error(`no rotation function for ${name}`);
    return s.json.Resources[logicalId(fn)] as CfnResource;
  };
  const roleIdOf = (name: string) =>
    logicalId(s.stack.rotation.roles[name] as NonNullable<(typeof s.stack.rotation.roles)[string]>);

  it('one function per rotated secret, each with its own role: every secret the bot reads that has a rotation kind', () => {
    expect([...ROTATED_SECRETS].sort()).toEqual(['audit', 'datadog', 'github', 'jira', 'slack']);
    for (const name of ROTATED_SECRETS) expect(SECRET_NAMES).toContain(name);
    const roles = ROTATED_SECRETS.map((name) => fnOf(name).Properties?.Role['Fn::GetAtt'][0]);
    expect(new Set(roles).size).toBe(ROTATED_SECRETS.length);
    expect(roles).toEqual(ROTATED_SECRETS.map(roleIdOf));
  });

  it('runs the bundled src/rotation/lambda.ts on Node.js 22 with the server’s prefix, one step at a time', () => {
    for (const name of ROTATED_SECRETS) {
      const p = fnOf(name).Properties;
      expect(p?.Runtime, name).toBe('nodejs22.x');
      expect(p?.Handler, name).toBe('index.handler');
      // No reservation unless context asks: a new account's limit of 10 cannot spare any.
      expect(p?.ReservedConcurrentExecutions, name).toBeUndefined();
      expect(p?.Timeout, name).toBe(60);
      expect(p?.Environment?.Variables, name).toEqual({ OPSBOT_SECRET_PREFIX: 'opsbot/' });
    }
    // One asset for every function: the bundle is built and uploaded once.
    const keys = new Set(ROTATED_SECRETS.map((name) => JSON.stringify(fnOf(name).Properties?.Code)));
    expect(keys.size).toBe(1);
  });

  it('logs to its own log group, encrypted with the stack’s log key, kept logRetentionDays', () => {
    const groups = new Set<string>();
    for (const name of ROTATED_SECRETS) {
      const group = fnOf(name).Properties?.LoggingConfig?.LogGroup as Json;
      expect(group, name).toEqual({ Ref: logicalId(s.stack.rotation.logGroups[name] as never) });
      groups.add(group.Ref);
      const resource = s.json.Resources[group.Ref];
      expect(resource?.Properties?.KmsKeyId).toEqual({
        'Fn::GetAtt': [logicalId(s.stack.logKey.key), 'Arn'],
      });
      expect(resource?.Properties?.RetentionInDays).toBe(365);
      expect(resource?.DeletionPolicy).toBe('Retain');
    }
    expect(groups.size).toBe(ROTATED_SECRETS.length);
  });

  it('each role: assumed by Lambda; its own secret only (and datadog-rotation for datadog), the key only through Secrets Manager', () => {
    for (const name of ROTATED_SECRETS) {
      const roleId = roleIdOf(name);
      const role = s.json.Resources[roleId];
      expect(list(role?.Properties?.AssumeRolePolicyDocument.Statement)).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
      // The network interfaces of a function in a VPC, and its logs: AWS's managed policy, nothing else.
      expect(role?.Properties?.ManagedPolicyArns).toEqual([VPC_ACCESS]);
      expect(role?.Properties?.Policies).toBeUndefined();
      const extra = name === 'datadog' ? [rotationKeysRef()] : [];
      const statements = roleStatements(s.json, roleId);
      expect(statements, name).toEqual([
        {
          Sid: 'RotateOwnSecret',
          Effect: 'Allow',
          Action: ROTATION_SECRET_ACTIONS,
          Resource: secretRef(name),
        },
        {
          Sid: 'LeaveFailureTags',
          Effect: 'Allow',
          Action: 'secretsmanager:TagResource',
          Resource: secretRef(name),
          Condition: {
            'ForAllValues:StringEquals': {
              'aws:TagKeys': [
                'opsbot:rotation-failure',
                'opsbot:rotation-failure-token',
                'opsbot:rotation-failure-at',
              ],
            },
          },
        },
        ...(name === 'datadog'
          ? [
              {
                Sid: 'ReadDatadogRotationKeys',
                Effect: 'Allow',
                Action: 'secretsmanager:GetSecretValue',
                Resource: rotationKeysRef(),
              },
            ]
          : []),
        {
          Sid: 'UseSecretsKeyThroughSecretsManager',
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: { 'Fn::GetAtt': [logicalId(s.stack.secrets.key), 'Arn'] },
          Condition: {
            StringEquals: {
              'kms:ViaService': VIA_SECRETS_MANAGER,
              'kms:EncryptionContext:SecretARN': [secretRef(name), ...extra],
            },
          },
        },
      ]);
    }
  });

  it('Secrets Manager may invoke each function, for that function’s secret and from this account only', () => {
    // The Datadog intake's function URL has permissions of its own (test/infra/intake.test.ts).
    const rotationIds = new Set(Object.values(s.stack.rotation.functions).map((fn) => logicalId(fn)));
    const permissions = resourcesOfType(s.json, 'AWS::Lambda::Permission').filter(([, p]) =>
      rotationIds.has(p.Properties?.FunctionName?.['Fn::GetAtt']?.[0]),
    );
    expect(permissions).toHaveLength(ROTATED_SECRETS.length);
    expect(
      resourcesOfType(s.json, 'AWS::Lambda::Permission').filter(
        ([, p]) => p.Properties?.Principal === 'secretsmanager.amazonaws.com',
      ),
    ).toHaveLength(ROTATED_SECRETS.length);
    for (const name of ROTATED_SECRETS) {
      const fnId = logicalId(s.stack.rotation.functions[name] as never);
      const mine = permissions.filter(([, p]) => p.Properties?.FunctionName?.['Fn::GetAtt']?.[0] === fnId);
      expect(mine, name).toHaveLength(1);
      expect(mine[0]?.[1].Properties).toEqual({
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
        Principal: 'secretsmanager.amazonaws.com',
        SourceAccount: { Ref: 'AWS::AccountId' },
        SourceArn: secretRef(name),
      });
    }
  });

  it('schedules: audit every 90 days, datadog every 30; slack, github and jira attached with no schedule; a deploy never rotates', () => {
    const schedules = resourcesOfType(s.json, 'AWS::SecretsManager::RotationSchedule');
    expect(schedules).toHaveLength(ROTATED_SECRETS.length);
    const expected: Record<string, string | undefined> = {
      audit: 'rate(90 days)',
      datadog: 'rate(30 days)',
      slack: undefined,
      github: undefined,
      jira: undefined,
    };
    for (const name of ROTATED_SECRETS) {
      const [, schedule] =
        schedules.find(
          ([, r]) => JSON.stringify(r.Properties?.SecretId) === JSON.stringify(secretRef(name)),
        ) ?? [];
      expect(schedule?.Properties?.RotationLambdaARN, name).toEqual({
        'Fn::GetAtt': [logicalId(s.stack.rotation.functions[name] as never), 'Arn'],
      });
      expect(schedule?.Properties?.RotateImmediatelyOnUpdate, name).toBe(false);
      expect(schedule?.Properties?.RotationRules?.ScheduleExpression, name).toBe(expected[name]);
      expect(schedule?.Properties?.RotationRules?.AutomaticallyAfterDays, name).toBeUndefined();
      // Secrets Manager checks it may invoke the function when CloudFormation turns rotation on.
      const permission = resourcesOfType(s.json, 'AWS::Lambda::Permission').find(
        ([, p]) => JSON.stringify(p.Properties?.SourceArn) === JSON.stringify(secretRef(name)),
      );
      expect(list((schedule as Json)?.DependsOn), name).toContain(permission?.[0]);
    }
  });

  it('the task role starts rotations (RotateSecret) of the rotated secrets only, and tags only the emergency key', () => {
    const statements = roleStatements(s.json, logicalId(s.stack.taskRole));
    const rotate = statements.filter((st) =>
      actionsOf(st).some((a) => covers(a, 'secretsmanager:RotateSecret')),
    );
    expect(rotate).toEqual([
      {
        Sid: 'StartRotationOfOwnSecrets',
        Effect: 'Allow',
        Action: 'secretsmanager:RotateSecret',
        Resource: ROTATED_SECRETS.map(secretRef),
      },
    ]);
    const tag = statements.filter((st) => actionsOf(st).some((a) => covers(a, 'secretsmanager:TagResource')));
    expect(tag).toEqual([
      {
        Sid: 'MarkEmergencyRotation',
        Effect: 'Allow',
        Action: 'secretsmanager:TagResource',
        Resource: ROTATED_SECRETS.map(secretRef),
        Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [EMERGENCY_TAG] } },
      },
    ]);
    const follow = statements.filter((st) => actionsOf(st).includes('secretsmanager:ListSecretVersionIds'));
    expect(follow).toHaveLength(1);
    expect(actionsOf(follow[0] as Statement).sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:ListSecretVersionIds',
    ]);
    expect(resourcesOf(follow[0] as Statement)).toEqual(SECRET_NAMES.map(secretRef));
  });

  it('the task role writes no value and no label, and cannot change how a secret rotates', () => {
    for (const statement of roleStatements(s.json, logicalId(s.stack.taskRole)))
      for (const pattern of actionsOf(statement))
        for (const write of VALUE_WRITES)
          expect(covers(pattern, write), `${pattern} covers ${write}`).toBe(false);
  });

  it('opsbot/datadog-rotation: created empty, readable by the datadog function alone, never named in the task role’s policies', () => {
    const keys = s.stack.rotation.datadogRotation;
    expect(keys).toBeDefined();
    const id = logicalId(keys as never);
    const secret = s.json.Resources[id];
    expect(secret?.Properties?.Name).toBe('opsbot/datadog-rotation');
    expect(secret?.Properties?.GenerateSecretString).toBeUndefined();
    expect(secret?.Properties?.SecretString).toBeUndefined();
    expect(secret?.Properties?.KmsKeyId).toEqual({ 'Fn::GetAtt': [logicalId(s.stack.secrets.key), 'Arn'] });
    expect(secret?.DeletionPolicy).toBe('Retain');

    const taskPolicies = JSON.stringify(roleStatements(s.json, logicalId(s.stack.taskRole)));
    expect(taskPolicies).not.toContain(id);
    // No identity policy of the stack but the datadog rotation role's names it.
    for (const [resourceId, r] of Object.entries(s.json.Resources)) {
      if (
        r.Type !== 'AWS::IAM::Policy' &&
        r.Type !== 'AWS::IAM::Role' &&
        r.Type !== 'AWS::IAM::ManagedPolicy'
      )
        continue;
      const roles = list(r.Properties?.Roles).map((x: Json) => x?.Ref);
      if (JSON.stringify(r.Properties).includes(id)) expect(roles, resourceId).toEqual([roleIdOf('datadog')]);
    }

    const [, policy] =
      resourcesOfType(s.json, 'AWS::SecretsManager::ResourcePolicy').find(
        ([, r]) => r.Properties?.SecretId?.Ref === id,
      ) ?? [];
    const statements = list(policy?.Properties?.ResourcePolicy.Statement) as Statement[];
    const reads = statements.filter((st) => actionsOf(st).includes('secretsmanager:GetSecretValue'));
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' } });
    expect(reads[0]?.Condition).toEqual({
      StringNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [roleIdOf('datadog'), 'Arn'] } },
    });
    // Nobody but the admin and CloudFormation writes it; no rotation of its own.
    const writes = statements.find((st) => st.NotAction !== undefined);
    expect(list(writes?.NotAction)).not.toContain('secretsmanager:PutSecretValue');
    expect(statements.every((st) => st.Effect === 'Deny')).toBe(true);
  });

  it('no identity policy in the template lets anyone but a rotation role store a version or move a label', () => {
    const rotationRoles = new Set(ROTATED_SECRETS.map(roleIdOf));
    for (const [resourceId, r] of Object.entries(s.json.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      const stores = (list(r.Properties?.PolicyDocument.Statement) as Statement[]).some(
        (st) =>
          st.Effect === 'Allow' &&
          actionsOf(st).some(
            (a) =>
              covers(a, 'secretsmanager:PutSecretValue') ||
              covers(a, 'secretsmanager:UpdateSecretVersionStage'),
          ),
      );
      if (stores)
        for (const role of list(r.Properties?.Roles) as Json[])
          expect(rotationRoles.has(role.Ref), resourceId).toBe(true);
    }
    expect(allIdentityStatements(s.json).length).toBeGreaterThan(0);
  });
});

describe('the rotation functions with context overrides', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({
      secretPrefix: 'prod/opsbot/',
      environment: {
        OPSBOT_JIRA_URL: 'https://acme.atlassian.net',
        OPSBOT_DATADOG_SITE: 'datadoghq.eu',
        LOG_LEVEL: 'debug',
        OPSBOT_SECRET_POLL_SECONDS: '30',
      },
      // As `cdk deploy -c rotation='{…}'` passes it: a string.
      rotation: JSON.stringify({
        slackTokenRotation: true,
        reservedConcurrency: true,
        audit: 30,
        datadog: 'rate(7 days)',
      }),
    });
  }, 60_000);
  afterAll(() => s?.cleanup());

  const scheduleOf = (name: string) =>
    s.json.Resources[logicalId(s.stack.rotation.schedules[name] as never)]?.Properties?.RotationRules
      ?.ScheduleExpression;

  it('reserves one concurrent execution per function when context asks', () => {
    for (const name of ROTATED_SECRETS) {
      const fn = s.json.Resources[logicalId(s.stack.rotation.functions[name] as never)];
      expect(fn?.Properties?.ReservedConcurrentExecutions, name).toBe(1);
    }
  });

  it('takes the schedules from context: slack every 4 hours once token rotation is on', () => {
    expect(scheduleOf('slack')).toBe('rate(4 hours)');
    expect(scheduleOf('audit')).toBe('rate(30 days)');
    expect(scheduleOf('datadog')).toBe('rate(7 days)');
    expect(scheduleOf('github')).toBeUndefined();
    expect(scheduleOf('jira')).toBeUndefined();
  });

  it('gives the functions the prefix and the endpoint variables the rotation reads, and no other setting', () => {
    for (const name of ROTATED_SECRETS) {
      const fn = s.json.Resources[logicalId(s.stack.rotation.functions[name] as never)];
      expect(fn?.Properties?.Environment?.Variables).toEqual({
        OPSBOT_SECRET_PREFIX: 'prod/opsbot/',
        OPSBOT_JIRA_URL: 'https://acme.atlassian.net',
        OPSBOT_DATADOG_SITE: 'datadoghq.eu',
        LOG_LEVEL: 'debug',
      });
    }
    const keys = s.json.Resources[logicalId(s.stack.rotation.datadogRotation as never)];
    expect(keys?.Properties?.Name).toBe('prod/opsbot/datadog-rotation');
  });
});
