import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextError, readSettings } from '../../infra/lib/context.js';
import { ROTATION_HANDLER } from '../../infra/lib/rotation-bundle.js';
import { TABLE_ITEM_ACTIONS } from '../../infra/lib/state-table.js';
import { readVault, vaultEnvironment } from '../../infra/lib/vault-context.js';
import { EnvReader } from '../../src/config/env-reader.js';
import { readVaultSettings } from '../../src/config/vault-settings.js';
import { canary } from '../helpers/canary.js';
import {
  actionsOf,
  CDK_CONTEXT,
  type Json,
  list,
  logicalId,
  resourcesOfType,
  roleStatements,
  type Statement,
  type Synthesized,
  synth,
} from './synth.js';

/**
 * Context `secretSource: "vault"`: the stack creates no Secrets Manager secret, key or rotation, the
 * task role gets no Secrets Manager action at all, and the container is told where Vault is and which
 * AWS auth role to log in as (README.md, "Deploy it"). cdk-nag and Control Tower: nag.test.ts.
 */

const VAULT = {
  addr: 'https://vault.internal:8200',
  role: 'opsbot',
  kvMount: 'kv',
  namespace: 'team-a',
  iamServerId: 'vault.internal',
};

const settingsOf = (overrides: Record<string, unknown>) => {
  const context: Record<string, unknown> = { ...CDK_CONTEXT, ...overrides };
  return readSettings((key) => context[key], Object.keys(context));
};

