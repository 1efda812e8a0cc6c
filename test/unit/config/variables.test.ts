import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readEnvironment } from '../../../infra/lib/container-environment.js';
import { type ConfigSection, configSections } from '../../../src/config/section.js';
import { CORE_VARIABLES, variablesDeployedBy, variablesOf } from '../../../src/config/variables.js';
import { loadConfig } from '../../../src/config.js';
import { CONFIG_SECTIONS, FEATURES, VARIABLES } from '../../../src/features.js';
import { datadog } from '../../../src/integrations/datadog.js';
import { devenv } from '../../../src/integrations/devenv.js';
import { github } from '../../../src/integrations/github.js';
import { INTEGRATIONS } from '../../../src/integrations/index.js';
import { jira } from '../../../src/integrations/jira.js';

/**
 * One list of environment variables feeds config.ts, infra/ and README's table: the core's
 * (src/config/variables.ts) and those each integration or feature contributes with its
 * configuration section (`VARIABLES` in src/features.ts). Here README's table is held to the
 * assembled list, name by name and default by default, and infra/ is shown to read it.
 */
const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

function readmeTable(): Map<string, string | undefined> {
  const start = README.indexOf('| variable | default | meaning |');
  expect(start, 'README has the environment table').toBeGreaterThan(-1);
  const rows = README.slice(start).split('\n').slice(2);
  const table = new Map<string, string | undefined>();
  for (const row of rows) {
    if (!row.startsWith('|')) break;
    const [namesCell = '', defaultsCell = ''] = row.split(' | ').map((c) => c.replace(/^\| /, ''));
    const names = [...namesCell.matchAll(/`([A-Z0-9_<>]+)`/g)].map((m) => m[1] as string);
    const defaults = defaultsCell.split(' / ').map((d) => /^`([^`]+)`$/.exec(d.trim())?.[1]);
    for (const [i, name] of names.entries())
      table.set(name, names.length === defaults.length ? defaults[i] : defaults[0]);
  }
  return table;
}

describe('the environment variables', () => {
  const table = readmeTable();
  const documented = [...table.keys()].filter((name) => name !== 'OPSBOT_SECRET_<INTEGRATION>');

  it("README's table lists exactly the variables opsbot reads", () => {
    expect(documented.sort()).toEqual(VARIABLES.map((v) => v.name).sort());
  });

  it("README's table shows each one's default", () => {
    for (const v of VARIABLES) expect([v.name, table.get(v.name)]).toEqual([v.name, v.default]);
  });

  it('config.ts knows every one: set to valid values, none is reported as unknown (a typo is)', () => {
    const valid: Record<string, string> = {
      OPSBOT_SECRET_SOURCE: 'env',
      OPSBOT_SECRET_SLACK: '{}',
      OPSBOT_SLACK_API_URL: 'https://slack.com/api/',
      OPSBOT_GITHUB_API_URL: 'https://api.github.com',
      OPSBOT_JIRA_URL: 'https://acme.atlassian.net',
      OPSBOT_DATADOG_API_URL: 'https://api.datadoghq.com',
      OPSBOT_DEVENV_ROLE_ARN: 'arn:aws:iam::111122223333:role/opsbot-devenv',
      OPSBOT_METRICS_PORT: '9100',
      OPSBOT_SECRET_FILE: '/tmp/unused',
      OPSBOT_SECRET_FILE_KEY: 'unused-unless-the-file-source',
    };
    const env: Record<string, string> = {};
    for (const v of VARIABLES) env[v.name] = valid[v.name] ?? v.default ?? '';
    Object.assign(env, valid);
    const load = (extra: Record<string, string>) =>
      loadConfig(
        { ...env, ...extra },
        {
          readFile: () => 'access: { admins: [U0ADMIN], rules: [] }\n',
          secretNames: ['slack'],
          sections: CONFIG_SECTIONS,
        },
      ).warnings;
    expect(load({})).toEqual([]);
    expect(load({ OPSBOT_SECRET_POLL_SECOND: '60' }).join('\n')).toContain('OPSBOT_SECRET_POLL_SECOND');
  });

  it("are the core's and those the registered integrations contribute, each owner declaring its own", () => {
    expect(VARIABLES).toEqual(variablesOf(configSections(INTEGRATIONS, FEATURES)));
    expect(VARIABLES.slice(0, CORE_VARIABLES.length)).toEqual(CORE_VARIABLES);
    const names = (section: ConfigSection | undefined) =>
      Object.values(section?.env ?? {}).map((v) => v.name);
    expect(names(github.config)).toEqual(['OPSBOT_GITHUB_API_URL']);
    expect(names(jira.config)).toEqual(['OPSBOT_JIRA_URL']);
    expect(names(datadog.config)).toEqual(['OPSBOT_DATADOG_SITE', 'OPSBOT_DATADOG_API_URL']);
    expect(names(devenv.config)).toEqual(['OPSBOT_DEVENV_REAPER_SECONDS', 'OPSBOT_DEVENV_ROLE_ARN']);
    // No integration's variable is the core's.
    expect(CORE_VARIABLES.map((v) => v.name).filter((n) => /GITHUB|JIRA|DATADOG|DEVENV/.test(n))).toEqual([]);
  });

  it('warns about an OPSBOT_ variable exactly when no registered owner reads it (property)', () => {
    const known = new Set(VARIABLES.map((v) => v.name));
    const name = fc.oneof(
      fc.constantFrom(...known),
      fc.stringMatching(/^OPSBOT_[A-Z_]{1,24}$/),
      fc.constantFrom('OPSBOT_STATUSPAGE_URL', 'OPSBOT_DATADOG_SITES', 'OPSBOT_GITHUB_URL'),
    );
    fc.assert(
      fc.property(name, (variable) => {
        const { warnings } = loadConfig(
          { AWS_REGION: 'us-east-1', [variable]: '' },
          { readFile: () => '', sections: CONFIG_SECTIONS },
        );
        expect(warnings.length).toBe(known.has(variable) ? 0 : 1);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses two owners of one variable (a wiring mistake, at start-up)', () => {
    const owner = (key: string, name: string): ConfigSection => ({
      key,
      env: { url: { name, deploy: 'operator', parse: (text) => ({ ok: true, value: text }) } },
    });
    expect(() => variablesOf([owner('a', 'OPSBOT_A_URL'), owner('b', 'OPSBOT_A_URL')])).toThrow(
      'the environment variable OPSBOT_A_URL is declared by "a" and by "b": each variable has one owner',
    );
    expect(() => variablesOf([owner('a', 'PORT')])).toThrow(/PORT is declared by the core and by "a"/);
    expect(() => loadConfig({}, { readFile: () => '', sections: [owner('secrets', 'OPSBOT_X')] })).toThrow(
      'the configuration section "secrets" is named after a core setting: name the section otherwise',
    );
  });

  it("infra/ takes the container's allow-list from the assembled list: contributed variables included", () => {
    expect(variablesDeployedBy(VARIABLES, 'stack')).toContain('OPSBOT_DEVENV_ROLE_ARN');
    expect(variablesDeployedBy(VARIABLES, 'operator')).toEqual(
      expect.arrayContaining(['OPSBOT_DATADOG_SITE', 'OPSBOT_JIRA_URL', 'OPSBOT_DEVENV_REAPER_SECONDS']),
    );
    const problems: string[] = [];
    expect(
      readEnvironment(
        {
          OPSBOT_JIRA_URL: 'https://acme.atlassian.net',
          OPSBOT_DATADOG_SITE: 'datadoghq.eu',
          OPSBOT_DEVENV_REAPER_SECONDS: 30,
          OPSBOT_DEVENV_ROLE_ARN: 'arn:aws:iam::111122223333:role/x',
        },
        problems,
      ),
    ).toEqual({
      OPSBOT_JIRA_URL: 'https://acme.atlassian.net',
      OPSBOT_DATADOG_SITE: 'datadoghq.eu',
      OPSBOT_DEVENV_REAPER_SECONDS: '30',
    });
    expect(problems).toEqual(['environment.OPSBOT_DEVENV_ROLE_ARN: set by the stack itself; remove it']);
  });
});
