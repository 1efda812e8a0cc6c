import type { AddressInfo } from 'node:net';
import type { SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import type { STSClientConfig } from '@aws-sdk/client-sts';
import type { DestinationStream } from 'pino';
import { AccessPolicy } from './access/policy.js';
import { UsergroupMembership } from './access/usergroups.js';
import { auditSecret } from './audit/audit-secret.js';
import { credentialEventsTo } from './audit/credential-events.js';
import { TrailAuditSink } from './audit/sink.js';
import { wireAuditTrail } from './audit/wiring.js';
import type { Clock, Random } from './clock.js';
import { type CommandModule, offeredAlertActions } from './command-kit/command-spec.js';
import { type Component, Lifecycle } from './component.js';
import type { Config, Env } from './config.js';
import { createCredentials } from './credentials/from-config.js';
import type { CredentialProvider } from './credentials/provider.js';
import { createSecretAdmin } from './credentials/secret-admin.js';
import type { AwsCredentialsProvider } from './credentials/vault/login.js';
import type { Feature } from './feature.js';
import { Readiness } from './health.js';
import type { AnyIntegration, PlatformDeps } from './integrations/integration.js';
import { RateLimits } from './integrations/rate-limits.js';
import { buildIntegrations, IntegrationRegistry } from './integrations/registry.js';
import type { SlackApi } from './integrations/slack-api.js';
import { createLogger, type Logger, SecretRedactor } from './log.js';
import { Counter, createMetrics, type Registry } from './metrics.js';
import { replicaName } from './replica-name.js';
import { auditRotation } from './rotation/audit.js';
import { rotationKinds } from './rotation/registry.js';
import { SecretRotation } from './secret-rotation/service.js';
import { eventsSecret } from './security/aws-events/events-secret.js';
import { RequestRefusals } from './security/detections/refusals.js';
import { createSlackApp, type SlackAppDeps } from './slack/bolt-app.js';
import { heldRunner } from './slack/held-runner.js';
import { openState } from './store/open.js';
import type { State } from './store/state.js';
import { within } from './time/deadline.js';
import { coreComponents, featureParts } from './wiring/components.js';
import { OpsbotServers } from './wiring/http-servers.js';
import { afterFirstLoad, createSlackReceiver, slackComponent } from './wiring/slack-transport.js';

/**
 * Everything the bot is built from. `main.ts` passes the real things; the sandbox harness (console,
 * e2e tests, benchmarks) passes simulated endpoints and a captured log. Nothing else differs.
 */
export interface OpsbotDeps {
  config: Config;
  /** For the `env` secret source, and the file source's key (masked in logs). */
  env: Env;
  /** The integration registry (`src/integrations/index.ts`, plus test fixtures). */
  integrations: readonly AnyIntegration[];
  /** The slash commands (`commands/index.ts`, plus test probes). */
  commands: readonly CommandModule[];
  /** The features (`src/features.ts`): long-lived work built on integrations. */
  features: readonly Feature[];
  clock: Clock;
  random?: Random;
  /** Where JSON log lines go; stdout by default. */
  logDestination?: DestinationStream;
  /** AWS SDK client settings; the sandbox points Secrets Manager and STS at simulated services. */
  aws?: {
    secretsManager?: SecretsManagerClientConfig;
    sts?: STSClientConfig;
    ec2?: { endpoint?: string; requestTimeoutMs?: number };
    /** What the Vault AWS login is signed with (the SDK's default chain unless given). */
    vaultCredentials?: AwsCredentialsProvider;
  };
  /** Host to bind; 127.0.0.1 in tests and the console, all interfaces in production. */
  host?: string;
  /** Node's default process metrics (off in tests). */
  defaultMetrics?: boolean;
  /** Lets tests and benchmarks observe the state store (e.g. when audit records are stored). */
  wrapState?: (state: State) => State;
}

export interface RunningOpsbot {
  address: AddressInfo;
  /** Where `/metrics` is served when `OPSBOT_METRICS_PORT` is set (else it is on `address`). */
  metricsAddress?: AddressInfo;
  readiness: Readiness;
  log: Logger;
  redactor: SecretRedactor;
  metrics: Registry;
  provider: CredentialProvider;
  state: State;
  /** opsbot's own Slack Web API calls (current token, Retry-After per channel). */
  slack: SlackApi;
  /** opsbot's secrets: their inventory and rotations (what `/opsbot rotate` uses). */
  secretRotation: SecretRotation;
  /** Settles once every secret's first load has finished or failed. */
  loading: Promise<void>;
  /** Graceful stop: not ready, stop accepting, finish in-flight work, stop components in reverse. */
  stop(deadlineMs?: number): Promise<{ drained: boolean }>;
}

/**
 * The one wiring function: builds the bot from its dependencies and starts its components.
 * Nothing here reads `process.env` or names an integration or a feature (Slack aside: it is the
 * transport every part answers through): they come from the registries it is given.
 *
 * Where things go (src/ARCHITECTURE.md): a new integration is a module in `src/integrations/`
 * registered in its `index.ts`; long-lived work built on integrations (a webhook receiver, a
 * dispatcher, a reaper) is a feature in `src/features.ts` contributing {@link Component}s; a new
 * store is declared in `src/store/state.ts`.
 */
export async function startOpsbot(deps: OpsbotDeps): Promise<RunningOpsbot> {
  const { config, clock } = deps;
  const { log, redactor, metrics } = observability(deps);
  // This process's name in leases and claims shared with other replicas.
  const owner = replicaName();
  const { state, audit, auditTrail, registry, catalog, provider, integrations } = await openCore(deps, {
    log,
    redactor,
    metrics,
  });
  checkCommandNeeds(deps.commands, registry);
  // `/opsbot secrets`, `/opsbot rotate`, the reminder and the leak watch start rotations here.
  const secretRotation = new SecretRotation({
    admin: createSecretAdmin({
      source: config.secrets.source,
      ...(config.aws.region ? { region: config.aws.region } : {}),
      ...(deps.aws?.secretsManager ? { clientConfig: deps.aws.secretsManager } : {}),
    }),
    provider,
    kinds: rotationKinds(deps.integrations, [auditRotation]),
    clock,
    log: log.child({ component: 'secret-rotation' }),
    audit,
  });
  const slack = integrations.apis.slack as SlackApi;
  // Requests refused for a bad signature or secret: the receivers tell, the security detections count.
  const refusals = new RequestRefusals();
  const receiver = createSlackReceiver({
    onRefused: () => refusals.refused('slack'),
    config,
    provider,
    state,
    clock,
    log,
    metrics,
    ...(deps.random ? { random: deps.random } : {}),
  });
  // Built before the Slack app: a feature's message watchers go to its one `message` listener.
  const features = featureParts(deps.features, registry, integrations, {
    config,
    credentials: provider,
    secrets: catalog,
    state,
    audit,
    clock,
    log,
    metrics,
    owner,
    alertActions: () => offeredAlertActions(deps.commands, (name) => integrations.isConfigured(name)),
    secretRotation,
    refusals,
    grants: (name) => integrations.grants(name),
  });
  const pipeline = {
    commands: deps.commands,
    services: {
      state,
      policy: new AccessPolicy(config.file.access),
      membership: new UsergroupMembership({ fetchMembers: (id) => slack.usergroupMembers(id), clock })
        .isMember,
      slack,
      clock,
      file: config.file,
      configured: (name) => integrations.isConfigured(name),
      commands: deps.commands,
      secretRotation,
      configPath: config.configPath,
      grants: (name) => integrations.grants(name),
      ...(features.approvals ? { approvals: features.approvals } : {}),
    },
    ...(features.approvals ? { gate: features.approvals } : {}),
    integrations,
    countError: errorCounter(metrics),
    credentials: provider,
    slack,
    receiver,
    audit,
    clock,
    log,
    ...(config.slack.apiUrl ? { apiUrl: config.slack.apiUrl } : {}),
    messageWatchers: features.messageWatchers,
  } satisfies SlackAppDeps;
  createSlackApp(pipeline);
  // An approved request runs through the same pipeline, as its requester.
  features.approvals?.runWith(heldRunner(pipeline));

  const readiness = new Readiness(clock);
  const required = [...registry.catalog().values()].filter((s) => s.required).map((s) => s.name);
  const core = coreComponents({
    state,
    integrations,
    provider,
    required,
    now: () => clock.now(),
    afterFirstLoad: () => {
      auditTrail.settle();
      afterFirstLoad(required, provider, slack, receiver, log, config.secrets.source !== 'env');
    },
  });
  const components: Component[] = [
    ...core.components,
    ...features.components,
    slackComponent(receiver, clock),
  ];
  const lifecycle = new Lifecycle(components, { log, readiness, now: () => clock.now() });
  const servers = new OpsbotServers({
    log,
    clock,
    metrics,
    readiness,
    lifecycle,
    separateMetrics: config.metricsPort !== undefined,
  });

  for (const warning of config.warnings) log.warn(warning);
  await lifecycle.start();
  const { address, metricsAddress } = await servers.listen(config.port, config.metricsPort, deps.host);
  log.info(
    {
      port: address.port,
      ...(metricsAddress ? { metricsPort: metricsAddress.port } : {}),
      secretSource: config.secrets.source,
      slackMode: config.slack.mode,
    },
    'opsbot listening',
  );

  let stopping: Promise<{ drained: boolean }> | undefined;
  return {
    address,
    ...(metricsAddress ? { metricsAddress } : {}),
    readiness,
    log,
    redactor,
    metrics,
    provider,
    state,
    slack,
    secretRotation,
    get loading() {
      return core.loading();
    },
    stop(deadlineMs = 8_000) {
      stopping ??= (async () => {
        readiness.markShuttingDown();
        const deadline = clock.now() + deadlineMs;
        // Stop accepting first, then let the components finish in reverse order of starting.
        const closed = await servers.close(deadlineMs);
        const { drained } = await lifecycle.stop(deadline);
        log.info({ drained: closed.drained && drained }, 'opsbot stopped');
        return { drained: closed.drained && drained };
      })();
      return stopping;
    },
  };
}

/**
 * State (on the app's clock, waited for when shared), the audit trail, the credential provider and
 * the integrations built on it: what every other part is wired to.
 */
async function openCore(
  deps: OpsbotDeps,
  { log, redactor, metrics }: { log: Logger; redactor: SecretRedactor; metrics: Registry },
) {
  const { config, clock } = deps;
  const opened = await openState(config.state, clock);
  // A shared store (DynamoDB) reads the audit head in the background: wait for it (bounded), so the
  // start-up anchor names the real head. A table that is missing or unreachable is logged here and
  // keeps /readyz at 503; it does not stop the process.
  await waitForStore(opened, clock, log);
  const state = deps.wrapState ? deps.wrapState(opened) : opened;
  const audit = new TrailAuditSink(state.audit, log, clock);
  const registry = new IntegrationRegistry(deps.integrations);
  const catalog = registry.catalog([auditSecret, eventsSecret]);
  const { provider, metrics: credentialMetrics } = createCredentials({
    config,
    catalog,
    env: deps.env,
    log,
    redactor,
    registry: metrics,
    events: credentialEventsTo(audit),
    clock,
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.aws?.secretsManager ? { aws: deps.aws.secretsManager } : {}),
    ...(deps.aws?.vaultCredentials ? { vaultAwsCredentials: deps.aws.vaultCredentials } : {}),
  });
  // The audit chain's key comes through the provider; the head is logged as an anchor from now on.
  const auditTrail = wireAuditTrail(state.audit, provider, log, clock);
  const platform: PlatformDeps = {
    config,
    log,
    clock,
    metrics,
    rateLimits: new RateLimits({ clock }),
    ...(deps.aws?.ec2 ? { awsClients: { ec2: deps.aws.ec2 } } : {}),
  };
  const integrations = buildIntegrations(registry, {
    ...platform,
    provider,
    credentialMetrics,
    redactor,
    ...(deps.aws?.sts ? { sts: deps.aws.sts } : {}),
  });
  return { state, audit, auditTrail, registry, catalog, provider, integrations };
}

