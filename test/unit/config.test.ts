import { describe, expect, it } from 'vitest';
import { type Env, loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { CONFIG_SECTIONS } from '../../src/features.js';
import { assertNoCanary, canary } from '../helpers/canary.js';

const GOOD_YAML = `
access:
  admins: [U0ADMIN]
  rules:
    - actions: ["gh:*", "jira:create"]
      users: [U0DEV]
      channels: [C0DEV]
github:
  users: { U0DEV: octocat }
jira:
  defaultProject: OPS
alerts:
  defaultChannel: C0ALERTS
  routes:
    - match: { tags: ["team:payments"], priority: ["P1", "P2"] }
      channel: C0PAYMENTS
devenv:
  roleArn: arn:aws:iam::111122223333:role/opsbot-devenv
  maxPerUser: 2
  templates:
    small: { launchTemplate: lt-0abc123, instanceType: t3.medium, defaultTtl: 4h, maxTtl: 24h }
`;

/** The file, read with the production build's sections (src/features.ts). */
const files = (yaml: string) => ({ readFile: () => yaml, sections: CONFIG_SECTIONS });
const base: Env = { AWS_REGION: 'eu-west-1' };

function problemsOf(env: Env, yaml = GOOD_YAML): string[] {
  try {
    loadConfig(env, files(yaml));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(base, files(GOOD_YAML));
    // The contract's defaults; settings beyond the contract (previousGraceSeconds) have their own tests.
    expect(config.secrets).toMatchObject({
      source: 'aws',
      prefix: 'opsbot/',
      pollSeconds: 60,
      maxStaleSeconds: 21_600,
    });
    expect(config.slack).toEqual({ mode: 'http' });
    expect(config.datadog).toEqual({ site: 'datadoghq.com' });
    expect(config.state).toEqual({ kind: 'sqlite', path: './data/opsbot.db' });
    expect(config.port).toBe(3000);
    expect(config.logLevel).toBe('info');
    expect(config.configPath).toBe('./opsbot.yaml');
  });

  it('reads the YAML file into typed settings', () => {
    const config = loadConfig(base, files(GOOD_YAML));
    expect(config.file.access.admins).toEqual(['U0ADMIN']);
    expect(config.file.access.rules[0]?.actions).toEqual(['gh:*', 'jira:create']);
    expect(config.file.devenv.templates.small?.defaultTtl).toBe(4 * 3_600_000);
    expect(config.file.alerts.routes[0]?.channel).toBe('C0PAYMENTS');
  });

  it('reads every variable it is given', () => {
    const config = loadConfig(
      {
        ...base,
        OPSBOT_SECRET_SOURCE: 'env',
        OPSBOT_SECRET_SLACK: '{}',
        OPSBOT_SECRET_PREFIX: 'team/opsbot/',
        OPSBOT_SECRET_POLL_SECONDS: '30',
        OPSBOT_SECRET_MAX_STALE_SECONDS: '600',
        OPSBOT_SLACK_MODE: 'socket',
        OPSBOT_SLACK_API_URL: 'http://127.0.0.1:9000/api/',
        OPSBOT_GITHUB_API_URL: 'https://ghe.acme.test/api/v3',
        OPSBOT_JIRA_URL: 'https://acme.atlassian.net',
        OPSBOT_DATADOG_SITE: 'datadoghq.eu',
        OPSBOT_STATE: 'dynamodb:opsbot-state',
        PORT: '8080',
        LOG_LEVEL: 'debug',
      },
      files(''),
    );
    expect(config.secrets).toMatchObject({
      source: 'env',
      prefix: 'team/opsbot/',
      pollSeconds: 30,
      maxStaleSeconds: 600,
    });
    expect(config.slack).toEqual({ mode: 'socket', apiUrl: 'http://127.0.0.1:9000/api' });
    expect(config.state).toEqual({ kind: 'dynamodb', table: 'opsbot-state' });
    expect(config.port).toBe(8080);
    expect(config.file.access.rules).toEqual([]);
  });

  it('takes the dev-env role from OPSBOT_DEVENV_ROLE_ARN (as the CDK stack sets it) over the file', () => {
    const fromStack = 'arn:aws:iam::444455556666:role/opsbot-devenv';
    expect(
      loadConfig({ ...base, OPSBOT_DEVENV_ROLE_ARN: fromStack }, files(GOOD_YAML)).file.devenv.roleArn,
    ).toBe(fromStack);
    const withoutRole = GOOD_YAML.replace(/ {2}roleArn: .*\n/, '');
    expect(
      loadConfig({ ...base, OPSBOT_DEVENV_ROLE_ARN: fromStack }, files(withoutRole)).file.devenv.roleArn,
    ).toBe(fromStack);
    expect(loadConfig(base, files(withoutRole)).file.devenv.roleArn).toBeUndefined();
    expect(problemsOf({ ...base, OPSBOT_DEVENV_ROLE_ARN: 'opsbot-devenv' })).toEqual([
      'OPSBOT_DEVENV_ROLE_ARN: expected an IAM role ARN such as arn:aws:iam::123456789012:role/opsbot-devenv, got "opsbot-devenv"',
    ]);
  });

  it('reports every problem at once, by name', () => {
    const problems = problemsOf({
      OPSBOT_SECRET_SOURCE: 'vaults',
      OPSBOT_SECRET_POLL_SECONDS: '-5',
      PORT: '70000',
      LOG_LEVEL: 'loud',
      OPSBOT_STATE: 'redis://x',
    });
    const names = problems.map((p) => p.split(':')[0]);
    expect(names).toEqual(
      expect.arrayContaining([
        'OPSBOT_SECRET_SOURCE',
        'OPSBOT_SECRET_POLL_SECONDS',
        'PORT',
        'LOG_LEVEL',
        'OPSBOT_STATE',
      ]),
    );
    expect(problems.find((p) => p.startsWith('OPSBOT_SECRET_SOURCE'))).toBe(
      'OPSBOT_SECRET_SOURCE: expected one of aws, vault, file, env, got "vaults"',
    );
    expect(problems.find((p) => p.startsWith('PORT'))).toBe(
      'PORT: expected an integer from 1 to 65535, got "70000"',
    );
  });

  it('requires what each secret source needs', () => {
    expect(problemsOf({})).toEqual([
      expect.stringMatching(/^AWS_REGION: required when OPSBOT_SECRET_SOURCE=aws/),
    ]);
    expect(problemsOf({ OPSBOT_SECRET_SOURCE: 'file' }).map((p) => p.split(':')[0])).toEqual([
      'OPSBOT_SECRET_FILE',
      'OPSBOT_SECRET_FILE_KEY',
    ]);
    expect(problemsOf({ OPSBOT_SECRET_SOURCE: 'env' })).toEqual([
      expect.stringMatching(/^OPSBOT_SECRET_SLACK: required/),
    ]);
    expect(problemsOf({ OPSBOT_SECRET_SOURCE: 'vault' })).toEqual([
      expect.stringMatching(/^OPSBOT_VAULT_ADDR: required when OPSBOT_SECRET_SOURCE=vault/),
      expect.stringMatching(/^OPSBOT_VAULT_ROLE: required when OPSBOT_VAULT_AUTH=aws/),
    ]);
    expect(
      problemsOf({
        OPSBOT_SECRET_SOURCE: 'vault',
        OPSBOT_VAULT_ADDR: 'https://vault.internal:8200',
        OPSBOT_VAULT_AUTH: 'token',
      }),
    ).toEqual([
      expect.stringMatching(/^VAULT_TOKEN: required when OPSBOT_VAULT_AUTH=token \(development only/),
    ]);
  });

  it('reads the vault source: login, mounts, namespace; a static token is masked and warned about', () => {
    const aws = loadConfig(
      {
        OPSBOT_SECRET_SOURCE: 'vault',
        OPSBOT_VAULT_ADDR: 'https://vault.internal:8200/',
        OPSBOT_VAULT_ROLE: 'opsbot',
        OPSBOT_VAULT_NAMESPACE: '/team-a/',
        OPSBOT_VAULT_IAM_SERVER_ID: 'vault.internal',
      },
      files(''),
    );
    expect(aws.secrets.vault).toEqual({
      addr: 'https://vault.internal:8200',
      auth: 'aws',
      role: 'opsbot',
      authMount: 'aws',
      kvMount: 'secret',
      namespace: 'team-a',
      iamServerId: 'vault.internal',
      k8sTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
    });
    expect(aws.warnings).toEqual([]);
    // No AWS_REGION needed: the login is signed for the global STS endpoint.
    expect(aws.aws).toEqual({});

    const k8s = loadConfig(
      {
        OPSBOT_SECRET_SOURCE: 'vault',
        OPSBOT_VAULT_ADDR: 'https://vault.internal:8200',
        OPSBOT_VAULT_AUTH: 'kubernetes',
        OPSBOT_VAULT_ROLE: 'opsbot',
        OPSBOT_VAULT_AUTH_MOUNT: 'k8s-prod',
        OPSBOT_VAULT_KV_MOUNT: 'kv',
      },
      files(''),
    );
    expect(k8s.secrets.vault).toMatchObject({ auth: 'kubernetes', authMount: 'k8s-prod', kvMount: 'kv' });

    const token = canary('hvs');
    const dev = loadConfig(
      {
        OPSBOT_SECRET_SOURCE: 'vault',
        OPSBOT_VAULT_ADDR: 'http://vault.dev.internal:8200',
        OPSBOT_VAULT_AUTH: 'token',
        VAULT_TOKEN: token,
      },
      files(''),
    );
    expect(dev.secrets.vault?.token?.reveal()).toBe(token);
    expect(dev.warnings).toEqual([
      expect.stringMatching(/^OPSBOT_VAULT_AUTH=token: .*static credential; use it for development only/),
      expect.stringMatching(/^OPSBOT_VAULT_ADDR is plain http to vault\.dev\.internal:8200/),
    ]);
    assertNoCanary({ config: JSON.stringify(dev), warnings: dev.warnings }, [token]);

    expect(
      problemsOf({
        OPSBOT_SECRET_SOURCE: 'vault',
        OPSBOT_VAULT_ADDR: 'vault.internal',
        OPSBOT_VAULT_ROLE: 'ops bot',
        OPSBOT_VAULT_AUTH: 'ldap',
        OPSBOT_VAULT_KV_MOUNT: '../etc',
      }).map((p) => p.split(':')[0]),
    ).toEqual(['OPSBOT_VAULT_ADDR', 'OPSBOT_VAULT_AUTH', 'OPSBOT_VAULT_ROLE', 'OPSBOT_VAULT_KV_MOUNT']);
  });

  it('never echoes the file key, even when it is wrong', () => {
    const key = Buffer.from(canary('key')).toString('base64');
    const problems = problemsOf({
      OPSBOT_SECRET_SOURCE: 'file',
      OPSBOT_SECRET_FILE: '/x',
      OPSBOT_SECRET_FILE_KEY: key,
    });
    expect(problems).toEqual([
      expect.stringMatching(/^OPSBOT_SECRET_FILE_KEY: expected base64 of exactly 32 bytes/),
    ]);
    assertNoCanary({ problems }, [key]);
  });

  it('accepts a valid file key and keeps it wrapped', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const config = loadConfig(
      { OPSBOT_SECRET_SOURCE: 'file', OPSBOT_SECRET_FILE: '/x', OPSBOT_SECRET_FILE_KEY: key },
      files(''),
    );
    expect(config.secrets.file?.key.reveal()).toEqual(Buffer.alloc(32, 7));
    expect(JSON.stringify(config.secrets)).not.toContain(key);
  });

  it('names a missing configuration file and how to fix it', () => {
    let problems: string[] = [];
    try {
      loadConfig({ ...base, OPSBOT_CONFIG: '/nonexistent/opsbot.yaml' });
    } catch (error) {
      problems = [...(error as ConfigError).problems];
    }
    expect(problems).toEqual([
      expect.stringMatching(
        /^OPSBOT_CONFIG: cannot read \/nonexistent\/opsbot.yaml \(file not found\); create it/,
      ),
    ]);
  });

  it('reports malformed YAML with its position', () => {
    const problems = problemsOf(base, 'access:\n  admins: [U0ADMIN\n  rules: {');
    expect(problems[0]).toMatch(/^\.\/opsbot\.yaml: line \d+, column \d+: /);
  });

  it('reports schema errors by YAML path, including unknown keys', () => {
    const problems = problemsOf(
      base,
      `access:\n  admin: [U1]\n  rules:\n    - actions: ["gh:*"]\n      users: [bob]\ndevenv:\n  templates:\n    small: { launchTemplate: lt-1, instanceType: t3.medium, defaultTtl: 48h, maxTtl: 4h }\n`,
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        './opsbot.yaml: access: unknown key "admin"',
        './opsbot.yaml: access.rules[0].users[0]: expected a Slack user id such as U0123ABCD',
        './opsbot.yaml: devenv.templates.small.defaultTtl: defaultTtl must not exceed maxTtl',
      ]),
    );
  });

  it('warns about unknown OPSBOT_ variables instead of ignoring them silently', () => {
    const config = loadConfig({ ...base, OPSBOT_SECRET_SOURSE: 'env' }, files(''));
    expect(config.warnings).toEqual([
      expect.stringContaining('OPSBOT_SECRET_SOURSE is not an opsbot setting'),
    ]);
  });
});
