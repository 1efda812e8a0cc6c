import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSections } from '../../src/config/section.js';
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
 * The fixture integration contributes its section of the configuration file through the registry
 * (test/fixtures/statuspage-config.ts, a new file only): the real loader accepts `statuspage:` when
 * the integration is registered, its command reads the typed value, a wrong value stops the start
 * naming its path, and without the integration the key is unknown.
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
    extraIntegrations: [statusPageWithConfig(url)],
    extraCommands: [configuredStatusCommand],
    extraSecrets: { statuspage: { apiKey: key } },
  });
});
afterAll(async () => {
  await bot?.stop();
  await service.stop();
});

/** The problems the real loader reports for `yaml` with these integrations registered (none: []). */
function problemsWith(integrations: readonly AnyIntegration[], yaml: string): string[] {
  const env: Env = { AWS_REGION: 'us-east-1', OPSBOT_CONFIG: '/etc/opsbot/opsbot.yaml' };
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
        sections: configSections([...INTEGRATIONS, statusPageWithConfig('http://127.0.0.1:9')], FEATURES),
      },
    );
    expect(config.file.statuspage).toEqual({ page: 'Acme <status> & co', components: ['web'] });
    expect(config.file.github.users).toEqual({ U0DEV: 'octocat' });
    expect(config.file.access.admins).toEqual(['U0ADMIN']);
  });

  it('refuses a wrong value at start-up, naming its path and what is expected', () => {
    const fixture = statusPageWithConfig('http://127.0.0.1:9');
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

  it('leaks no secret', async () => {
    assertNoCanary({
      logs: bot.logLines.join('\n'),
      audit: await bot.state.audit.query({ limit: 200 }),
      slack: bot.slack.calls,
    });
  });
});
