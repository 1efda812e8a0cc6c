import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VARIABLES } from '../../../src/config/variables.js';
import { loadConfig } from '../../../src/config.js';

/**
 * One list of environment variables (src/config/variables.ts) feeds config.ts, infra/ and README's
 * table: here README's table is held to it, name by name and default by default.
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
    const names = [...namesCell.matchAll(/`([A-Z_<>]+)`/g)].map((m) => m[1] as string);
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
    for (const v of VARIABLES)
      expect([v.name, table.get(v.name)]).toEqual([v.name, 'default' in v ? v.default : undefined]);
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
    for (const v of VARIABLES) env[v.name] = valid[v.name] ?? ('default' in v ? v.default : '');
    Object.assign(env, valid);
    const load = (extra: Record<string, string>) =>
      loadConfig(
        { ...env, ...extra },
        { readFile: () => 'access: { admins: [U0ADMIN], rules: [] }\n', secretNames: ['slack'] },
      ).warnings;
    expect(load({})).toEqual([]);
    expect(load({ OPSBOT_SECRET_POLL_SECOND: '60' }).join('\n')).toContain('OPSBOT_SECRET_POLL_SECOND');
  });
});
