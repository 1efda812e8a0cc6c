import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAUNCH_TAG_KEYS, SESSION_TAG_KEYS } from '../../infra/lib/devenv-role.js';
import { DEVENV_ROLE_ACTIONS } from '../../src/security/access-review/integrations.js';
import {
  actionsOf,
  covers,
  list,
  logicalId,
  resourcesOf,
  resourcesOfType,
  roleStatements,
  type Statement,
  type Synthesized,
  synth,
} from './synth.js';

/** The dev-env role may do these and nothing else. */
const DEVENV_ACTIONS = [
  'ec2:RunInstances',
  'ec2:CreateTags',
  'ec2:TerminateInstances',
  'ec2:DescribeInstances',
  'ec2:DescribeLaunchTemplates',
  'iam:PassRole',
];

const joined = (value: unknown): string => JSON.stringify(value);

describe('the dev-env role', () => {
  let s: Synthesized;
  let roleId: string;
  let statements: Statement[];
  let launchTemplateArn: unknown;

  beforeAll(() => {
    s = synth();
    roleId = logicalId(s.stack.devenv.role);
    statements = roleStatements(s.json, roleId);
    launchTemplateArn = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':ec2:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':launch-template/',
          { Ref: logicalId(s.stack.devenv.launchTemplate) },
        ],
      ],
    };
  }, 60_000);
  afterAll(() => s?.cleanup());

  const withAction = (action: string) =>
    statements.filter((st) => actionsOf(st).some((a) => covers(a, action)));

  it('is named as the configuration file names it, <stackName>-devenv', () => {
    expect(s.json.Resources[roleId]?.Properties?.RoleName).toBe('opsbot-devenv');
  });

  it('is trusted by the task role only, requiring a SourceIdentity opsbot sets, with its session tags only', () => {
    const trust = list(
      s.json.Resources[roleId]?.Properties?.AssumeRolePolicyDocument.Statement,
    ) as Statement[];
    expect(trust).toHaveLength(1);
    const [statement] = trust as [Statement];
    expect(statement.Effect).toBe('Allow');
    expect(statement.Principal).toEqual({ AWS: { 'Fn::GetAtt': [logicalId(s.stack.taskRole), 'Arn'] } });
    expect(actionsOf(statement).sort()).toEqual([
      'sts:AssumeRole',
      'sts:SetSourceIdentity',
      'sts:TagSession',
    ]);
    // StringLike on a key that is absent fails: no SourceIdentity, no session.
    expect(statement.Condition?.StringLike?.['sts:SourceIdentity']).toEqual(['slack.*', 'opsbot.reaper']);
    expect(statement.Condition?.['ForAllValues:StringEquals']?.['aws:TagKeys']).toEqual(SESSION_TAG_KEYS);
  });

  it('allows only launching, tagging, terminating and describing instances and passing the instance role', () => {
    for (const statement of statements) {
      expect(statement.Effect).toBe('Allow');
      expect(statement.NotAction).toBeUndefined();
      for (const action of actionsOf(statement)) {
        expect(action).not.toContain('*');
        expect(DEVENV_ACTIONS).toContain(action);
      }
    }
  });

  it("the access review's list of the role's EC2 actions is what the stack grants", () => {
    const granted = new Set(statements.flatMap(actionsOf).filter((a) => a.startsWith('ec2:')));
    expect([...DEVENV_ROLE_ACTIONS].sort()).toEqual([...granted].sort());
  });

  it('grants nothing on * but DescribeInstances and DescribeLaunchTemplates (reads with no resource-level permissions)', () => {
    const onAnything = statements.filter((st) => resourcesOf(st).includes('*'));
    expect(onAnything.flatMap(actionsOf)).toEqual(['ec2:DescribeInstances', 'ec2:DescribeLaunchTemplates']);
  });

  it('launches instances only from the opsbot launch template, only the configured types, only IMDSv2, only tagged ManagedBy=opsbot and Owner=<the session slack-user>', () => {
    const runs = withAction('ec2:RunInstances');
    expect(runs.length).toBeGreaterThan(0);
    for (const run of runs)
      expect(run.Condition?.ArnEquals?.['ec2:LaunchTemplate']).toEqual(launchTemplateArn);
    const onInstances = runs.filter((st) => joined(resourcesOf(st)).includes(':instance/'));
    expect(onInstances).toHaveLength(1);
    const [instances] = onInstances as [Statement];
    expect(resourcesOf(instances)).toHaveLength(1);
    const equals = instances.Condition?.StringEquals ?? {};
    expect(equals['aws:RequestTag/ManagedBy']).toBe('opsbot');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the IAM policy variable, as IAM reads it
    expect(equals['aws:RequestTag/Owner']).toBe('${aws:PrincipalTag/slack-user}');
    expect(equals['ec2:MetadataHttpTokens']).toBe('required');
    // infra/opsbot.example.yaml's templates.
    expect(equals['ec2:InstanceType']).toEqual(['t3.medium', 't3.xlarge']);
    expect(instances.Condition?.Null?.['aws:RequestTag/ExpiresAt']).toBe('false');
    expect(instances.Condition?.['ForAllValues:StringEquals']?.['aws:TagKeys']).toEqual(LAUNCH_TAG_KEYS);
  });

  it('launches into the template’s subnet, security group, image and encrypted volumes only; never with a key pair', () => {
    const resources = withAction('ec2:RunInstances').flatMap(resourcesOf).map(joined);
    expect(resources.some((r) => r.includes('key-pair'))).toBe(false);
    expect(
      resources.some(
        (r) => r.includes(':subnet/*') || r.includes(':security-group/*') || r.includes('image/*'),
      ),
    ).toBe(false);
    const volumes = withAction('ec2:RunInstances').filter((st) =>
      joined(resourcesOf(st)).includes(':volume/'),
    );
    expect(volumes).toHaveLength(1);
    expect(volumes[0]?.Condition?.Bool?.['ec2:Encrypted']).toBe('true');
  });

  /** EC2's own tag: the launch template an instance came from. No principal can set an aws: tag. */
  const fromOurTemplate = (statement: Statement): boolean =>
    joined(statement.Condition?.StringEquals?.['ec2:ResourceTag/aws:ec2launchtemplate:id']) ===
    joined({ Ref: logicalId(s.stack.devenv.launchTemplate) });

  it('tags only at launch, or retags the expiry of ManagedBy=opsbot instances that EC2 says the opsbot template launched', () => {
    const tags = withAction('ec2:CreateTags');
    expect(tags).toHaveLength(2);
    for (const statement of tags) {
      const atLaunch = statement.Condition?.StringEquals?.['ec2:CreateAction'] === 'RunInstances';
      const managed =
        statement.Condition?.StringEquals?.['aws:ResourceTag/ManagedBy'] === 'opsbot' &&
        fromOurTemplate(statement);
      expect(atLaunch || managed, JSON.stringify(statement)).toBe(true);
      if (!atLaunch)
        expect(statement.Condition?.['ForAllValues:StringEquals']?.['aws:TagKeys']).toEqual(['ExpiresAt']);
    }
  });

  it('terminates only ManagedBy=opsbot instances that EC2 says the opsbot template launched (a ManagedBy tag anyone may set is not enough)', () => {
    const terminations = withAction('ec2:TerminateInstances');
    expect(terminations).toHaveLength(1);
    const [termination] = terminations as [Statement];
    expect(termination.Condition?.StringEquals?.['aws:ResourceTag/ManagedBy']).toBe('opsbot');
    expect(fromOurTemplate(termination), JSON.stringify(termination.Condition)).toBe(true);
    // Nothing else that changes an existing instance is allowed without the same condition.
    for (const statement of statements)
      if (actionsOf(statement).some((a) => ['ec2:StopInstances', 'ec2:TerminateInstances'].includes(a)))
        expect(fromOurTemplate(statement)).toBe(true);
  });

  it('passes only the dev environments’ instance role, to EC2 only', () => {
    const passes = withAction('iam:PassRole');
    expect(passes).toHaveLength(1);
    expect(resourcesOf(passes[0] as Statement)).toEqual([
      { 'Fn::GetAtt': [logicalId(s.stack.devenv.instanceRole), 'Arn'] },
    ]);
    expect(passes[0]?.Condition?.StringEquals?.['iam:PassedToService']).toBe('ec2.amazonaws.com');
  });

  it('the launch template requires IMDSv2, encrypts its volume, has detailed monitoring, an SSM instance profile, no key pair and no public address', () => {
    const lt = s.json.Resources[logicalId(s.stack.devenv.launchTemplate)];
    const data = lt?.Properties?.LaunchTemplateData;
    expect(lt?.Properties?.LaunchTemplateName).toBe('opsbot-devenv');
    expect(data.MetadataOptions.HttpTokens).toBe('required');
    expect(data.Monitoring).toEqual({ Enabled: true });
    expect(data.KeyName).toBeUndefined();
    expect(data.BlockDeviceMappings.length).toBeGreaterThan(0);
    for (const mapping of data.BlockDeviceMappings) expect(mapping.Ebs.Encrypted).toBe(true);
    expect(data.NetworkInterfaces).toHaveLength(1);
    expect(data.NetworkInterfaces[0].AssociatePublicIpAddress).toBe(false);
    expect(data.NetworkInterfaces[0].Groups).toEqual([
      { 'Fn::GetAtt': [logicalId(s.stack.devenv.securityGroup), 'GroupId'] },
    ]);
    expect(data.TagSpecifications).toBeUndefined();
    const profiles = resourcesOfType(s.json, 'AWS::IAM::InstanceProfile');
    expect(profiles).toHaveLength(1);
    expect(data.IamInstanceProfile).toEqual({ Arn: { 'Fn::GetAtt': [profiles[0]?.[0], 'Arn'] } });
    expect(profiles[0]?.[1].Properties?.Roles).toEqual([{ Ref: logicalId(s.stack.devenv.instanceRole) }]);
    const instanceRole = s.json.Resources[logicalId(s.stack.devenv.instanceRole)];
    expect(joined(instanceRole?.Properties?.ManagedPolicyArns)).toContain('AmazonSSMManagedInstanceCore');
    expect(roleStatements(s.json, logicalId(s.stack.devenv.instanceRole))).toEqual([]);
  });

  it('the dev environments’ security group lets nothing in', () => {
    const sg = s.json.Resources[logicalId(s.stack.devenv.securityGroup)];
    expect(sg?.Properties?.SecurityGroupIngress).toBeUndefined();
    const extra = resourcesOfType(s.json, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) =>
      joined(r.Properties?.GroupId).includes(logicalId(s.stack.devenv.securityGroup)),
    );
    expect(extra).toEqual([]);
  });
});

describe('the dev-env role without dev-env templates', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ configFile: 'test/infra/fixtures/no-devenv.yaml' });
  }, 60_000);
  afterAll(() => s?.cleanup());

  it('may not launch anything, nor pass a role; the reaper can still describe, retag and terminate', () => {
    const actions = roleStatements(s.json, logicalId(s.stack.devenv.role)).flatMap(actionsOf);
    expect(actions).not.toContain('ec2:RunInstances');
    expect(actions).not.toContain('iam:PassRole');
    expect(actions.sort()).toEqual([
      'ec2:CreateTags',
      'ec2:DescribeInstances',
      'ec2:DescribeLaunchTemplates',
      'ec2:TerminateInstances',
    ]);
  });
});