/** The logger (every line through the redactor, on the app's clock) and the metrics registry. */
function observability(deps: OpsbotDeps): { log: Logger; redactor: SecretRedactor; metrics: Registry } {
  // On the app's clock: minted tokens are masked until their expiry, read on the same clock.
  const redactor = new SecretRedactor({ now: () => deps.clock.now() });
  const log = createLogger({
    level: deps.config.logLevel,
    redactor,
    ...(deps.logDestination ? { destination: deps.logDestination } : {}),
  });
  const fileKey = deps.env.OPSBOT_SECRET_FILE_KEY;
  if (fileKey) redactor.register(fileKey.trim());
  // A development Vault token is a static credential: masked from the start like the file key.
  const vaultToken = deps.config.secrets.vault?.token;
  if (vaultToken) redactor.register(vaultToken.reveal());
  return { log, redactor, metrics: createMetrics({ defaultMetrics: deps.defaultMetrics ?? true }) };
}

/** `opsbot_interaction_errors_total{command,code}`: commands, buttons and forms that ended in an error or a denial. */
function errorCounter(metrics: Registry): (command: string, code: string) => void {
  const errors = new Counter({
    name: 'opsbot_interaction_errors_total',
    help: 'Commands, buttons and forms that ended in an error or a denial, by command and error code',
    labelNames: ['command', 'code'],
    registers: [metrics],
  });
  return (command, code) => errors.inc({ command, code });
}

/** A command that needs an integration nobody registered is a wiring mistake: refuse to start. */
function checkCommandNeeds(commands: readonly CommandModule[], registry: IntegrationRegistry): void {
  for (const command of commands) {
    for (const need of command.needs) {
      if (!registry.has(need))
        throw new Error(`/${command.name} needs the integration "${need}", which is not registered`);
    }
  }
}

/** How long start-up waits for a shared store's first read. */
const STORE_READY_MS = 10_000;

async function waitForStore(
  state: State & { ready?: () => Promise<void> },
  clock: Clock,
  log: Logger,
): Promise<void> {
  if (!state.ready) return;
  try {
    await within(
      clock,
      state.ready(),
      STORE_READY_MS,
      () => new Error(`no answer within ${STORE_READY_MS / 1_000} s`),
    );
  } catch (error) {
    log.error({ err: error }, 'the state store is not answering: opsbot stays unready until it does');
  }
}
