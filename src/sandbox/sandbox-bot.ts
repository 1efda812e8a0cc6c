import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { COMMANDS } from '../../commands/index.js';
import type { DispatcherOptions } from '../alerts/dispatcher.js';
import { alertsFeature } from '../alerts/feature.js';
import { type RunningOpsbot, startOpsbot } from '../app.js';
import type { AuditRecord } from '../audit/records.js';
import type { CommandModule } from '../command-kit/command-spec.js';
import { configSections } from '../config/section.js';
import { loadConfig } from '../config.js';
import type { CredentialProvider } from '../credentials/provider.js';
import { devenvReaperFeature } from '../devenv/feature.js';
import { INTEGRATIONS } from '../integrations/index.js';
import type { AnyIntegration } from '../integrations/integration.js';
import type { Logger } from '../log.js';
import type { Registry } from '../metrics.js';
import type { State } from '../store/state.js';
import { SimulatedDatadog } from './datadog.js';
import { DatadogWebhookSender } from './datadog-webhook-sender.js';
import { SimulatedAws } from './ec2.js';
import { SimulatedGitHub } from './github.js';
import { SimulatedJira } from './jira.js';
import { OffsetClock } from './offset-clock.js';
import { SimulatedSecretsManager } from './secrets-manager.js';
import { SimulatedSlack } from './slack.js';

/** The dev-env role and launch template the simulated AWS knows (the sample policy uses them). */
export const SANDBOX_DEVENV_ROLE = 'arn:aws:iam::123456789012:role/opsbot-devenv';
export const SANDBOX_LAUNCH_TEMPLATE = 'lt-0abc1234567890def';

/** The sample policy the console starts with; tests pass their own. */
export const SAMPLE_POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["gh:*", "jira:*", "dd:*"]
      channels: [C0DEV, C0OPS]
    - actions: ["dd:*", "jira:create"]
      channels: [C0ALERTS, C0PAYMENTS]
    - actions: ["devenv:*"]
      usergroups: [S0PLATFORM]
      channels: [C0DEV]
github:
  users: { U0DEV: octocat, U0ADMIN: monalisa }
jira:
  defaultProject: OPS
  defaultBoard: 1
  users: { U0DEV: "5b10a2844c20165700ede21g", U0ADMIN: "5b10ac8d82e05b22cc7d4ef5" }
alerts:
  defaultChannel: C0ALERTS
  routes:
    - match: { tags: ["team:payments"] }
      channel: C0PAYMENTS
devenv:
  roleArn: ${SANDBOX_DEVENV_ROLE}
  maxPerUser: 2
  templates:
    small: { launchTemplate: ${SANDBOX_LAUNCH_TEMPLATE}, instanceType: t3.medium, defaultTtl: 4h, maxTtl: 24h }
