import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { alertsFeature } from '../../../src/alerts/feature.js';
import { emptyFileOf, fileSchemaOf } from '../../../src/config/file-schema.js';
import { type ConfigSection, configSections } from '../../../src/config/section.js';
import { loadConfig } from '../../../src/config.js';
import { CONFIG_SECTIONS, EMPTY_FILE, FEATURES } from '../../../src/features.js';
import { github } from '../../../src/integrations/github.js';
import { INTEGRATIONS } from '../../../src/integrations/index.js';

/**
 * The configuration file's schema is `access` plus the sections the registered integrations and
 * features contribute (src/config/section.ts): each section under its own key, an absent one read
 * as its default, any other key refused, and two owners of one key refused at start-up.
 */
const section = (key: string, schema: z.ZodType = z.strictObject({ n: z.number().default(1) })) =>
  ({ key, schema }) as ConfigSection;

describe('the sections of the configuration file', () => {
  it('in the production build: github, jira, datadog and devenv from their integrations, alerts and security from their features', () => {
    expect(CONFIG_SECTIONS.map((s) => s.key)).toEqual([
      'github',
      'jira',
      'datadog',
      'devenv',
      'alerts',
      'security',
      'approvals',
    ]);
    // Datadog contributes environment variables only: the file has no `datadog:` key.
    expect(CONFIG_SECTIONS.filter((s) => s.schema).map((s) => s.key)).toEqual([
      'github',
      'jira',
      'devenv',
      'alerts',
      'security',
      'approvals',
    ]);
    expect(configSections(INTEGRATIONS, FEATURES)).toEqual(CONFIG_SECTIONS);
    expect(github.config?.key).toBe('github');
    expect(alertsFeature().config?.key).toBe('alerts');
  });

  it('an empty file reads as before the sections moved: the same defaults', () => {
    expect(EMPTY_FILE).toEqual({
      access: { admins: [], rules: [] },
      github: { users: {} },
      jira: { users: {} },
      alerts: { routes: [] },
      devenv: { maxPerUser: 2, templates: {} },
      // security: its settings' defaults (test/unit/security-config.test.ts lists them).
      security: expect.objectContaining({ leakScan: true, expectedPrincipals: [] }),
      approvals: [],
    });
    expect(emptyFileOf([])).toEqual({ access: { admins: [], rules: [] } });
  });

  it('reads each section with its own schema and keeps its messages', () => {
    const schema = fileSchemaOf(CONFIG_SECTIONS);
    const result = schema.safeParse({
      github: { users: { U0DEV: 'not a login' } },
      jira: { defaultProject: 'ops' },
      alerts: { routes: [{ match: {}, channel: 'general' }] },
      devenv: {
        templates: { small: { launchTemplate: 'lt-1', instanceType: 't3', defaultTtl: '1h', maxTtl: '1h' } },
      },
    });
    expect(result.success).toBe(false);
    const messages = (result.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        'github.users.U0DEV: expected a GitHub login',
        'jira.defaultProject: expected a Jira project key such as OPS',
        'alerts.routes.0.channel: expected a Slack channel id such as C0123ABCD',
        'devenv.templates.small.instanceType: expected an EC2 instance type',
      ]),
    );
  });

  it('takes a default for an absent section when its owner gives one', () => {
    const withDefault: ConfigSection = {
      ...section('x', z.strictObject({ n: z.number() })),
      default: { n: 7 },
    };
    expect(fileSchemaOf([withDefault]).parse({})).toEqual({ access: { admins: [], rules: [] }, x: { n: 7 } });
    expect(fileSchemaOf([section('x', z.strictObject({ n: z.number() }))]).safeParse({}).success).toBe(false);
  });

  it('points dev environments at OPSBOT_DEVENV_ROLE_ARN only when their section is registered', () => {
    const env = {
      AWS_REGION: 'eu-west-1',
      OPSBOT_DEVENV_ROLE_ARN: 'arn:aws:iam::444455556666:role/opsbot-devenv',
    };
    const readFile = () => '';
    expect(loadConfig(env, { readFile, sections: CONFIG_SECTIONS }).file.devenv).toEqual({
      roleArn: 'arn:aws:iam::444455556666:role/opsbot-devenv',
      maxPerUser: 2,
      templates: {},
    });
    const without = loadConfig(env, { readFile });
    expect(without.file).toEqual({ access: { admins: [], rules: [] } });
    // Without dev environments registered, nobody reads their variable: it is reported, not used.
    expect(without.warnings).toEqual([
      'OPSBOT_DEVENV_ROLE_ARN is not an opsbot setting and is ignored (check the spelling against README.md)',
    ]);
    expect(without).not.toHaveProperty('devenv');
  });

  it("reads each registered section's environment variables under its key, defaults and all", () => {
    const readFile = () => '';
    const config = loadConfig({ AWS_REGION: 'eu-west-1' }, { readFile, sections: CONFIG_SECTIONS });
    expect(config.datadog).toEqual({ site: 'datadoghq.com' });
    expect(config.github).toEqual({});
    expect(config.jira).toEqual({});
    expect(config.devenv).toEqual({ reaperSeconds: 60 });
    const set = loadConfig(
      {
        AWS_REGION: 'eu-west-1',
        OPSBOT_DATADOG_SITE: ' DatadogHQ.eu ',
        OPSBOT_DATADOG_API_URL: 'http://127.0.0.1:9/',
        OPSBOT_GITHUB_API_URL: 'https://ghe.acme.test/api/v3',
        OPSBOT_JIRA_URL: 'https://acme.atlassian.net/',
        OPSBOT_DEVENV_REAPER_SECONDS: '30',
      },
      { readFile, sections: CONFIG_SECTIONS },
    );
    expect(set.datadog).toEqual({ site: 'datadoghq.eu', apiUrl: 'http://127.0.0.1:9' });
    expect(set.github).toEqual({ apiUrl: 'https://ghe.acme.test/api/v3' });
    expect(set.jira).toEqual({ url: 'https://acme.atlassian.net' });
    expect(set.devenv).toEqual({ reaperSeconds: 30 });
    expect(set.warnings).toEqual([]);
  });

  it('refuses two owners of one key, and a section named after the core', () => {
    expect(() => fileSchemaOf([section('github'), section('github')])).toThrow(
      'two configuration sections are named "github": each top-level key of the file has one owner',
    );
    expect(() => fileSchemaOf([...CONFIG_SECTIONS, section('alerts')])).toThrow(/"alerts"/);
    expect(() => fileSchemaOf([section('access')])).toThrow(
      `the configuration section "access" is opsbot's own: name the section otherwise`,
    );
  });

  it('accepts exactly the registered keys at the top level (property)', () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/).filter((k) => k !== 'access');
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 5 }), key, (registered, other) => {
        const schema = fileSchemaOf(registered.map((k) => section(k)));
        const parsed = schema.parse(Object.fromEntries(registered.map((k) => [k, {}])));
        expect(Object.keys(parsed).sort()).toEqual(['access', ...registered].sort());
        const unknown = schema.safeParse({ [other]: {} });
        expect(unknown.success).toBe(registered.includes(other));
        if (!unknown.success)
          expect(unknown.error.issues).toEqual([
            expect.objectContaining({ code: 'unrecognized_keys', keys: [other] }),
          ]);
      }),
      { numRuns: 300 },
    );
  });
});
