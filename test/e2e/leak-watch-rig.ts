import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type RunningOpsbot, startOpsbot } from '../../src/app.js';
import { configSections } from '../../src/config/section.js';
import { loadConfig } from '../../src/config.js';
import { INTEGRATIONS } from '../../src/integrations/index.js';
import { type LeakWatchOptions, leakWatchFeature } from '../../src/leak-watch/feature.js';
import type { LeakWatch } from '../../src/leak-watch/watch.js';
import { SimulatedDatadog } from '../../src/sandbox/datadog.js';
import { OffsetClock } from '../../src/sandbox/offset-clock.js';
import { SimulatedSecretsManager } from '../../src/sandbox/secrets-manager.js';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import { canary } from '../helpers/canary.js';
import { eventually } from '../helpers/eventually.js';

export interface LeakBot {
  /** The bot's and Slack's clock (real time until moved). */
  clock: OffsetClock;
  slack: SimulatedSlack;
  app: RunningOpsbot;
  watch: LeakWatch;
  secretsManager: SimulatedSecretsManager;
  /** The canary values opsbot holds (slack, datadog, audit). */
  secrets: string[];
  datadogSecret: { apiKey: string; appKey: string; webhookSecret: string };
  logLines: string[];
  stop(): Promise<void>;
}

/**
 * opsbot with only the leak watch (and the slack and datadog integrations it reads secrets of),
 * against the simulated Slack and Secrets Manager on 127.0.0.1, wired by the real `startOpsbot`.
 * Its own rig (not the sandbox bot): the test gives the feature its rotation hook.
 */
export async function startLeakBot(options: { configYaml: string } & LeakWatchOptions): Promise<LeakBot> {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-leaks-'));
  const configPath = join(dir, 'opsbot.yaml');
  writeFileSync(configPath, options.configYaml);
  const clock = new OffsetClock();
  const slack = new SimulatedSlack({ now: () => clock.now() });
  await slack.start();
  slack.addUser({ id: 'U0ADMIN', name: 'ada', realName: 'Ada Admin', isAdmin: true });
  slack.addUser({ id: 'U0DEV', name: 'dev', realName: 'Devi Developer' });
  slack.addChannel({ id: 'C0DEV', name: 'dev' });
  slack.addChannel({ id: 'C0SEC', name: 'security' });
  slack.addChannel({ id: 'G0PRIV', name: 'private-ops', isPrivate: true });
  for (const id of ['C0ONE', 'C0TWO', 'C0THREE', 'C0FOUR', 'C0FIVE'])
    slack.addChannel({ id, name: id.toLowerCase() });
  const secretsManager = new SimulatedSecretsManager({ clock });
  const { url: smUrl } = await secretsManager.start();
  const datadog = new SimulatedDatadog();
  const { url: datadogUrl } = await datadog.start();
  const slackSecret = { botToken: canary('xoxb'), signingSecret: canary('signing') };
  slack.addBotToken(slackSecret.botToken);
  const datadogSecret = {
    apiKey: canary('dd'),
    appKey: canary('dd'),
    // As in the sandbox: no vendor prefix, nothing a rule would name.
    webhookSecret: `test-canary-${randomBytes(16).toString('hex')}`,
  };
  datadog.addKeys(datadogSecret.apiKey, datadogSecret.appKey);
  const chainKey = randomBytes(32).toString('base64');
  secretsManager.create('opsbot/slack', JSON.stringify(slackSecret));
  secretsManager.create('opsbot/datadog', JSON.stringify(datadogSecret));
  secretsManager.create('opsbot/audit', JSON.stringify({ chainKey }));

  let watch: LeakWatch | undefined;
  const features = [
    leakWatchFeature({
      ...(options.rotateLeaked ? { rotateLeaked: options.rotateLeaked } : {}),
      onBuilt: (built) => {
        watch = built;
      },
    }),
  ];
  const integrations = INTEGRATIONS.filter((i) => i.name === 'slack' || i.name === 'datadog');
  const config = {
    ...loadConfig(
      {
        OPSBOT_SECRET_SOURCE: 'aws',
        OPSBOT_SECRET_POLL_SECONDS: '5',
        AWS_REGION: 'us-east-1',
        OPSBOT_CONFIG: configPath,
        OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
        OPSBOT_SLACK_API_URL: slack.apiUrl,
        OPSBOT_DATADOG_API_URL: datadogUrl,
        OPSBOT_SLACK_MODE: 'http',
        LOG_LEVEL: 'debug',
      },
      { sections: configSections(integrations, features) },
    ),
    port: 0,
  };
  const logLines: string[] = [];
  const app = await startOpsbot({
    config,
    env: {},
    integrations,
    commands: [],
    features,
    clock,
    logDestination: new Writable({
      write(chunk, _enc, cb) {
        logLines.push(...String(chunk).trim().split('\n'));
        cb();
      },
    }),
    aws: {
      secretsManager: {
        endpoint: smUrl,
        credentials: { accessKeyId: 'SANDBOX', secretAccessKey: 'sandbox' },
      },
    },
    host: '127.0.0.1',
    defaultMetrics: false,
  });
  await app.loading;
  await eventually(
    () => app.provider.isLoaded('datadog') && app.provider.isLoaded('slack'),
    'the secrets to load',
  );
  slack.configureApp({
    requestUrl: `http://127.0.0.1:${app.address.port}/slack/events`,
    signingSecret: slackSecret.signingSecret,
  });
  if (!watch) throw new Error('the leak watch was not built');
  return {
    clock,
    slack,
    app,
    watch,
    secretsManager,
    secrets: [...Object.values(slackSecret), ...Object.values(datadogSecret), chainKey],
    datadogSecret,
    logLines,
    async stop() {
      await app.stop(2_000);
      await slack.stop();
      await datadog.stop();
      await secretsManager.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