`;

export interface SandboxBotOptions {
  /** The YAML configuration file (access policy…); {@link SAMPLE_POLICY} by default. */
  configYaml?: string;
  /** Commands beyond the real ones (tests add probes and fixtures). */
  extraCommands?: CommandModule[];
  /** Integrations beyond the real ones (test fixtures), registered like any other. */
  extraIntegrations?: AnyIntegration[];
  /** More secrets to put in the simulated Secrets Manager, by name (`statuspage` → `opsbot/statuspage`). */
  extraSecrets?: Record<string, object>;
  /** More environment variables for the loader (a fixture integration's own, `OPSBOT_STATUSPAGE_URL`). */
  extraEnv?: Record<string, string>;
  /** Where assumed-role integrations call STS (moto in tests); the SDK's default otherwise. */
  stsEndpoint?: string;
  /** Where dev-environment EC2 calls go (moto in tests); the simulated EC2 ({@link SandboxBot.aws}) by default. */
  ec2Endpoint?: string;
  /** How long an EC2 call may take before the SDK abandons and retries it (10 s by default). */
  ec2RequestTimeoutMs?: number;
  /** The bot's clock: an {@link OffsetClock} (real time until moved) unless given. */
  clock?: OffsetClock;
  /** Where log lines go (JSON); kept in `logLines` (at least the last 500) as well. */
  logLevel?: string;
  pollSeconds?: number;
  /** Events over Socket Mode (an app-level token) instead of HTTP. */
  socketMode?: boolean;
  /** Leave `appToken` out of the slack secret (to show what a misconfiguration looks like). */
  withoutAppToken?: boolean;
  /** Called once each audit record is stored (the Slack benchmark times request → stored). */
  onAuditStored?: (record: AuditRecord) => void;
  /** Alert dispatcher pacing and leases (tests shorten them). */
  alerts?: Partial<DispatcherOptions>;
  /** Wraps the state store (tests inject faults: a write that fails as if the process died there). */
  wrapState?: (state: State) => State;
}

export interface SandboxBot {
  /** Real time until moved (the console's `:time +25m`). */
  clock: OffsetClock;
  slack: SimulatedSlack;
  github: SimulatedGitHub;
  datadog: SimulatedDatadog;
  /** Sends Datadog webhooks to the bot, with the current `webhookSecret`. */
  webhooks: DatadogWebhookSender;
  /** Simulated STS and EC2 for dev environments (unless the options point elsewhere). */
  aws: SimulatedAws;
  jira: SimulatedJira;
  secretsManager: SimulatedSecretsManager;
  app: RunningOpsbot;
  provider: CredentialProvider;
  state: State;
  metrics: Registry;
  log: Logger;
  /** http://127.0.0.1:PORT of the bot. */
  base: string;
  dir: string;
  /** The canary values in use (tests assert they never leak). */
  secrets: () => string[];
  logLines: string[];
  /**
   * Rotates the `slack` secret as an operator would: the new version goes to AWSPENDING (the bot
   * accepts its signing secret from then on), Slack switches to the new signing secret and token,
   * then AWSCURRENT moves.
   */
  rotateSlack(options?: { finish?: boolean }): { signingSecret: string; botToken: string; appToken?: string };
  /**
   * Rotates the GitHub App's private key as an operator would: a new key is added to the App,
   * the secret moves to it; `retireOld` then deletes the old key from the App.
   */
  rotateGitHubKey(options?: { retireOld?: boolean }): void;
  /** Rotates the Jira API token in Secrets Manager; `retireOld` revokes the old one at Jira at once. */
  rotateJira(options?: { retireOld?: boolean }): void;
  /**
   * The last step of a rotation (README, "Rotating each secret"): revokes, at the simulated vendor,
   * the credential of the secret's AWSPREVIOUS version (Jira's API token, Datadog's key pair).
   * False when there is nothing to revoke.
   */
  retireRotated(integration: 'jira' | 'datadog'): boolean;
  /**
   * "Change the header in Datadog": the simulated Datadog's webhook sender uses the `webhookSecret`
   * of the `datadog` secret's AWSPENDING version (else AWSCURRENT) from now on.
   */
  switchWebhookSecret(): void;
  stop(): Promise<void>;
}

const hex = (n: number) => randomBytes(n).toString('hex');

/**
 * The whole bot against simulated services: Slack (users, channels, a user group), Secrets
 * Manager with canary secrets, SQLite in a temp dir. Powers `npm run console`, the e2e tests and
 * the Slack benchmark, so all three exercise the same wiring as production.
 */
export async function startSandboxBot(options: SandboxBotOptions = {}): Promise<SandboxBot> {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-sandbox-'));
  const configPath = join(dir, 'opsbot.yaml');
  writeFileSync(configPath, options.configYaml ?? SAMPLE_POLICY);

  // One clock for the bot and the Slack that signs its requests (the console's :time moves both).
  const clock = options.clock ?? new OffsetClock();
  const slack = new SimulatedSlack({ now: () => clock.now() });
  await slack.start();
  seedWorkspace(slack);
  const secretsManager = new SimulatedSecretsManager({ clock });
  const { url: smUrl } = await secretsManager.start();
  const issued: string[] = [];
  const slackSecret = () => {
    const value: { botToken: string; signingSecret: string; appToken?: string } = {
      botToken: `xoxb-test-canary-${hex(8)}`,
      signingSecret: `test-canary-${hex(16)}`,
      ...(options.socketMode && !options.withoutAppToken ? { appToken: `xapp-test-canary-${hex(8)}` } : {}),
    };
    issued.push(...Object.values(value));
    if (value.appToken) slack.addAppToken(value.appToken);
    return value;
  };
  const first = slackSecret();
  slack.addBotToken(first.botToken);
  secretsManager.create('opsbot/slack', JSON.stringify(first));
  let next: ReturnType<typeof slackSecret> | undefined;
  secretsManager.setRotator('opsbot/slack', () => JSON.stringify(next ?? slackSecret()));
  const github = new SimulatedGitHub({ appId: '1234', installationId: '5678', now: () => clock.now() });
  const { url: githubUrl } = await github.start();
  let githubKeyId = '';
  const githubSecret = () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    githubKeyId = github.addAppKey(publicKey);
    issued.push(privateKey);
    return JSON.stringify({ appId: '1234', installationId: '5678', privateKey });
  };
  secretsManager.create('opsbot/github', githubSecret());
  secretsManager.setRotator('opsbot/github', () => githubSecret());
  // Dev environments: STS and EC2 on the sandbox clock. The bot's "task role" may assume the
  // dev-env role; EC2 takes only the sessions it mints.
  const aws = new SimulatedAws({ now: () => clock.now() });
  const { url: awsUrl } = await aws.start();
  aws.sts.addCredentials('SANDBOX', 'sandbox', { arn: 'arn:aws:iam::123456789012:role/opsbot-task' });
  aws.sts.addRole(SANDBOX_DEVENV_ROLE);
  aws.ec2.addLaunchTemplate({ id: SANDBOX_LAUNCH_TEMPLATE, name: 'opsbot-dev', httpTokens: 'required' });
  const datadog = new SimulatedDatadog();
  const { url: datadogUrl } = await datadog.start();
  const jira = new SimulatedJira({ now: () => clock.now() });
  const { url: jiraUrl } = await jira.start();
  const { webhookSecret } = seedOtherSecrets(secretsManager, issued, datadog, jira);

  for (const [name, value] of Object.entries(options.extraSecrets ?? {})) {
    secretsManager.create(`opsbot/${name}`, JSON.stringify(value));
    issued.push(
      ...Object.values(value).filter((v): v is string => typeof v === 'string' && v.includes('canary')),
    );
  }

  // The production features; the alert dispatcher's pacing and leases as the test asks.
  const features = [
    alertsFeature(options.alerts ? { dispatcher: options.alerts } : {}),
    devenvReaperFeature(),
  ];
  const integrations = [...INTEGRATIONS, ...(options.extraIntegrations ?? [])];
  const config = {
    ...loadConfig(
      {
        OPSBOT_SECRET_SOURCE: 'aws',
        OPSBOT_SECRET_POLL_SECONDS: String(options.pollSeconds ?? 5),
        AWS_REGION: 'us-east-1',
        OPSBOT_CONFIG: configPath,
        OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
        OPSBOT_SLACK_API_URL: slack.apiUrl,
        OPSBOT_GITHUB_API_URL: githubUrl,
        OPSBOT_DATADOG_API_URL: datadogUrl,
        OPSBOT_JIRA_URL: jiraUrl,
        OPSBOT_SLACK_MODE: options.socketMode ? 'socket' : 'http',
        LOG_LEVEL: options.logLevel ?? 'info',
        ...options.extraEnv,
      },
      // The file's sections: the real ones and those of fixture integrations.
      { sections: configSections(integrations, features) },
    ),
    port: 0,
  };
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(...String(chunk).trim().split('\n'));
      // Trimmed in batches (at most 1,000 kept, never fewer than the last 500): one splice per 500
      // lines, not a shift of the whole array per line under load.
      if (logLines.length > 1_000) logLines.splice(0, logLines.length - 500);
      cb();
    },
  });
  const app = await startOpsbot({
    config,
    env: {},
    integrations,
    commands: [...COMMANDS, ...(options.extraCommands ?? [])],
    clock,
    logDestination: destination,
    // The simulated Secrets Manager takes any signature; these are not credentials.
    aws: {
      secretsManager: {
        endpoint: smUrl,
        credentials: { accessKeyId: 'SANDBOX', secretAccessKey: 'sandbox' },
      },
      ec2: {
        endpoint: options.ec2Endpoint ?? awsUrl,
        ...(options.ec2RequestTimeoutMs ? { requestTimeoutMs: options.ec2RequestTimeoutMs } : {}),
      },
      sts: {
        endpoint: options.stsEndpoint ?? awsUrl,
        credentials: { accessKeyId: 'SANDBOX', secretAccessKey: 'sandbox' },
      },
    },
    host: '127.0.0.1',
    defaultMetrics: false,
    wrapState: (state: State) => {
      const observed = options.onAuditStored ? observeAudit(options.onAuditStored)(state) : state;
      return options.wrapState ? options.wrapState(observed) : observed;
    },
    features,
  });
  const { provider, state, metrics, log } = app;
  await app.loading;
  // The start-up records (one per secret loaded) are stored and logged before anyone looks.
  const loaded = provider.names().filter((name) => provider.isLoaded(name)).length;
  await waitUntil(() => (state.audit.head()?.seq ?? 0) >= loaded, 'the start-up audit records to be stored');
  const base = `http://127.0.0.1:${app.address.port}`;
  let webhooks = new DatadogWebhookSender({ url: `${base}/webhooks/datadog`, secret: webhookSecret });
  slack.configureApp({ requestUrl: `${base}/slack/events`, signingSecret: first.signingSecret });
  if (options.socketMode) slack.useSocketMode();
  if (options.socketMode && !options.withoutAppToken) {
    await waitUntil(() => slack.socketConnections > 0, 'the bot to open its Socket Mode connection');
  }

  const sandbox: SandboxBot = {
    clock,
    slack,
    github,
    datadog,
    // A getter: `switchWebhookSecret` replaces the sender, as Datadog's header changes.
    get webhooks() {
      return webhooks;
    },
    aws,
    jira,
    secretsManager,
    app,
    provider,
    state,
    metrics,
    log,
    base,
    dir,
    logLines,
    secrets: () => [...issued],
    rotateSlack({ finish = true } = {}) {
      next = slackSecret();
      const value = next;
      secretsManager.rotate('opsbot/slack', { hold: true });
      slack.addBotToken(value.botToken);
      slack.configureApp({ requestUrl: `${base}/slack/events`, signingSecret: value.signingSecret });
      if (options.socketMode) slack.useSocketMode();
      if (finish) secretsManager.finishRotation('opsbot/slack');
      next = undefined;
      return value;
    },
    rotateGitHubKey({ retireOld = true } = {}) {
      const old = githubKeyId;
      secretsManager.rotate('opsbot/github');
      if (retireOld) github.removeAppKey(old);
    },
    rotateJira({ retireOld = true } = {}) {
      secretsManager.rotate('opsbot/jira');
      if (retireOld) sandbox.retireRotated('jira');
    },
    retireRotated(integration) {
      const previous = secretsManager.valueOf(`opsbot/${integration}`, 'AWSPREVIOUS');
      const value = previous ? (JSON.parse(previous) as Record<string, unknown>) : {};
      if (integration === 'jira' && typeof value.apiToken === 'string') {
        jira.revokeToken(value.apiToken);
        return true;
      }
      if (integration === 'datadog' && typeof value.apiKey === 'string') {
        datadog.revokeKeys(value.apiKey);
        return true;
      }
      return false;
    },
    switchWebhookSecret() {
      const value =
        secretsManager.valueOf('opsbot/datadog', 'AWSPENDING') ?? secretsManager.valueOf('opsbot/datadog');
      const secret = (JSON.parse(value ?? '{}') as { webhookSecret?: unknown }).webhookSecret;
      if (typeof secret !== 'string') throw new Error('the datadog secret has no webhookSecret');
      webhooks = new DatadogWebhookSender({ url: webhooks.url, secret });
    },
    async stop() {
      await app.stop(2_000);
      await slack.stop();
      await github.stop();
      await datadog.stop();
      await aws.stop();
      await jira.stop();
      await secretsManager.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return sandbox;
}

/** Calls `listener` with each audit record once it is stored. */
function observeAudit(listener: (record: AuditRecord) => void): (state: State) => State {
  return (state) => ({
    ...state,
    audit: {
      ...state.audit,
      append: (event) =>
        state.audit.append(event).then((record) => {
          listener(record);
          return record;
        }),
    },
  });
}

async function waitUntil(done: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function seedWorkspace(slack: SimulatedSlack): void {
  slack.addUser({ id: 'U0ADMIN', name: 'ada', realName: 'Ada Admin', isAdmin: true });
  slack.addUser({ id: 'U0DEV', name: 'dev', realName: 'Devi Developer' });
  slack.addUser({ id: 'U0GUEST', name: 'guest', realName: 'Gus Guest' });
  slack.addChannel({ id: 'C0DEV', name: 'dev' });
  slack.addChannel({ id: 'C0OPS', name: 'ops' });
  slack.addChannel({ id: 'C0RANDOM', name: 'random' });
  slack.addChannel({ id: 'C0ALERTS', name: 'alerts' });
  slack.addChannel({ id: 'C0PAYMENTS', name: 'payments-alerts' });
  slack.addUsergroup({ id: 'S0PLATFORM', handle: 'platform', users: ['U0DEV'] });
}

function seedOtherSecrets(
  sm: SimulatedSecretsManager,
  issued: string[],
  datadog: SimulatedDatadog,
  jira: SimulatedJira,
): { webhookSecret: string } {
  const values = {
    jira: { email: 'opsbot@example.com', apiToken: `jira-test-canary-${hex(12)}` },
    datadog: {
      apiKey: `dd-test-canary-${hex(16)}`,
      appKey: `dd-test-canary-${hex(20)}`,
      webhookSecret: `test-canary-${hex(16)}`,
    },
  };
  datadog.addKeys(values.datadog.apiKey, values.datadog.appKey);
  jira.addToken(values.jira.email, values.jira.apiToken);
  for (const [name, value] of Object.entries(values)) {
    sm.create(`opsbot/${name}`, JSON.stringify(value));
    issued.push(...Object.values(value).filter((v) => v.includes('canary')));
  }
  // The audit trail's chain key (README.md, "Audit trail"): keyed, as in production.
  const chainKey = () => {
    const key = randomBytes(32).toString('base64');
    issued.push(key);
    return JSON.stringify({ chainKey: key });
  };
  sm.create('opsbot/audit', chainKey());
  // Each rotation makes what the vendor would issue, and the vendor accepts it from then on
  // (README, "Rotating each secret"); the old one is revoked by `retireRotated`, as the operator would.
  sm.setRotator('opsbot/audit', chainKey);
  sm.setRotator('opsbot/jira', () => {
    const next = { email: values.jira.email, apiToken: `jira-test-canary-${hex(12)}` };
    issued.push(next.apiToken);
    jira.addToken(next.email, next.apiToken);
    return JSON.stringify(next);
  });
  sm.setRotator('opsbot/datadog', () => {
    const next = {
      apiKey: `dd-test-canary-${hex(16)}`,
      appKey: `dd-test-canary-${hex(20)}`,
      webhookSecret: `test-canary-${hex(16)}`,
    };
    issued.push(...Object.values(next));
    datadog.addKeys(next.apiKey, next.appKey);
    return JSON.stringify(next);
  });
  return { webhookSecret: values.datadog.webhookSecret };
}
