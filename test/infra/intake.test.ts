import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTAKE_PARTITIONS, INTAKE_TABLE_ACTIONS } from '../../infra/lib/intake.js';
import { readIntake } from '../../infra/lib/intake-context.js';
import { BUNDLE_FILE } from '../../infra/lib/rotation-bundle.js';
import { datadogWebhookBody } from '../../src/sandbox/datadog-webhook-sender.js';
import { keyPart } from '../../src/store/dynamodb-table.js';
import { assertNoCanary, bareCanary, canary } from '../helpers/canary.js';
import { type DynamoProxy, startDynamoProxy } from '../helpers/dynamodb-proxy.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';
import { cleanEnv } from '../helpers/process.js';
import { EMULATOR_AWS_ENV, newStateTable } from '../helpers/replicas.js';
import {
  actionsOf,
  type CfnTemplate,
  covers,
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

const run = promisify(execFile);

/**
 * The Datadog intake function as the stack deploys it (infra/lib/intake.ts): a function URL open to
 * anyone (Datadog cannot sign), a role that reaches exactly two secrets and the intake's partitions
 * of the State table, an encrypted log group, in Socket Mode with Secrets Manager only. Then the
 * bundle the synth stages runs as Lambda would, against moto, through a proxy that records every
 * DynamoDB item operation and its partition key, and each is held to the role's statement.
 */

const ref = (construct: Parameters<typeof logicalId>[0]) => ({ Ref: logicalId(construct) });

function intakeOf(s: Synthesized) {
  const intake = s.stack.intake;
  if (!intake?.function) throw new Error('the stack has no Datadog intake');
  return { intake, fn: intake.function, id: logicalId(intake.function) };
}

/** The one statement of the intake role on the State table. */
function tableStatement(s: Synthesized): Statement {
  const { intake } = intakeOf(s);
  const found = roleStatements(s.json, logicalId(intake.role)).filter(
    (st) =>
      JSON.stringify(resourcesOf(st)) ===
      JSON.stringify([{ 'Fn::GetAtt': [logicalId(s.stack.state.table), 'Arn'] }]),
  );
  expect(found).toHaveLength(1);
  return found[0] as Statement;
}

/** IAM's StringLike: `*` any run of characters, `?` one, everything else literal. */
function stringLike(pattern: string, value: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(value);
}

/** Would the statement allow `action` on an item in partition `pk` (Allow, action covered, ForAllValues:StringLike)? */
function allows(statement: Statement, action: string, pk: string): boolean {
  if (statement.Effect !== 'Allow' || !actionsOf(statement).some((a) => covers(a, action))) return false;
  const conditions = statement.Condition ?? {};
  expect(Object.keys(conditions)).toEqual(['ForAllValues:StringLike']);
  const patterns = list(conditions['ForAllValues:StringLike']?.['dynamodb:LeadingKeys']) as string[];
  expect(patterns.length).toBeGreaterThan(0);
  return patterns.some((p) => stringLike(p, pk));
}

describe('the Datadog intake in Socket Mode with Secrets Manager (infra/cdk.json defaults)', () => {
  let s: Synthesized;
  let json: CfnTemplate;
  beforeAll(() => {
    // Staged: the bundles are built, as `cdk synth` builds them (the last part runs the intake's).
    s = synth({}, { staging: true });
    json = s.json;
  }, 240_000);
  afterAll(() => s?.cleanup());

  it('is a Node.js 22 function like the rotation functions, sized for a webhook, in the private subnets', () => {
    const { id } = intakeOf(s);
    const props = json.Resources[id]?.Properties as Json;
    const rotation = json.Resources[logicalId(s.stack.rotation.functions.audit as never)]?.Properties as Json;
    expect(props.Runtime).toBe('nodejs22.x');
    expect(props.Architectures).toEqual(rotation.Architectures);
    expect(props.Handler).toBe('index.handler');
    expect([props.MemorySize, props.Timeout]).toEqual([512, 10]);
    expect(props.VpcConfig.SubnetIds.length).toBeGreaterThanOrEqual(2);
    expect(props.ReservedConcurrentExecutions).toBeUndefined();
    expect(props.Environment.Variables).toEqual({
      OPSBOT_STATE: { 'Fn::Join': ['', ['dynamodb:', { Ref: logicalId(s.stack.state.table) }]] },
      OPSBOT_SECRET_SOURCE: 'aws',
      OPSBOT_SECRET_PREFIX: 'opsbot/',
    });
  });

  it('has a function URL with auth type NONE and no CORS, opened by exactly the two URL permissions', () => {
    const { id } = intakeOf(s);
    const urls = resourcesOfType(json, 'AWS::Lambda::Url');
    expect(urls).toHaveLength(1);
    const url = urls[0]?.[1].Properties as Json;
    expect(url.AuthType).toBe('NONE');
    expect(url.Cors).toBeUndefined();
    expect(url.TargetFunctionArn).toEqual({ 'Fn::GetAtt': [id, 'Arn'] });
    const open = resourcesOfType(json, 'AWS::Lambda::Permission')
      .map(([, r]) => r.Properties as Json)
      .filter((p) => p.Principal === '*');
    expect(open).toEqual([
      {
        Action: 'lambda:InvokeFunctionUrl',
        FunctionName: { 'Fn::GetAtt': [id, 'Arn'] },
        FunctionUrlAuthType: 'NONE',
        Principal: '*',
      },
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [id, 'Arn'] },
        InvokedViaFunctionUrl: true,
        Principal: '*',
      },
    ]);
  });

  it('outputs DatadogWebhookUrl: the function URL and webhooks/datadog', () => {
    const url = resourcesOfType(json, 'AWS::Lambda::Url')[0]?.[0];
    expect(json.Outputs?.DatadogWebhookUrl?.Value).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [url, 'FunctionUrl'] }, 'webhooks/datadog']],
    });
  });

  it('gives its role exactly the listed actions on the listed resources, nothing on *', () => {
    const { intake } = intakeOf(s);
    const secrets = [ref(s.stack.secrets.secret('datadog')), ref(s.stack.secrets.secret('audit'))];
    const statements = roleStatements(json, logicalId(intake.role));
    const shape = statements.map((st) => ({
      effect: st.Effect,
      actions: [...actionsOf(st)].sort(),
      resources: resourcesOf(st),
      condition: st.Condition,
    }));
    expect(shape).toEqual([
      {
        effect: 'Allow',
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        resources: secrets,
        condition: undefined,
      },
      {
        effect: 'Allow',
        actions: ['kms:Decrypt'],
        resources: [{ 'Fn::GetAtt': [logicalId(s.stack.secrets.key), 'Arn'] }],
        condition: {
          StringEquals: {
            'kms:ViaService': {
              'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']],
            },
            'kms:EncryptionContext:SecretARN': secrets,
          },
        },
      },
      {
        effect: 'Allow',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        resources: [{ 'Fn::GetAtt': [logicalId(s.stack.state.table), 'Arn'] }],
        condition: {
          'ForAllValues:StringLike': {
            'dynamodb:LeadingKeys': [
              'outbox#alerts:intake',
              'outbox-id#*',
              'outbox-id~sha256#*',
              'audit',
              'signals',
            ],
          },
        },
      },
    ]);
    for (const st of statements) expect(resourcesOf(st)).not.toContain('*');
    // The one managed policy: what a function in a VPC needs for its network interfaces and logs.
    const role = json.Resources[logicalId(intake.role)]?.Properties as Json;
    expect(JSON.stringify(role.ManagedPolicyArns)).toMatch(
      /service-role\/AWSLambdaVPCAccessExecutionRole"\]\]\}\]$/,
    );
    expect(role.ManagedPolicyArns).toHaveLength(1);
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
    ]);
  });

  it("lets the intake role past the datadog and audit secrets' resource policies", () => {
    const { intake } = intakeOf(s);
    const roleArn = { 'Fn::GetAtt': [logicalId(intake.role), 'Arn'] };
    for (const name of ['datadog', 'audit']) {
      const secret = logicalId(s.stack.secrets.secret(name));
      const policy = resourcesOfType(json, 'AWS::SecretsManager::ResourcePolicy').find(
        ([, r]) => JSON.stringify(r.Properties?.SecretId) === JSON.stringify({ Ref: secret }),
      )?.[1].Properties as Json;
      const deny = list(policy.ResourcePolicy.Statement).find(
        (st: Json) => st.Sid === 'OnlyItsReadersRead',
      ) as Json;
      expect(list(deny.Condition.StringNotEquals['aws:PrincipalArn']), name).toContainEqual(roleArn);
    }
  });

  it('logs to a log group encrypted with the stack’s log key, kept as long as the service’s', () => {
    const { id, intake } = intakeOf(s);
    const group = json.Resources[logicalId(intake.logGroup)] as Json;
    const service = json.Resources[logicalId(s.stack.service.logGroup)] as Json;
    expect(group.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [logicalId(s.stack.logKey.key), 'Arn'] });
    expect(group.Properties.RetentionInDays).toBe(365);
    expect(group.Properties.RetentionInDays).toBe(service.Properties.RetentionInDays);
    expect(group.DeletionPolicy).toBe('Retain');
    expect(json.Resources[id]?.Properties?.LoggingConfig).toEqual({
      LogGroup: { Ref: logicalId(intake.logGroup) },
    });
  });

  it('keeps the bot’s other partitions out of the condition, and lets through the keys the intake names', () => {
    const statement = tableStatement(s);
    for (const pk of ['outbox#alerts:intake', keyPart('outbox-id', 'a'.repeat(2_000)), 'audit', 'signals'])
      expect(allows(statement, 'dynamodb:PutItem', pk), pk).toBe(true);
    for (const pk of [
      'outbox#alerts:C0ALERTS',
      'outbox-done#alerts:intake',
      'lease#alerts:C0ALERTS',
      'dedupe#x',
      'msg#x',
      'auditx',
      'signals#x',
    ])
      expect(allows(statement, 'dynamodb:PutItem', pk), pk).toBe(false);
    expect(allows(statement, 'dynamodb:DeleteItem', 'audit')).toBe(false);
    expect(allows(statement, 'dynamodb:Scan', 'audit')).toBe(false);
    expect(INTAKE_PARTITIONS).toContain('signals');
  });

  describe('its bundle, run as Lambda runs it against moto', () => {
    let moto: Moto | undefined;
    let serial: DynamoProxy;
    const recorded: RecordedCall[] = [];
    let bundle: string;
    const prefix = `intake-${randomBytes(3).toString('hex')}/`;
    const webhookSecret = canary('hook');
    const datadogSecret = { apiKey: bareCanary(16), appKey: bareCanary(20), webhookSecret };
    const chainKey = randomBytes(32).toString('base64');
    let table: string;

    beforeAll(async () => {
      moto = await startMoto();
      if (!moto) {
        warnMotoMissing('the intake bundle (test/infra/intake.test.ts)');
        return;
      }
      serial = await startDynamoProxy(moto.url, { observe: recordInto(recorded) });
      table = await newStateTable(serial.url, 'intake-iam');
      recorded.length = 0; // the table's creation is the test's, not the intake's
      const sm = new SecretsManagerClient({
        endpoint: moto.url,
        region: EMULATOR_AWS_ENV.AWS_REGION,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      await sm.send(
        new CreateSecretCommand({ Name: `${prefix}datadog`, SecretString: JSON.stringify(datadogSecret) }),
      );
      await sm.send(
        new CreateSecretCommand({ Name: `${prefix}audit`, SecretString: JSON.stringify({ chainKey }) }),
      );
      sm.destroy();
      const code = json.Resources[intakeOf(s).id]?.Properties?.Code as Json;
      bundle = join(s.outdir, `asset.${String(code.S3Key).replace(/\.zip$/, '')}`, BUNDLE_FILE);
    }, 60_000);
    afterAll(async () => {
      await serial?.stop();
      await moto?.stop();
    });

    it('is an asset of its own: not the rotation function’s bundle', () => {
      const code = (name: string) => JSON.stringify(json.Resources[name]?.Properties?.Code?.S3Key);
      expect(code(intakeOf(s).id)).not.toBe(code(logicalId(s.stack.rotation.functions.audit as never)));
      expect(existsSync(bundle), bundle).toBe(true);
      expect(readdirSync(join(bundle, '..'))).toEqual([BUNDLE_FILE]);
    });

    it('stores an alert, a duplicate and a cold start with only the actions and partitions its role allows', async (ctx) => {
      if (!moto) return ctx.skip();
      const body = JSON.stringify(datadogWebhookBody({ monitorId: 8102, tags: ['team:payments'] }));
      const event = (secret: string | undefined, path = '/webhooks/datadog') => ({
        version: '2.0',
        rawPath: path,
        headers: {
          'content-type': 'application/json',
          ...(secret ? { 'x-opsbot-webhook-secret': secret } : {}),
        },
        body,
        isBase64Encoded: false,
        requestContext: { http: { method: 'POST', path } },
      });
      // The environment of the synthesized function, with the test's table and prefix.
      const deployed = json.Resources[intakeOf(s).id]?.Properties?.Environment.Variables as Record<
        string,
        unknown
      >;
      const env = cleanEnv({
        ...EMULATOR_AWS_ENV,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ENDPOINT_URL_DYNAMODB: serial.url,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.url,
        OPSBOT_SECRET_SOURCE: String(deployed.OPSBOT_SECRET_SOURCE),
        OPSBOT_SECRET_PREFIX: prefix,
        OPSBOT_STATE: `dynamodb:${table}`,
        EVENTS: JSON.stringify([
          event(webhookSecret),
          event(webhookSecret),
          event(canary('wrong')),
          event(webhookSecret, '/nope'),
        ]),
      });
      // Two containers one after the other: the second starts on a trail the first wrote.
      const script = `const { handler } = await import(${JSON.stringify(bundle)});
        const out = [];
        for (const e of JSON.parse(process.env.EVENTS)) out.push((await handler(e)).statusCode);
        process.stderr.write('RESULTS ' + JSON.stringify(out) + '\\n');`;
      const outputs: string[] = [];
      const statuses: number[][] = [];
      for (let container = 0; container < 2; container++) {
        const out = await run(process.execPath, ['--input-type=module', '-e', script], { env }).catch(
          (error: { stdout?: string; stderr?: string }) => {
            throw new Error(`the bundled intake failed:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
          },
        );
        outputs.push(out.stdout, out.stderr);
        statuses.push(JSON.parse(/RESULTS (.*)/.exec(out.stderr)?.[1] ?? '[]'));
      }
      expect(statuses).toEqual([
        [202, 202, 401, 404],
        [202, 202, 401, 404],
      ]);
      assertNoCanary({ output: outputs.join('\n') }, [webhookSecret, datadogSecret.apiKey, chainKey]);

      const calls = [...recorded];
      const actions = new Set(calls.map((c) => `dynamodb:${c.action}`));
      // What the statement is about: the intake's writes and reads, every one of them recorded.
      expect([...actions].sort()).toEqual([...INTAKE_TABLE_ACTIONS].sort());
      expect(calls.some((c) => c.transact)).toBe(true);
      const statement = tableStatement(s);
      const refused = calls.filter((c) => !allows(statement, `dynamodb:${c.action}`, c.pk));
      expect(refused).toEqual([]);
      // Every partition the condition names is one the intake uses (the hashed outbox-id form aside).
      expect(new Set(calls.map((c) => (c.pk.startsWith('outbox-id#') ? 'outbox-id#*' : c.pk)))).toEqual(
        new Set(INTAKE_PARTITIONS.filter((p) => !p.includes('~sha256'))),
      );
    }, 120_000);
  });
});

describe('the Datadog intake elsewhere', () => {
  it('is not created in HTTP mode (the bot takes webhooks); with domainName the output names the bot’s URL', () => {
    const plain = synth(HTTP_CONTEXT);
    const named = synth({ ...HTTP_CONTEXT, domainName: 'opsbot.example.com' });
    try {
      for (const s of [plain, named]) {
        expect(s.stack.intake).toBeUndefined();
        expect(resourcesOfType(s.json, 'AWS::Lambda::Url')).toEqual([]);
      }
      expect(plain.json.Outputs?.DatadogWebhookUrl).toBeUndefined();
      expect(named.json.Outputs?.DatadogWebhookUrl?.Value).toBe(
        'https://opsbot.example.com/webhooks/datadog',
      );
    } finally {
      plain.cleanup();
      named.cleanup();
    }
  }, 120_000);

  it('is not created with secrets in Vault, and the synth warns that Datadog cannot reach the bot', () => {
    const s = synth({
      secretSource: 'vault',
      vault: { addr: 'https://vault.internal:8200', role: 'opsbot' },
    });
    try {
      expect(s.stack.intake).toBeUndefined();
      expect(resourcesOfType(s.json, 'AWS::Lambda::Url')).toEqual([]);
      expect(s.json.Outputs?.DatadogWebhookUrl).toBeUndefined();
      const warnings = s.app
        .synth()
        .getStackArtifact(s.stack.artifactId)
        .messages.filter((m) => m.level === 'warning')
        .map((m) => String(m.entry.data));
      expect(warnings.join('\n')).toMatch(/no Datadog intake function .*Datadog cannot deliver alerts/);
    } finally {
      s.cleanup();
    }
  }, 120_000);

  it('is left out with intake.enabled false, and reserves concurrency only when told to', () => {
    const off = synth({ intake: { enabled: false } });
    const reserved = synth({ intake: '{"reservedConcurrency": 5}', environment: { LOG_LEVEL: 'debug' } });
    try {
      expect(off.stack.intake).toBeUndefined();
      expect(resourcesOfType(off.json, 'AWS::Lambda::Url')).toEqual([]);
      expect(off.json.Outputs?.DatadogWebhookUrl).toBeUndefined();
      const { id } = intakeOf(reserved);
      const props = reserved.json.Resources[id]?.Properties as Json;
      expect(props.ReservedConcurrentExecutions).toBe(5);
      expect(props.Environment.Variables.LOG_LEVEL).toBe('debug');
      // The rotation functions keep their own setting.
      const rotation = reserved.json.Resources[logicalId(reserved.stack.rotation.functions.audit as never)];
      expect(rotation?.Properties?.ReservedConcurrentExecutions).toBeUndefined();
    } finally {
      off.cleanup();
      reserved.cleanup();
    }
  }, 120_000);
});

describe('context intake', () => {
  const problemsOf = (value: unknown) => {
    const problems: string[] = [];
    readIntake(value, problems);
    return problems;
  };

  it('defaults to on, with no reservation (a new account’s limit of 10 cannot spare one)', () => {
    const problems: string[] = [];
    expect(readIntake(undefined, problems)).toEqual({ enabled: true });
    expect(readIntake({ reservedConcurrency: false }, problems)).toEqual({ enabled: true });
    expect(readIntake({ enabled: 'false', reservedConcurrency: '3' }, problems)).toEqual({
      enabled: false,
      reservedConcurrency: 3,
    });
    expect(problems).toEqual([]);
  });

  it('names the key and what it expects', () => {
    expect(problemsOf({ reservedConcurrency: 0 })).toEqual([
      'intake.reservedConcurrency: expected false (no reservation) or a whole number from 1 to 100 (executions reserved for the intake function, and the most it runs at once), got 0',
    ]);
    expect(problemsOf({ reservedConcurrency: true })[0]).toMatch(
      /^intake\.reservedConcurrency: expected false/,
    );
    expect(problemsOf({ enabled: 'yes' })).toEqual(['intake.enabled: expected true or false, got "yes"']);
    expect(problemsOf({ reserved: 2 })).toEqual([
      'intake.reserved: not a setting of the intake function (known: enabled, reservedConcurrency)',
    ]);
    expect(problemsOf([1])[0]).toMatch(/^intake: expected a mapping/);
  });
});

/** One item operation as DynamoDB authorizes it: the action and the partition key it names. */
interface RecordedCall {
  action: string;
  pk: string;
  transact: boolean;
}

/** The partition key value an operation names: `Key`, `Item`, or a Query's `#pk = :v` condition. */
function pkOf(input: Json): string {
  const key = input.Key ?? input.Item;
  if (key?.pk?.S !== undefined) return key.pk.S;
  const names: Record<string, string> = input.ExpressionAttributeNames ?? {};
  const match = /(#\w+)\s*=\s*(:\w+)/.exec(String(input.KeyConditionExpression ?? ''));
  if (match && names[match[1] as string] === 'pk')
    return input.ExpressionAttributeValues[match[2] as string].S;
  throw new Error(`no partition key in ${JSON.stringify(input).slice(0, 200)}`);
}

/**
 * Records each DynamoDB request's item operations (JSON 1.0, `X-Amz-Target`) — a transaction's
 * items one by one, as DynamoDB authorizes them — into `recorded`.
 */
function recordInto(recorded: RecordedCall[]) {
  return (op: string, body: Buffer): void => {
    try {
      const input = JSON.parse(body.toString('utf8') || '{}') as Json;
      if (op === 'TransactWriteItems')
        for (const item of input.TransactItems as Json[]) {
          const [kind, inner] = Object.entries(item)[0] as [string, Json];
          recorded.push({
            action: kind === 'ConditionCheck' ? 'ConditionCheckItem' : `${kind}Item`,
            pk: pkOf(inner),
            transact: true,
          });
        }
      else recorded.push({ action: op, pk: pkOf(input), transact: false });
    } catch {
      recorded.push({ action: op, pk: '(unreadable)', transact: false });
    }
  };
}
