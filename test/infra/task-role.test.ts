import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_QUEUE_TASK_ACTIONS } from '../../infra/lib/secret-events.js';
import { SECRET_NAMES } from '../../infra/lib/secrets.js';
import { TABLE_ITEM_ACTIONS } from '../../infra/lib/state-table.js';
import {
  actionsOf,
  allIdentityStatements,
  covers,
  list,
  logicalId,
  resourcesOf,
  roleStatements,
  type Statement,
  type Synthesized,
  synth,
} from './synth.js';

/**
 * Everything the task role may do: reading its secrets, starting (not performing) their rotation
 * (rotation.test.ts holds those to the rotated secrets and the emergency tag), its table, assuming
 * the dev-env role, and (Socket Mode) taking the events of its queue.
 */
const ALLOWED_TASK_ACTIONS = [
  'secretsmanager:GetSecretValue',
  'secretsmanager:DescribeSecret',
  'secretsmanager:ListSecretVersionIds',
  'secretsmanager:RotateSecret',
  'secretsmanager:TagResource',
  'kms:Decrypt',
  ...TABLE_ITEM_ACTIONS,
  'sts:AssumeRole',
  'sts:SetSourceIdentity',
  'sts:TagSession',
  ...EVENTS_QUEUE_TASK_ACTIONS,
];

/**
 * Secrets Manager actions that change a secret (value, stages, rotation settings, policy, tags,
 * existence). RotateSecret and TagResource (the emergency tag only) start a rotation that the
 * rotation function performs: rotation.test.ts holds them to the rotated secrets.
 */
const SECRET_WRITES = [
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecret',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:CancelRotateSecret',
  'secretsmanager:DeleteSecret',
  'secretsmanager:RestoreSecret',
  'secretsmanager:CreateSecret',
  'secretsmanager:PutResourcePolicy',
  'secretsmanager:DeleteResourcePolicy',
  'secretsmanager:UntagResource',
  'secretsmanager:ReplicateSecretToRegions',
];

