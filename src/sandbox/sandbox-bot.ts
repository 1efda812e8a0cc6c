import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { COMMANDS } from '../../commands/index.js';
import type { DispatcherOptions } from '../alerts/dispatcher.js';
import { alertsFeature } from '../alerts/feature.js';
import { type RunningOpsbot, startOpsbot } from '../app.js';
import { type ApprovalsFeatureOptions, approvalsFeature } from '../approvals/feature.js';
import type { AuditRecord } from '../audit/records.js';
import type { CommandModule } from '../command-kit/command-spec.js';
import { configSections } from '../config/section.js';
import { loadConfig } from '../config.js';
import type { CredentialProvider } from '../credentials/provider.js';
import { devenvReaperFeature } from '../devenv/feature.js';
import { createIntakeHandler, type IntakeHandler } from '../intake/lambda.js';
import { intakeRuntimeOn } from '../intake/runtime.js';
import { INTEGRATIONS } from '../integrations/index.js';
import type { AnyIntegration } from '../integrations/integration.js';
import { type LeakWatchOptions, leakWatchFeature } from '../leak-watch/feature.js';
import { createLogger, type Logger, SecretRedactor } from '../log.js';
import type { Registry } from '../metrics.js';
import { DATADOG_ROTATION_SCOPES } from '../rotation/datadog-scopes.js';
import { createRotationHandler } from '../rotation/lambda.js';
import { secretsReminderFeature } from '../secret-rotation/feature.js';
import { accessReviewFeature } from '../security/access-review/feature.js';
import { type SecurityFeatureOptions, securityFeature } from '../security/feature.js';
import type { State } from '../store/state.js';
import { SimulatedDatadog } from './datadog.js';
import type { DatadogWebhookSender } from './datadog-webhook-sender.js';
import { SimulatedAws } from './ec2.js';
import { SimulatedGitHub } from './github.js';
import { SimulatedJira } from './jira.js';
import { logLinesDestination } from './log-lines.js';
import { OffsetClock } from './offset-clock.js';
import { type RotationFunction, SimulatedSecretsManager } from './secrets-manager.js';
import { SimulatedSlack } from './slack.js';
import { SimulatedSqs } from './sqs.js';
import { SimulatedVault } from './vault.js';
import { VaultMirror } from './vault-mirror.js';

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
security:
  channel: C0SECURITY
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
    large: { launchTemplate: ${SANDBOX_LAUNCH_TEMPLATE}, instanceType: m5.2xlarge, defaultTtl: 4h, maxTtl: 24h }
approvals:
  - actions: ["devenv:up"]
    args: { template: [large] }
    approvers: { usergroups: [S0LEADS] }
    expires: 15m
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
  /** The leak watch's options (tests wait for its follow-ups; by default it rotates through the app). */
  leakWatch?: LeakWatchOptions;
  /**
   * Run the security feature (detections, `POST /webhooks/aws-events`) and the scheduled access
   * review; the trail is read every second in the sandbox unless `everyMs` says otherwise.
   */
  security?: SecurityFeatureOptions;
  /**
   * The events queue as the CDK stack makes it, on a simulated SQS: `opsbot-events` with a
   * dead-letter queue after 5 receives, `OPSBOT_EVENTS_QUEUE_URL` pointing at it, and the security
   * feature (whose consumer long-polls it) on. What EventBridge would put there, the console's
   * `:event` sends with SendMessage.
   */
  eventsQueue?: boolean;
  /** The approvals' pacing (tests shorten the expiry sweep). */
  approvals?: ApprovalsFeatureOptions;
  /** The scheduled access review's pacing (with `security`). */
  accessReview?: { checkEveryMs?: number };
  /** Wraps the state store (tests inject faults: a write that fails as if the process died there). */
  wrapState?: (state: State) => State;
  /**
   * Slack token rotation on: the slack secret holds `refreshToken`, `clientId`, `clientSecret` and
   * `expiresAt`, its bot token expires, and its rotation runs every 4 hours.
   */
  slackTokenRotation?: boolean;
  /** How often the secrets reminder checks whether today's is due (hourly by default). */
  reminderCheckMs?: number;
  /** Leave rotation off in the simulated Secrets Manager (RotateSecret then uses the sandbox's rotators). */
  withoutRotation?: boolean;
  /**
   * Where the bot reads its secrets: the simulated Secrets Manager (`aws`, the default) or the
   * simulated Vault (`vault`: logged into with the task role through the simulated STS; each new
   * value the sandbox makes is written to Vault as a new KV version, see {@link VaultMirror}).
   */
  secretSource?: 'aws' | 'vault';
  /** With `secretSource: 'vault'`: checks every request the simulated Vault gets (tests pass Vault's API description). */
  vaultCheckRequest?: (method: string, path: string, body: unknown) => string | undefined;
}

