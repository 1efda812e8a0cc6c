import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigFileError, checkConfigFile } from '../../infra/lib/config-file.js';
import { ContextError, isDomainName, readSettings } from '../../infra/lib/context.js';
import { CDK_CONTEXT, CERTIFICATE_ARN } from './synth.js';

const settingsOf = (overrides: Record<string, unknown> = {}) => {
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

function configProblems(overrides: Record<string, unknown>): string {
  try {
    checkConfigFile(settingsOf(overrides));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigFileError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigFileError');
}

describe('context settings', () => {
  it('infra/cdk.json’s defaults: an environment-agnostic Socket Mode stack', () => {
    expect(settingsOf()).toMatchObject({
      stackName: 'opsbot',
      slackMode: 'socket',
      desiredCount: 2,
      cpu: 512,
      memoryMiB: 1024,
      logRetentionDays: 365,
      secretPrefix: 'opsbot/',
      secretsAdminRole: 'opsbot-secrets-admin',
      configFile: 'infra/opsbot.example.yaml',
      natGateways: 1,
      environment: {},
    });
    expect(settingsOf().account).toBeUndefined();
    expect(settingsOf().region).toBeUndefined();
  });

  it('accepts strings from the command line (-c desiredCount=3, -c environment={…})', () => {
    const settings = settingsOf({
      desiredCount: '3',
      environment: '{"OPSBOT_JIRA_URL":"https://acme.atlassian.net"}',
    });
    expect(settings.desiredCount).toBe(3);
    expect(settings.environment).toEqual({ OPSBOT_JIRA_URL: 'https://acme.atlassian.net' });
  });

  it('reports every problem at once, naming the key', () => {
    const problems = problemsOf({
      slackMode: 'http',
      desiredCount: -1,
      logRetentionDays: 42,
      desiredcount: 2,
    });
    expect(problems.join('\n')).toMatch(/^certificateArn: required when slackMode is "http"/m);
    expect(problems.join('\n')).toMatch(/^region: required when slackMode is "http"/m);
    expect(problems.join('\n')).toMatch(/^desiredCount: expected a whole number/m);
    expect(problems.join('\n')).toMatch(/^logRetentionDays: expected one of CloudWatch's values from 365/m);
    expect(problems.join('\n')).toMatch(/^desiredcount: not a setting of this app/m);
  });

  it('keeps logs a year at least: AWS Control Tower refuses a shorter retention (CT.CLOUDWATCH.PR.2)', () => {
    expect(problemsOf({ logRetentionDays: 90 })).toEqual([
      "logRetentionDays: expected one of CloudWatch's values from 365 (AWS Control Tower's CT.CLOUDWATCH.PR.2 refuses log groups kept less than a year): 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653",
    ]);
    expect(settingsOf({ logRetentionDays: '400' }).logRetentionDays).toBe(400);
  });

  it('accepts exactly the CloudWatch retentions of a year or more, as numbers or strings', () => {
    const accepted = new Set([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]);
    fc.assert(
      fc.property(fc.integer({ min: -10, max: 4000 }), fc.boolean(), (days, asString) => {
        const value = asString ? String(days) : days;
        if (accepted.has(days)) expect(settingsOf({ logRetentionDays: value }).logRetentionDays).toBe(days);
        else expect(problemsOf({ logRetentionDays: value })[0]).toMatch(/^logRetentionDays: expected/);
      }),
    );
  });

  it('wants the certificate in the load balancer’s region', () => {
    expect(problemsOf({ slackMode: 'http', region: 'us-east-1', certificateArn: CERTIFICATE_ARN })).toEqual([
      'certificateArn: the certificate is in eu-west-1; the load balancer needs one in us-east-1',
    ]);
  });

  it('takes domainName in http mode only: the DNS name on the certificate, lower-cased', () => {
    const http = { slackMode: 'http', region: 'eu-west-1', certificateArn: CERTIFICATE_ARN };
    expect(settingsOf({ ...http, domainName: 'Opsbot.Example.com' }).domainName).toBe('opsbot.example.com');
    expect(settingsOf(http).domainName).toBeUndefined();
    expect(problemsOf({ domainName: 'opsbot.example.com' })).toEqual([
      'domainName: read only with slackMode "http" (Socket Mode has no inbound path); add -c slackMode=http, or remove it',
    ]);
    for (const bad of [
      'https://opsbot.example.com',
      'opsbot.example.com/x',
      'localhost',
      'opsbot..example.com',
    ])
      expect(problemsOf({ ...http, domainName: bad }), bad).toEqual([
        `domainName: expected the DNS name on the certificate, such as opsbot.example.com (no scheme, no path), got "${bad.toLowerCase()}"`,
      ]);
  });

  it('accepts as domainName exactly what can stand as the host of an https URL with nothing else in it (property)', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    const names = fc.tuple(
      fc.array(label, { minLength: 1, maxLength: 4 }),
      fc.stringMatching(/^[a-z]{2,6}$/),
    );
    fc.assert(
      fc.property(names, ([labels, tld]) => {
        const name = [...labels, tld].join('.');
        expect(isDomainName(name)).toBe(true);
        expect(new URL(`https://${name}/webhooks/aws-events`).hostname).toBe(name);
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9.:/@?#-]{1,30}$/), (text) => {
        if (!isDomainName(text)) return;
        // Whatever it accepts is a bare host: the URL built from it has that host and nothing more.
        const url = new URL(`https://${text}/webhooks/aws-events`);
        expect(url.hostname).toBe(text);
        expect(url.pathname).toBe('/webhooks/aws-events');
      }),
    );
  });

  it('never lets a secret, or a setting the stack owns, into the container environment', () => {
    const problems = problemsOf({
      environment: {
        OPSBOT_SECRET_SLACK: '{"botToken":"xoxb-1"}',
        OPSBOT_STATE: 'sqlite:/tmp/x',
        FOO: 'bar',
      },
    }).join('\n');
    expect(problems).toMatch(
      /environment\.OPSBOT_SECRET_SLACK: a secret never goes into the task definition/,
    );
    expect(problems).not.toContain('xoxb-1');
    expect(problems).toMatch(/environment\.OPSBOT_STATE: set by the stack itself/);
    expect(problems).toMatch(/environment\.FOO: not a setting the container takes/);
  });

  it('wants the configuration file inside the repository', () => {
    expect(problemsOf({ configFile: '../opsbot.yaml' }).join('\n')).toMatch(
      /^configFile: expected a \.yaml file inside/m,
    );
    expect(problemsOf({ configFile: 'infra/missing.yaml' }).join('\n')).toMatch(/does not exist/);
  });
});

describe('the configuration file, checked at synth time', () => {
  it('the example names what the stack creates, and gives the instance types the role may launch', () => {
    const config = checkConfigFile(settingsOf());
    expect(config.instanceTypes).toEqual(['t3.medium', 't3.xlarge']);
    // It leaves devenv.roleArn out: the container gets the stack's role as OPSBOT_DEVENV_ROLE_ARN.
    expect(config.roleArn).toBeUndefined();
    expect(config.warnings).toEqual([]);
    // A file that names the role: without an account in context its account cannot be checked.
    const named = checkConfigFile(
      settingsOf({ stackName: 'opsbot-staging', configFile: 'test/infra/fixtures/other-stack.yaml' }),
    );
    expect(named.roleArn).toBe('arn:aws:iam::444455556666:role/opsbot-staging-devenv');
    expect(named.warnings.join('\n')).toMatch(/cannot be checked/);
  });

  it('refuses a file the bot would refuse, with the bot’s own messages', () => {
    const message = configProblems({ configFile: 'test/infra/fixtures/invalid.yaml' });
    expect(message).toContain('access.admins[0]: expected a Slack user id');
    expect(message).toContain('unknown key "colour"');
  });

  it('refuses a role or launch template the stack does not create', () => {
    const message = configProblems({ configFile: 'test/infra/fixtures/wrong-devenv.yaml' });
    expect(message).toContain(
      'devenv.roleArn: this stack creates the role opsbot-devenv; the file names "someone-elses-role"',
    );
    expect(message).toContain(
      'devenv.templates.small.launchTemplate: this stack creates the launch template "opsbot-devenv"',
    );
  });

  it('refuses a role in another account than the one deployed to', () => {
    expect(
      configProblems({
        account: '999999999999',
        stackName: 'opsbot-staging',
        configFile: 'test/infra/fixtures/other-stack.yaml',
      }),
    ).toContain('devenv.roleArn: the stack deploys to account 999999999999; the file names 444455556666');
  });

  it('accepts templates without devenv.roleArn: the stack gives the container its role', () => {
    const config = checkConfigFile(settingsOf({ configFile: 'test/infra/fixtures/templates-no-role.yaml' }));
    expect(config.roleArn).toBeUndefined();
    expect(config.instanceTypes.length).toBeGreaterThan(0);
  });

  it('follows the stack name', () => {
    const config = checkConfigFile(
      settingsOf({
        stackName: 'opsbot-staging',
        account: '444455556666',
        configFile: 'test/infra/fixtures/other-stack.yaml',
      }),
    );
    expect(config.instanceTypes).toEqual(['t3.small']);
  });
});
