import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSections } from '../../src/config/section.js';
import { variablesOf } from '../../src/config/variables.js';
import { type Env, loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { FEATURES } from '../../src/features.js';
import { INTEGRATIONS } from '../../src/integrations/index.js';
import type { AnyIntegration } from '../../src/integrations/integration.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { SimulatedStatusPage } from '../../src/sandbox/statuspage.js';
import { statusPageIntegration } from '../fixtures/statuspage.js';
import { configuredStatusCommand, statusPageWithConfig } from '../fixtures/statuspage-config.js';
import { assertNoCanary, canary } from '../helpers/canary.js';

/**
 * The fixture integration contributes its section of the configuration file and its environment
 * variable through the registry (test/fixtures/statuspage-config.ts, a new file only): the real
 * loader accepts `statuspage:` and reads `OPSBOT_STATUSPAGE_URL` when the integration is
 * registered, its command reads the typed file value and its client calls the URL from the
 * variable, a wrong value stops the start naming its path or variable, and without the
 * integration the key is unknown and the variable reported as not a setting.
 */
const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["status:*"]
      channels: [C0DEV]
      users: [U0DEV]
`;
const SECTION = `statuspage:
  page: Acme <status> & co
  components: [web]
`;

const service = new SimulatedStatusPage();
let bot: SandboxBot;
let key = '';

beforeAll(async () => {
  const { url } = await service.start();
  key = canary('sp');
  service.addKey(key);
  bot = await startSandboxBot({
    configYaml: `${POLICY}${SECTION}`,
    pollSeconds: 60,
    // The integration knows no URL but the one its own variable gives it.
    extraIntegrations: [statusPageWithConfig()],
    extraCommands: [configuredStatusCommand],
    extraSecrets: { statuspage: { apiKey: key } },
    extraEnv: { OPSBOT_STATUSPAGE_URL: `${url}/` },
  });
});
afterAll(async () => {
  await bot?.stop();
  await service.stop();
});

/** The problems the real loader reports for `yaml` with these integrations registered (none: []). */
function problemsWith(integrations: readonly AnyIntegration[], yaml: string, extra: Env = {}): string[] {
  const env: Env = { AWS_REGION: 'us-east-1', OPSBOT_CONFIG: '/etc/opsbot/opsbot.yaml', ...extra };
  try {
    loadConfig(env, {
      readFile: () => yaml,
      sections: configSections([...INTEGRATIONS, ...integrations], FEATURES),
    });
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
}

describe("an integration's configuration section, contributed through the registry", () => {
  it('reaches its command typed: /status show lists only the configured components, under the page title', async () => {
    // The client found the simulated status page at OPSBOT_STATUSPAGE_URL: the variable reached it.
    const delivery = await bot.slack.sendSlashCommand({
      command: '/status',
      text: 'show',
      userId: 'U0DEV',
      channelId: 'C0DEV',
    });
    expect(delivery.status).toBe(200);
    const [reply] = await bot.slack.waitForResponse(delivery.responseUrl);
    // The service has api and web; the file names web only. The title is escaped like any user text.
    expect(reply?.text).toBe('*Acme &lt;status&gt; &amp; co*\nweb: degraded');
  });

  it('is read by the real loader beside the core and the production sections', () => {
    const config = loadConfig(
      { AWS_REGION: 'us-east-1' },
      {
        readFile: () => `${POLICY}github:\n  users: { U0DEV: octocat }\n${SECTION}`,
        sections: configSections([...INTEGRATIONS, statusPageWithConfig()], FEATURES),
      },
    );
    expect(config.file.statuspage).toEqual({ page: 'Acme <status> & co', components: ['web'] });
    expect(config.file.github.users).toEqual({ U0DEV: 'octocat' });
    expect(config.file.access.admins).toEqual(['U0ADMIN']);
  });

  it('refuses a wrong value at start-up, naming its path and what is expected', () => {
    const fixture = statusPageWithConfig();
    expect(problemsWith([fixture], `${POLICY}statuspage:\n  page: Acme\n  components: [API]\n`)).toEqual([
      '/etc/opsbot/opsbot.yaml: statuspage.components[0]: expected a component name such as api',
    ]);
    expect(problemsWith([fixture], `${POLICY}statuspage:\n  page: Acme\n  colour: red\n`)).toEqual([
      '/etc/opsbot/opsbot.yaml: statuspage: unknown key "colour"',
    ]);
    // `page` has no default: with the integration registered, the section must be there.
    expect(problemsWith([fixture], POLICY)).toEqual([
      '/etc/opsbot/opsbot.yaml: statuspage.page: expected string',
    ]);
  });

  it('is an unknown key when the integration does not contribute it', () => {
    const bare = statusPageIntegration('http://127.0.0.1:9');
    expect(problemsWith([bare], `${POLICY}${SECTION}`)).toEqual([
      '/etc/opsbot/opsbot.yaml: unknown key "statuspage"',
    ]);
    expect(problemsWith([], `${POLICY}${SECTION}`)).toEqual([
      '/etc/opsbot/opsbot.yaml: unknown key "statuspage"',
    ]);
  });
});

describe("an integration's environment variable, contributed through the registry", () => {
  const fixture = statusPageWithConfig();
  const env = { AWS_REGION: 'us-east-1', OPSBOT_STATUSPAGE_URL: ' https://status.acme.test/api/ ' };
  const load = (integrations: readonly AnyIntegration[], yaml = POLICY) =>
    loadConfig(env, {
      readFile: () => yaml,
      sections: configSections([...INTEGRATIONS, ...integrations], FEATURES),
    });

  it('is read by the real loader when the integration is registered, beside the core and the production variables', () => {
    const config = load([fixture], `${POLICY}${SECTION}`);
    expect(config.statuspage).toEqual({ url: 'https://status.acme.test/api' });
    expect(config.datadog).toEqual({ site: 'datadoghq.com' });
    expect(config.warnings).toEqual([]);
    // Unset: left out, as every optional variable is.
    const unset = loadConfig(
      { AWS_REGION: 'us-east-1' },
      { readFile: () => `${POLICY}${SECTION}`, sections: configSections([fixture]) },
    );
    expect(unset.statuspage).toEqual({});
  });

  it('joins the list infra/ and README are held to, with its deploy', () => {
    const names = (sections: Parameters<typeof variablesOf>[0]) => variablesOf(sections).map((v) => v.name);
    const withFixture = variablesOf(configSections([...INTEGRATIONS, fixture], FEATURES));
    expect(withFixture.find((v) => v.name === 'OPSBOT_STATUSPAGE_URL')).toEqual({
      name: 'OPSBOT_STATUSPAGE_URL',
      deploy: 'operator',
    });
    expect(names(configSections(INTEGRATIONS, FEATURES))).not.toContain('OPSBOT_STATUSPAGE_URL');
  });

  it('refuses a bad value at start-up, in one line naming the variable and what is expected', () => {
    expect(
      problemsWith([fixture], `${POLICY}${SECTION}`, { OPSBOT_STATUSPAGE_URL: 'status.acme.test' }),
    ).toEqual([
      'OPSBOT_STATUSPAGE_URL: expected an absolute http:// or https:// URL without user or password, got "status.acme.test"',
    ]);
    // A URL with credentials in it is refused without echoing them.
    const token = canary('url');
    const problems = problemsWith([fixture], `${POLICY}${SECTION}`, {
      OPSBOT_STATUSPAGE_URL: `https://me:${token}@status.acme.test`,
    });
    expect(problems).toEqual([
      'OPSBOT_STATUSPAGE_URL: expected an absolute http:// or https:// URL without user or password, got a value (not shown: it contains "@")',
    ]);
    assertNoCanary({ problems }, [token]);
  });

  it('is not a setting when the integration does not contribute it: a warning, and not read', () => {
    const warning =
      'OPSBOT_STATUSPAGE_URL is not an opsbot setting and is ignored (check the spelling against README.md)';
    for (const integrations of [[], [statusPageIntegration('http://127.0.0.1:9')]]) {
      const config = load(integrations);
      expect(config.warnings).toEqual([warning]);
      expect(config).not.toHaveProperty('statuspage');
    }
    // Nor is a bad value a problem then: nobody reads it.
    expect(problemsWith([], POLICY, { OPSBOT_STATUSPAGE_URL: 'status.acme.test' })).toEqual([]);
  });
});

describe('the fixture running in the sandbox', () => {
  it('leaks no secret', async () => {
    assertNoCanary({
      logs: bot.logLines.join('\n'),
      audit: await bot.state.audit.query({ limit: 200 }),
      slack: bot.slack.calls,
    });
  });
});