/**
 * The rotation schedules the sandbox gives opsbot's secrets (as the CDK stack does): the audit key
 * 90 days, Datadog 30, Slack tokens 4 hours when token rotation is on, person-made values 90 days.
 */
export const SANDBOX_ROTATION_RULES = {
  audit: { AutomaticallyAfterDays: 90 },
  datadog: { AutomaticallyAfterDays: 30 },
  github: { AutomaticallyAfterDays: 90 },
  jira: { AutomaticallyAfterDays: 90 },
  /** With Slack token rotation on; without it, the signing secret is person-made: 90 days. */
  slack: { ScheduleExpression: 'rate(4 hours)' },
} as const;

/** Fields of opsbot's secrets that hold secret values (the canaries tests look for). */
const SECRET_FIELDS = [
  'botToken',
  'signingSecret',
  'appToken',
  'refreshToken',
  'clientSecret',
  'privateKey',
  'token',
  'apiToken',
  'apiKey',
  'appKey',
  'webhookSecret',
  'chainKey',
];

export interface SandboxBot {
  /** Real time until moved (the console's `:time +25m`). */
  clock: OffsetClock;
  /** Slack's events arrive over Socket Mode (`socketMode`), not on `POST /slack/events`. */
  socketMode: boolean;
  slack: SimulatedSlack;
  github: SimulatedGitHub;
  datadog: SimulatedDatadog;
  /**
   * Datadog's sender for its `opsbot` webhook: it sends the header the webhook holds in the
   * simulated Datadog at each send, so a rotation (setSecret) changes what it sends.
   */
  webhooks: DatadogWebhookSender;
  /** The rotation function's log lines (JSON), kept apart from the bot's. */
  rotationLogLines: string[];
  /** http://127.0.0.1:PORT of the simulated Secrets Manager. */
  secretsManagerUrl: string;
  /** Simulated STS and EC2 for dev environments (unless the options point elsewhere). */
  aws: SimulatedAws;
  /** With `secretSource: 'vault'`: the simulated Vault the bot reads, and the mirror that writes to it. */
  vault?: { server: SimulatedVault; mirror: VaultMirror };
  jira: SimulatedJira;
  secretsManager: SimulatedSecretsManager;
  /** With `eventsQueue`: the simulated SQS, the events queue the bot long-polls and its dead-letter queue. */
  sqs?: { server: SimulatedSqs; queueUrl: string; deadLetterUrl: string };
  /**
   * opsbot's intake function (`createIntakeHandler`), in-process on the bot's own State and
   * credential provider, as a function URL in front of the bot's table would run it: what it
   * stores, the bot's intake router routes. Its log lines go to `logLines` (component `intake`).
   */
  intake: IntakeHandler;
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
   * What a person makes for a person-made secret (README, "Rotating each secret"), accepted by the
   * simulated vendor from now on: a new Jira API token, a new GitHub App private key (added to the
   * App), a new Slack bot token and signing secret. `value` is the secret's JSON, to put as
   * AWSPENDING; `promoted` is the vendor's side once it is AWSCURRENT (Slack signs with the new
   * signing secret). Never printed.
   */
  issueSecret(integration: 'jira' | 'github' | 'slack'): { value: string; promoted: () => void };
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
  const tokenRotation = options.slackTokenRotation
    ? { clientId: `${hex(4)}.${hex(4)}`, clientSecret: `test-canary-${hex(16)}` }
    : undefined;
  const tokenExpiresAt = clock.now() + 12 * 3_600_000;
  const slackSecret = () => {
    const value: {
      botToken: string;
      signingSecret: string;
      appToken?: string;
      refreshToken?: string;
      clientId?: string;
      clientSecret?: string;
      expiresAt?: string;
    } = {
      botToken: `xoxb-test-canary-${hex(8)}`,
      signingSecret: `test-canary-${hex(16)}`,
      ...(options.socketMode && !options.withoutAppToken ? { appToken: `xapp-test-canary-${hex(8)}` } : {}),
      ...(tokenRotation
        ? {
            ...tokenRotation,
            refreshToken: slack.enableTokenRotation(tokenRotation).refreshToken,
            expiresAt: new Date(tokenExpiresAt).toISOString(),
          }
        : {}),
    };
    issued.push(...secretFields(value));
    if (value.appToken) slack.addAppToken(value.appToken);
    return value;
  };
  const first = slackSecret();
  slack.addBotToken(first.botToken, tokenRotation ? { expiresAt: tokenExpiresAt } : {});
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
  // The rotation function's own Datadog keys: may create and revoke keys, never loaded by the bot.
  const rotationKeys = { apiKey: `dd-test-canary-${hex(16)}`, appKey: `dd-test-canary-${hex(20)}` };
  datadog.addKeys(rotationKeys.apiKey, rotationKeys.appKey, { scopes: [...DATADOG_ROTATION_SCOPES] });
  secretsManager.create('opsbot/datadog-rotation', JSON.stringify(rotationKeys));
  issued.push(...Object.values(rotationKeys));
  // opsbot's rotation function, run in-process by the simulated Secrets Manager's RotateSecret.
  const rotationLogLines: string[] = [];
  const rotationClient = new SecretsManagerClient({
    endpoint: smUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'SANDBOX', secretAccessKey: 'sandbox' },
  });
  if (!options.withoutRotation) {
    secretsManager.setRotationFunction(
      rotationFunction(clock, rotationClient, rotationLogLines, {
        OPSBOT_SECRET_PREFIX: 'opsbot/',
        OPSBOT_SLACK_API_URL: slack.apiUrl,
        OPSBOT_GITHUB_API_URL: githubUrl,
        OPSBOT_DATADOG_API_URL: datadogUrl,
        OPSBOT_JIRA_URL: jiraUrl,
        LOG_LEVEL: options.logLevel ?? 'info',
      }),
    );
    for (const [name, rules] of Object.entries(SANDBOX_ROTATION_RULES)) {
      const personMadeSlack = name === 'slack' && !tokenRotation;
      secretsManager.configureRotation(
        `opsbot/${name}`,
        personMadeSlack ? { AutomaticallyAfterDays: 90 } : rules,
      );
    }
  }

  for (const [name, value] of Object.entries(options.extraSecrets ?? {})) {
    secretsManager.create(`opsbot/${name}`, JSON.stringify(value));
    issued.push(
      ...Object.values(value).filter((v): v is string => typeof v === 'string' && v.includes('canary')),
    );
  }

  const vault =
    options.secretSource === 'vault'
      ? await startSandboxVault(secretsManager, aws, awsUrl, options.vaultCheckRequest)
      : undefined;

  const events = options.eventsQueue ? await startEventsQueue(clock) : undefined;
  const security: SecurityFeatureOptions | undefined = events
    ? { ...options.security, eventsQueue: { ...options.security?.eventsQueue, client: events.client } }
    : options.security;

  // The production features; the alert dispatcher's pacing and leases as the test asks.
  const features = [
    alertsFeature(options.alerts ? { dispatcher: options.alerts } : {}),
    devenvReaperFeature(),
    secretsReminderFeature(options.reminderCheckMs ? { checkEveryMs: options.reminderCheckMs } : {}),
    leakWatchFeature(options.leakWatch ?? {}),
    approvalsFeature(options.approvals ?? {}),
    // Detections, the aws-events endpoint and the scheduled access review when asked for (the
    // console, the security tests): elsewhere their records would be noise in the trail tests read.
    ...(security
      ? [securityFeature({ everyMs: 1_000, ...security }), accessReviewFeature(options.accessReview ?? {})]
      : []),
  ];
  const integrations = [...INTEGRATIONS, ...(options.extraIntegrations ?? [])];
  const config = {
    ...loadConfig(
      {
        OPSBOT_SECRET_SOURCE: vault ? 'vault' : 'aws',
        ...(vault ? { OPSBOT_VAULT_ADDR: vault.server.url, OPSBOT_VAULT_ROLE: 'opsbot' } : {}),
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
        ...(events ? { OPSBOT_EVENTS_QUEUE_URL: events.queueUrl } : {}),
        ...options.extraEnv,
      },
      // The file's sections: the real ones and those of fixture integrations.
      { sections: configSections(integrations, features) },
    ),
    port: 0,
  };
  const logLines: string[] = [];
  const destination = logLinesDestination(logLines);
  const app = await startOpsbot({
    config,
    // The Vault login is signed for the simulated STS.
    env: vault ? { AWS_ENDPOINT_URL_STS: awsUrl } : {},
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
      ...(vault ? { vaultCredentials: vault.credentials } : {}),
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
  // Datadog's Webhooks integration holds the header; rotations change it through Datadog's API.
  datadog.addWebhook({
    name: 'opsbot',
    url: `${base}/webhooks/datadog`,
    customHeaders: { 'X-Opsbot-Webhook-Secret': webhookSecret },
  });
  const webhooks: DatadogWebhookSender = datadog.webhookSender('opsbot');
  slack.configureApp({ requestUrl: `${base}/slack/events`, signingSecret: first.signingSecret });
  if (options.socketMode) slack.useSocketMode();
  if (options.socketMode && !options.withoutAppToken) {
    await waitUntil(() => slack.socketConnections > 0, 'the bot to open its Socket Mode connection');
  }

  // The intake function as a function URL in front of this bot's State would run it (the console's
  // Socket Mode `:alert`). Nothing is opened until its first webhook.
  const intake = createIntakeHandler({
    env: { LOG_LEVEL: options.logLevel ?? 'info' },
    clock,
    logDestination: destination,
    open: intakeRuntimeOn({ state, provider, site: config.datadog.site }),
  });

  const sandbox: SandboxBot = {
    clock,
    socketMode: options.socketMode === true,
    slack,
    github,
    datadog,
    webhooks,
    rotationLogLines,
    secretsManagerUrl: smUrl,
    aws,
    ...(vault ? { vault: { server: vault.server, mirror: vault.mirror } } : {}),
    jira,
    secretsManager,
    ...(events
      ? { sqs: { server: events.server, queueUrl: events.queueUrl, deadLetterUrl: events.deadLetterUrl } }
      : {}),
    intake,
    app,
    provider,
    state,
    metrics,
    log,
    base,
    dir,
    logLines,
    // Every value issued, and every secret field of every version since (the rotation function's too).
    secrets: () => [...new Set([...issued, ...storedSecretValues(secretsManager)])],
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
    issueSecret(integration) {
      if (integration === 'github') return { value: githubSecret(), promoted: () => undefined };
      if (integration === 'jira') {
        const current = JSON.parse(secretsManager.valueOf('opsbot/jira') ?? '{}') as { email?: string };
        const email = current.email ?? 'opsbot@example.com';
        const apiToken = `jira-test-canary-${hex(12)}`;
        issued.push(apiToken);
        jira.addToken(email, apiToken);
        return { value: JSON.stringify({ email, apiToken }), promoted: () => undefined };
      }
      const value = slackSecret();
      slack.addBotToken(value.botToken);
      return {
        value: JSON.stringify(value),
        promoted: () => {
          slack.configureApp({ requestUrl: `${base}/slack/events`, signingSecret: value.signingSecret });
          if (options.socketMode) slack.useSocketMode();
        },
      };
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
      datadog.addWebhook({
        name: 'opsbot',
        url: webhooks.url,
        customHeaders: { 'X-Opsbot-Webhook-Secret': secret },
      });
    },
    async stop() {
      await intake.close();
      await app.stop(2_000);
      await events?.server.stop();
      await vault?.stop();
      secretsManager.setRotationFunction(undefined);
      rotationClient.destroy();
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

/**
 * The events queue as the CDK stack makes it (`infra/lib/secret-events.ts`): a dead-letter queue
 * keeping messages 14 days, and the queue (4 days, a 60 s visibility timeout) whose redrive policy
 * moves a message there after 5 receives. The bot's SQS client reaches it through `client` (the
 * simulated SQS takes any signature; these are not credentials).
 */
async function startEventsQueue(clock: OffsetClock) {
  const server = new SimulatedSqs({ now: () => clock.now() });
  const { url } = await server.start();
  const deadLetterUrl = server.createQueue('opsbot-events-dlq', { MessageRetentionPeriod: '1209600' });
  const queueUrl = server.createQueue('opsbot-events', {
    MessageRetentionPeriod: '345600',
    VisibilityTimeout: '60',
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: server.arnOf(deadLetterUrl), maxReceiveCount: 5 }),
  });
  return {
    server,
    queueUrl,
    deadLetterUrl,
    client: { endpoint: url, credentials: { accessKeyId: 'SANDBOX', secretAccessKey: 'sandbox' } },
  };
}

/** The task role's session, as STS names the caller of the Vault login. */
const SANDBOX_TASK_SESSION = 'arn:aws:sts::123456789012:assumed-role/opsbot-task/sandbox';

/**
 * The simulated Vault for `secretSource: 'vault'`, set up as README's "Secrets from Vault" says: KV
 * v2 at `secret`, the `opsbot` policy (read on its prefix's data and metadata), an AWS auth role
 * `opsbot` bound to the task role. Its login replays to the sandbox's STS, where the task role's
 * credentials (made here at random) are known. Every secret the sandbox holds is written to Vault
 * now, and each new value within 50 ms ({@link VaultMirror}).
 */
async function startSandboxVault(
  secretsManager: SimulatedSecretsManager,
  aws: SimulatedAws,
  stsUrl: string,
  checkRequest: SandboxBotOptions['vaultCheckRequest'],
) {
  const server = new SimulatedVault({ stsEndpoint: stsUrl, ...(checkRequest ? { checkRequest } : {}) });
  await server.start();
  server.enableKvV2('secret');
  server.putPolicy('opsbot', [
    { path: 'secret/data/opsbot/*', capabilities: ['read'] },
    { path: 'secret/metadata/opsbot/*', capabilities: ['read'] },
  ]);
  server.putAwsRole('opsbot', {
    boundIamPrincipalArns: ['arn:aws:iam::123456789012:role/opsbot-task'],
    policies: ['opsbot'],
    ttlSeconds: 3_600,
    maxTtlSeconds: 86_400,
  });
  const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(30).toString('base64');
  aws.sts.addCredentials(accessKeyId, secretAccessKey, { arn: SANDBOX_TASK_SESSION });
  const names = secretsManager.store
    .names()
    .filter((n) => n.startsWith('opsbot/') && n !== 'opsbot/datadog-rotation');
  const mirror = new VaultMirror(secretsManager, server, names);
  mirror.sync();
  const timer = setInterval(() => mirror.sync(), 50);
  timer.unref();
  return {
    server,
    mirror,
    credentials: async () => ({ accessKeyId, secretAccessKey }),
    async stop() {
      clearInterval(timer);
      await server.stop();
    },
  };
}

/**
 * opsbot's real rotation function (`createRotationHandler`) pointed at the simulated services, logging
 * to `lines`. A step that fails leaves its reason on the secret as tags (what `/opsbot rotate` reads).
 */
function rotationFunction(
  clock: OffsetClock,
  client: SecretsManagerClient,
  lines: string[],
  env: Record<string, string>,
): RotationFunction {
  const redactor = new SecretRedactor();
  const destination = logLinesDestination(lines);
  const log = createLogger({
    level: env.LOG_LEVEL ?? 'info',
    redactor,
    destination,
    base: { component: 'rotation' },
  });
  // The function leaves a failed step's reason on the secret as tags itself (TagResource).
  return createRotationHandler({ client, env, log, redactor, now: () => clock.now() });
}

/** The secret fields' values of every version in the simulated Secrets Manager. */
function storedSecretValues(sm: SimulatedSecretsManager): string[] {
  const out: string[] = [];
  for (const name of sm.store.names()) {
    for (const version of sm.store.find(name).versions.values()) {
      if (version.value === undefined) continue;
      try {
        out.push(...secretFields(JSON.parse(version.value) as Record<string, unknown>));
      } catch {
        // not JSON: not one of opsbot's secrets
      }
    }
  }
  return out;
}

function secretFields(value: Record<string, unknown>): string[] {
  return SECRET_FIELDS.map((f) => value[f]).filter(
    (v): v is string => typeof v === 'string' && v.length >= 8,
  );
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
  slack.addUser({ id: 'U0LEAD', name: 'lead', realName: 'Lee Lead' });
  slack.addChannel({ id: 'C0DEV', name: 'dev' });
  slack.addChannel({ id: 'C0OPS', name: 'ops' });
  slack.addChannel({ id: 'C0RANDOM', name: 'random' });
  slack.addChannel({ id: 'C0ALERTS', name: 'alerts' });
  slack.addChannel({ id: 'C0PAYMENTS', name: 'payments-alerts' });
  slack.addChannel({ id: 'C0SECURITY', name: 'security' });
  slack.addUsergroup({ id: 'S0PLATFORM', handle: 'platform', users: ['U0DEV'] });
  slack.addUsergroup({ id: 'S0LEADS', handle: 'leads', users: ['U0LEAD'] });
}

function seedOtherSecrets(
  sm: SimulatedSecretsManager,
  issued: string[],
  datadog: SimulatedDatadog,
  jira: SimulatedJira,
): { webhookSecret: string } {
  const values = {
    jira: { email: 'opsbot@example.com', apiToken: `jira-test-canary-${hex(12)}` },
    // What EventBridge's API destination sends to /webhooks/aws-events (the console's :event).
    events: { apiKey: `events-test-canary-${hex(20)}` },
    datadog: {
      apiKey: `dd-test-canary-${hex(16)}`,
      appKey: `dd-test-canary-${hex(20)}`,
      webhookSecret: `test-canary-${hex(16)}`,
    },
  };
  datadog.addKeys(values.datadog.apiKey, values.datadog.appKey);
  jira.addToken(values.jira.email, values.jira.apiToken);
  // The key ids, as a rotation records them: the next rotation can revoke both keys by id.
  const keyIds = {
    apiKeyId: datadog.keys.apiKey(values.datadog.apiKey)?.id,
    appKeyId: datadog.keys.appKey(values.datadog.appKey)?.id,
  };
  for (const [name, value] of Object.entries(values)) {
    sm.create(`opsbot/${name}`, JSON.stringify(name === 'datadog' ? { ...value, ...keyIds } : value));
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