function problemsOf(overrides: Record<string, unknown>): string[] {
  try {
    settingsOf(overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(ContextError);
    return (error as ContextError).problems;
  }
  throw new Error('expected a ContextError');
}

const vaultProblems = (vault: unknown) => problemsOf({ secretSource: 'vault', vault });

/** What the bot's own reader makes of these container variables (as config.ts would at start-up). */
function botReads(env: Record<string, string>) {
  const problems: string[] = [];
  const settings = readVaultSettings(new EnvReader(env, problems), env, problems, () => {
    throw new Error('no token with OPSBOT_VAULT_AUTH=aws');
  });
  return { settings, problems };
}

describe('context secretSource and vault', () => {
  it('defaults to aws, with no vault', () => {
    const settings = settingsOf({});
    expect(settings.secretSource).toBe('aws');
    expect(settings.vault).toBeUndefined();
  });

  it('reads vault as cdk.json gives it (an object) and as -c vault=… gives it (a JSON string)', () => {
    const fromJson = settingsOf({ secretSource: 'vault', vault: VAULT });
    const fromCli = settingsOf({ secretSource: 'vault', vault: JSON.stringify(VAULT) });
    expect(fromJson.vault).toEqual({ ...VAULT, port: 8200 });
    expect(fromCli.vault).toEqual(fromJson.vault);
    expect(
      settingsOf({ secretSource: 'vault', vault: { addr: 'https://vault.example.com', role: 'r' } }).vault,
    ).toEqual({ addr: 'https://vault.example.com', role: 'r', port: 443 });
  });

  it('refuses a bad vault context, naming each problem', () => {
    expect(vaultProblems({ addr: 'http://vault.internal:8200', kvMount: '../x', colour: 'blue' })).toEqual([
      expect.stringMatching(/^vault\.colour: unknown key; expected \{ "addr"/),
      'vault.addr: http:// would carry Vault tokens and secrets across the network in clear; use https://',
      expect.stringMatching(/^vault\.role: required: the AWS auth method's role for opsbot/),
      expect.stringMatching(/^vault\.kvMount: expected a Vault mount path such as secret, got "\.\.\/x"/),
    ]);
    expect(vaultProblems({ addr: 'vault.internal:8200', role: 'has space' })).toEqual([
      'vault.addr: expected an https:// URL such as https://vault.internal:8200, got "vault.internal:8200"',
      expect.stringMatching(/^vault\.role: expected a Vault role name/),
    ]);
    expect(vaultProblems({ role: 'opsbot' })).toEqual([
      'vault.addr: required: the Vault server, such as https://vault.internal:8200',
    ]);
    expect(vaultProblems({ addr: 'https://vault.internal:8200', role: 'opsbot', port: 443 })).toEqual([
      'vault.port: the addr reaches Vault on port 8200, not 443; leave port out or make the two agree',
    ]);
    expect(vaultProblems({ addr: 'https://vault.internal', role: 'opsbot', port: 'x' })).toEqual([
      'vault.port: expected a TCP port from 1 to 65535, got "x"',
    ]);
    expect(vaultProblems(undefined)).toEqual([
      expect.stringMatching(/^vault: required when secretSource is "vault"; expected \{ "addr"/),
    ]);
    expect(vaultProblems('["https://vault.internal"]')).toEqual([
      expect.stringMatching(/^vault: expected \{/),
    ]);
    expect(vaultProblems('{"addr":')).toEqual([expect.stringMatching(/^vault: not valid JSON/)]);
    expect(problemsOf({ secretSource: 'hashicorp' })).toEqual([
      expect.stringMatching(/^secretSource: expected "aws" .* or "vault" .*, got "hashicorp"/),
    ]);
    expect(problemsOf({ vault: VAULT })).toEqual([
      'vault: read only with secretSource "vault"; add -c secretSource=vault, or remove it',
    ]);
  });

  it('never echoes credentials put in the addr', () => {
    const password = canary('vault');
    const problems = vaultProblems({ addr: `https://opsbot:${password}@vault.internal`, role: 'opsbot' });
    expect(problems).toEqual([
      'vault.addr: expected an https:// URL without user or password (opsbot logs in with the task role)',
    ]);
    const odd = vaultProblems({ addr: `ftp://x:${password}@vault`, role: 'opsbot' }).join('\n');
    expect(odd).toMatch(/^vault\.addr: /);
    expect(odd).not.toContain(password);
  });

  it('keeps the Vault variables in one place: context vault, never environment', () => {
    const withVault = problemsOf({
      secretSource: 'vault',
      vault: VAULT,
      environment: {
        OPSBOT_VAULT_ADDR: 'https://elsewhere',
        OPSBOT_VAULT_ROLE: 'other',
        OPSBOT_VAULT_AUTH: 'token',
        OPSBOT_VAULT_KV_MOUNT: 'kv2',
        OPSBOT_SECRET_SLACK: '{}',
      },
    });
    expect(withVault).toEqual([
      'environment.OPSBOT_VAULT_ADDR: set by the stack itself (from context "vault", key "addr"); remove it',
      'environment.OPSBOT_VAULT_ROLE: set by the stack itself (from context "vault", key "role"); remove it',
      'environment.OPSBOT_VAULT_AUTH: set by the stack itself; remove it',
      'environment.OPSBOT_VAULT_KV_MOUNT: set it in context "vault" as "kvMount"; remove it here',
      'environment.OPSBOT_SECRET_SLACK: a secret never goes into the task definition; store it in Vault (README.md, "Deploy it")',
    ]);
    expect(problemsOf({ environment: { OPSBOT_VAULT_NAMESPACE: 'team-a' } })).toEqual([
      'environment.OPSBOT_VAULT_NAMESPACE: read only with secretSource "vault" (context "vault", key "namespace"); remove it',
    ]);
    // The CA file is the operator's (a path in the image), with the vault source only.
    expect(
      settingsOf({ secretSource: 'vault', vault: VAULT, environment: { OPSBOT_VAULT_CACERT: '/app/ca.pem' } })
        .environment,
    ).toEqual({ OPSBOT_VAULT_CACERT: '/app/ca.pem' });
  });

  it('accepts exactly what the bot accepts: what synth lets through starts the bot (property)', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/);
    const value = fc.oneof(
      segment,
      fc.string({ maxLength: 20 }),
      fc.constantFrom('', ' ', '..', 'a/../b', 'secret/', '/kv', 'a b', 'x'.repeat(300)),
      fc.integer(),
    );
    const addr = fc.oneof(
      fc.constantFrom('https://vault.internal:8200', 'https://vault.example.com', 'https://10.0.0.5:8200/'),
      fc.constantFrom('http://vault.internal:8200', 'https://u:p@vault', 'vault.internal', 'https://'),
      fc.webUrl(),
      fc.string({ maxLength: 30 }),
    );
    const context = fc.record(
      {
        addr,
        role: value,
        authMount: value,
        kvMount: value,
        namespace: value,
        iamServerId: value,
        port: fc.oneof(fc.integer({ min: -1, max: 70000 }), fc.constantFrom('8200', '443', 'x')),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(context, (given) => {
        const problems: string[] = [];
        const vault = readVault(given, problems);
        if (vault === undefined) {
          expect(problems.length).toBeGreaterThan(0);
          for (const p of problems)
            expect(p).toMatch(/^vault(\.(addr|role|authMount|kvMount|namespace|iamServerId|port))?: /);
          return;
        }
        expect(problems).toEqual([]);
        expect(new URL(vault.addr).protocol).toBe('https:');
        const env = vaultEnvironment(vault);
        const { settings, problems: botProblems } = botReads(env);
        expect(botProblems).toEqual([]);
        expect(settings).toMatchObject({ auth: 'aws', role: vault.role });
        // The bot's reader drops one trailing "/" each time it reads a URL ("https://a//" → "https://a/").
        expect(settings?.addr.replace(/\/+$/, '')).toBe(vault.addr.replace(/\/+$/, ''));
        expect(vault.port).toBe(Number(new URL(vault.addr).port || 443));
      }),
      { numRuns: 300 },
    );
  });
});

describe('the stack with secretSource "vault"', () => {
  let s: Synthesized;
  let statements: Statement[];

  beforeAll(() => {
    s = synth({ secretSource: 'vault', vault: JSON.stringify(VAULT) });
    statements = roleStatements(s.json, logicalId(s.stack.taskRole));
  }, 60_000);
  afterAll(() => s?.cleanup());

  const container = () => {
    const [definition] = resourcesOfType(s.json, 'AWS::ECS::TaskDefinition');
    const containers = definition?.[1].Properties?.ContainerDefinitions;
    expect(containers).toHaveLength(1);
    return containers[0];
  };
  const environment = (): Record<string, unknown> =>
    Object.fromEntries(list(container().Environment).map((e: Json) => [e.Name, e.Value]));

  it('creates no Secrets Manager resource, no rotation function or schedule, and no key for secrets', () => {
    const types = Object.values(s.json.Resources).map((r) => r.Type);
    expect(types.filter((t) => t.startsWith('AWS::SecretsManager::'))).toEqual([]);
    expect(JSON.stringify(s.json)).not.toMatch(/secretsmanager/i);
    for (const [id, fn] of resourcesOfType(s.json, 'AWS::Lambda::Function')) {
      expect(fn.Properties?.Handler, id).not.toBe(ROTATION_HANDLER);
      expect(String(fn.Properties?.Description ?? ''), id).not.toMatch(/rotat/i);
    }
    expect(resourcesOfType(s.json, 'AWS::Lambda::Permission')).toEqual([]);
    // One key: the log groups' (CloudWatch Logs uses it; the task role has no use for it).
    expect(resourcesOfType(s.json, 'AWS::KMS::Key').map(([id]) => id)).toEqual([
      logicalId(s.stack.logKey.key),
    ]);
    expect(() => s.stack.secrets).toThrow(
      /secretSource "vault" the stack creates no Secrets Manager secrets/,
    );
    expect(() => s.stack.rotation).toThrow(/no rotation functions/);
  });

  it('gives the task role no Secrets Manager action and no KMS action, and keeps its table and the dev-env role', () => {
    expect(statements.length).toBeGreaterThan(0);
    const actions = statements.flatMap(actionsOf);
    expect(actions.filter((a) => /^secretsmanager:/i.test(a) || a === '*')).toEqual([]);
    expect(actions.filter((a) => /^kms:/i.test(a))).toEqual([]);
    for (const statement of statements) expect(statement.NotAction, statement.Sid).toBeUndefined();
    expect(actions).toEqual(expect.arrayContaining([...TABLE_ITEM_ACTIONS, 'sts:AssumeRole']));
  });

  it('tells the container the vault source, the server and the AWS auth role: exactly these Vault variables', () => {
    const env = environment();
    expect(
      Object.fromEntries(Object.entries(env).filter(([name]) => /^OPSBOT_(VAULT|SECRET)_/.test(name))),
    ).toEqual({
      OPSBOT_SECRET_SOURCE: 'vault',
      OPSBOT_SECRET_PREFIX: 'opsbot/',
      OPSBOT_VAULT_ADDR: 'https://vault.internal:8200',
      OPSBOT_VAULT_AUTH: 'aws',
      OPSBOT_VAULT_ROLE: 'opsbot',
      OPSBOT_VAULT_KV_MOUNT: 'kv',
      OPSBOT_VAULT_NAMESPACE: 'team-a',
      OPSBOT_VAULT_IAM_SERVER_ID: 'vault.internal',
    });
    expect(Object.keys(env).sort()).toEqual(
      [
        'AWS_REGION',
        'OPSBOT_CONFIG',
        'OPSBOT_DEVENV_ROLE_ARN',
        'OPSBOT_SLACK_MODE',
        'OPSBOT_STATE',
        'PORT',
        'OPSBOT_SECRET_SOURCE',
        'OPSBOT_SECRET_PREFIX',
        'OPSBOT_VAULT_ADDR',
        'OPSBOT_VAULT_AUTH',
        'OPSBOT_VAULT_ROLE',
        'OPSBOT_VAULT_KV_MOUNT',
        'OPSBOT_VAULT_NAMESPACE',
        'OPSBOT_VAULT_IAM_SERVER_ID',
      ].sort(),
    );
    expect(container().Secrets).toBeUndefined();
  });

  it('lets the tasks out to Vault’s port, besides HTTPS', () => {
    const group = s.json.Resources[logicalId(s.stack.service.securityGroup)];
    expect(group?.Properties?.SecurityGroupIngress).toBeUndefined();
    expect(group?.Properties?.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }),
      expect.objectContaining({
        CidrIp: '0.0.0.0/0',
        FromPort: 8200,
        ToPort: 8200,
        IpProtocol: 'tcp',
        Description: 'HTTPS to Vault (vault.internal)',
      }),
    ]);
  });

  it('outputs the task role ARN and the vault write that binds it to the AWS auth role', () => {
    const roleArn = { 'Fn::GetAtt': [logicalId(s.stack.taskRole), 'Arn'] };
    expect(s.json.Outputs?.TaskRoleArn).toEqual({
      Description:
        'The task role. Bind it in Vault (the VaultAuthRole output is this command, filled in): vault write -namespace=team-a auth/aws/role/opsbot auth_type=iam bound_iam_principal_arn=<this ARN> policies=opsbot',
      Value: roleArn,
    });
    expect(s.json.Outputs?.VaultAuthRole?.Value).toEqual({
      'Fn::Join': [
        '',
        [
          'vault write -namespace=team-a auth/aws/role/opsbot auth_type=iam bound_iam_principal_arn=',
          roleArn,
          ' policies=opsbot',
        ],
      ],
    });
  });
});