describe('the task role (least privilege)', () => {
  let s: Synthesized;
  let taskRoleId: string;
  let statements: Statement[];

  beforeAll(() => {
    s = synth();
    taskRoleId = logicalId(s.stack.taskRole);
    statements = roleStatements(s.json, taskRoleId);
  }, 60_000);
  afterAll(() => s?.cleanup());

  const secretIds = () => SECRET_NAMES.map((name) => logicalId(s.stack.secrets.secret(name)));

  it('allows only reading its secrets, its table items and assuming the dev-env role: every action is on the list, none is a wildcard', () => {
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      expect(statement.Effect).toBe('Allow');
      expect(statement.NotAction).toBeUndefined();
      expect(statement.NotResource).toBeUndefined();
      for (const action of actionsOf(statement)) {
        expect(action).not.toContain('*');
        expect(ALLOWED_TASK_ACTIONS).toContain(action);
      }
    }
  });

  it('has no EC2 permission at all (EC2 calls are made only under the dev-env role)', () => {
    const ec2 = statements.flatMap(actionsOf).filter((a) => a.toLowerCase().startsWith('ec2:') || a === '*');
    expect(ec2).toEqual([]);
    expect(statements.flatMap(actionsOf)).not.toContain('iam:PassRole');
  });

  it('has no managed policy and no inline policy besides the statements above', () => {
    const role = s.json.Resources[taskRoleId];
    expect(role?.Properties?.ManagedPolicyArns).toBeUndefined();
    expect(role?.Properties?.Policies).toBeUndefined();
  });

  it('is assumed by ECS tasks of this account only', () => {
    const trust = list(
      s.json.Resources[taskRoleId]?.Properties?.AssumeRolePolicyDocument.Statement,
    ) as Statement[];
    expect(trust).toHaveLength(1);
    expect(trust[0]?.Principal).toEqual({ Service: 'ecs-tasks.amazonaws.com' });
    expect(trust[0]?.Condition?.StringEquals?.['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
  });

  it('reads (GetSecretValue, DescribeSecret) exactly the six opsbot secrets, by ARN', () => {
    const reads = statements.filter((st) => actionsOf(st).includes('secretsmanager:GetSecretValue'));
    expect(reads).toHaveLength(1);
    expect(actionsOf(reads[0] as Statement).sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
    expect(resourcesOf(reads[0] as Statement)).toEqual(secretIds().map((id) => ({ Ref: id })));
    const names = secretIds().map((id) => s.json.Resources[id]?.Properties?.Name);
    expect(names).toEqual([
      'opsbot/slack',
      'opsbot/github',
      'opsbot/jira',
      'opsbot/datadog',
      'opsbot/audit',
      'opsbot/events',
    ]);
  });

  it('may not write a value, change rotation settings or delete any secret', () => {
    for (const statement of statements)
      for (const pattern of actionsOf(statement))
        for (const write of SECRET_WRITES)
          expect(covers(pattern, write), `${pattern} covers ${write}`).toBe(false);
  });

  it('decrypts with the secrets key only through Secrets Manager, for its own secrets', () => {
    const kms = statements.filter((st) => actionsOf(st).some((a) => a.startsWith('kms:')));
    expect(kms).toHaveLength(1);
    const [statement] = kms as [Statement];
    expect(actionsOf(statement)).toEqual(['kms:Decrypt']);
    expect(resourcesOf(statement)).toEqual([{ 'Fn::GetAtt': [logicalId(s.stack.secrets.key), 'Arn'] }]);
    expect(statement.Condition?.StringEquals?.['kms:ViaService']).toEqual({
      'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']],
    });
    expect(statement.Condition?.StringEquals?.['kms:EncryptionContext:SecretARN']).toEqual(
      secretIds().map((id) => ({ Ref: id })),
    );
  });

  it('assumes (with SourceIdentity and session tags) the dev-env role and nothing else', () => {
    const sts = statements.filter((st) => actionsOf(st).some((a) => a.startsWith('sts:')));
    expect(sts).toHaveLength(1);
    expect(actionsOf(sts[0] as Statement).sort()).toEqual([
      'sts:AssumeRole',
      'sts:SetSourceIdentity',
      'sts:TagSession',
    ]);
    expect(resourcesOf(sts[0] as Statement)).toEqual([
      { 'Fn::GetAtt': [logicalId(s.stack.devenv.role), 'Arn'] },
    ]);
  });

  it('uses items of its own table only: no Scan, no table administration', () => {
    const ddb = statements.filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')));
    expect(ddb).toHaveLength(1);
    expect(actionsOf(ddb[0] as Statement).sort()).toEqual([...TABLE_ITEM_ACTIONS].sort());
    expect(resourcesOf(ddb[0] as Statement)).toEqual([
      { 'Fn::GetAtt': [logicalId(s.stack.state.table), 'Arn'] },
    ]);
  });

  it('no statement in the whole template grants reading a secret on *', () => {
    for (const statement of allIdentityStatements(s.json)) {
      if (statement.Effect !== 'Allow') continue;
      const readsSecrets = actionsOf(statement).some((a) => covers(a, 'secretsmanager:GetSecretValue'));
      if (readsSecrets) expect(resourcesOf(statement)).not.toContain('*');
    }
  });

  it('the execution role is another role, and may not touch secrets, keys, STS or EC2', () => {
    const executionId = logicalId(s.stack.service.executionRole);
    expect(executionId).not.toBe(taskRoleId);
    const [, taskDefinition] =
      Object.entries(s.json.Resources).find(([, r]) => r.Type === 'AWS::ECS::TaskDefinition') ?? [];
    expect(taskDefinition?.Properties?.TaskRoleArn).toEqual({ 'Fn::GetAtt': [taskRoleId, 'Arn'] });
    expect(taskDefinition?.Properties?.ExecutionRoleArn).toEqual({ 'Fn::GetAtt': [executionId, 'Arn'] });
    const actions = roleStatements(s.json, executionId).flatMap(actionsOf);
    expect(actions.filter((a) => /^(secretsmanager|kms|sts|ec2|ssm|dynamodb):/.test(a) || a === '*')).toEqual(
      [],
    );
  });
});
