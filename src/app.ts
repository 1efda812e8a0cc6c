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
import type { Feature, FeatureContext } from './feature.js';
import { Readiness } from './health.js';
import { HttpServer, type Route, sendJson, sendText } from './http/server.js';
import type { AnyIntegration, IntegrationKey, PlatformDeps } from './integrations/integration.js';
import { RateLimits } from './integrations/rate-limits.js';
import { buildIntegrations, IntegrationRegistry } from './integrations/registry.js';
import type { SlackApi } from './integrations/slack-api.js';
import { createLogger, type Logger, SecretRedactor } from './log.js';
import { Counter, createMetrics, type Registry } from './metrics.js';
import { replicaName } from './replica-name.js';
import { createSlackApp } from './slack/bolt-app.js';
import { SlackHttpReceiver } from './slack/receiver.js';
import { RecentSignatures } from './slack/recent-signatures.js';
import { replayCheck } from './slack/replay-check.js';
import { SlackSocketReceiver } from './slack/socket-receiver.js';
import { openState } from './store/open.js';
import type { State } from './store/state.js';
import { within } from './time/deadline.js';

/** How long a verified Slack signature is remembered: Slack's 5-minute window, and a little more. */
const REPLAY_WINDOW_MS = 6 * 60_000;

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
  // On the app's clock: minted tokens are masked until their expiry, read on the same clock.
  const redactor = new SecretRedactor({ now: () => clock.now() });
  const log = createLogger({
    level: config.logLevel,
    redactor,
    ...(deps.logDestination ? { destination: deps.logDestination } : {}),
  });
  const fileKey = deps.env.OPSBOT_SECRET_FILE_KEY;
  if (fileKey) redactor.register(fileKey.trim());
  const metrics = createMetrics({ defaultMetrics: deps.defaultMetrics ?? true });
  // This process's name in leases and claims shared with other replicas.
  const owner = replicaName();
  const opened = await openState(config.state, clock);
  // A shared store (DynamoDB) reads the audit head in the background: wait for it (bounded), so the
  // start-up anchor names the real head. A table that is missing or unreachable is logged here and
  // keeps /readyz at 503; it does not stop the process.
  await waitForStore(opened, clock, log);
  const state = deps.wrapState ? deps.wrapState(opened) : opened;
  const audit = new TrailAuditSink(state.audit, log, clock);
  const registry = new IntegrationRegistry(deps.integrations);
  const { provider, metrics: credentialMetrics } = createCredentials({
    config,
    catalog: registry.catalog([auditSecret]),
    env: deps.env,
    log,
    redactor,
    registry: metrics,
    events: credentialEventsTo(audit),
    clock,
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.aws?.secretsManager ? { aws: deps.aws.secretsManager } : {}),
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
  checkCommandNeeds(deps.commands, registry);
  const slack = integrations.apis.slack as SlackApi;
  const membership = new UsergroupMembership({ fetchMembers: (id) => slack.usergroupMembers(id), clock });
  const apiUrl = config.slack.apiUrl ? { apiUrl: config.slack.apiUrl } : {};
  const receiver =
    config.slack.mode === 'http'
      ? new SlackHttpReceiver({
          credentials: provider,
          clock,
          log,
          registry: metrics,
          // A signature is good for Slack's 5-minute window (either way): remember it a little longer,
          // in memory (answers at once), and in the shared State only when replicas share it.
          seen: replayCheck({
            recent: new RecentSignatures(() => clock.now(), REPLAY_WINDOW_MS),
            dedupe: state.dedupe,
            shared: state.shared,
            ttlMs: REPLAY_WINDOW_MS,
          }),
        })
      : new SlackSocketReceiver({
          credentials: provider,
          log,
          clock,
          ...(deps.random ? { random: deps.random } : {}),
          // An environment variable cannot change: main.ts exits 2 instead of waiting.
          secretChangesLive: config.secrets.source !== 'env',
          ...apiUrl,
        });
  const errors = new Counter({
    name: 'opsbot_interaction_errors_total',
    help: 'Commands, buttons and forms that ended in an error or a denial, by command and error code',
    labelNames: ['command', 'code'],
    registers: [metrics],
  });
  createSlackApp({
    commands: deps.commands,
    services: {
      state,
      policy: new AccessPolicy(config.file.access),
      membership: membership.isMember,
      slack,
      clock,
      file: config.file,
      configured: (name) => integrations.isConfigured(name),
      commands: deps.commands,
    },
    integrations,
    countError: (command, code) => errors.inc({ command, code }),
    credentials: provider,
    slack,
    receiver,
    audit,
    clock,
    log,
    ...apiUrl,
  });

  const readiness = new Readiness(clock);
  let loading: Promise<void> = Promise.resolve();
  const required = [...registry.catalog().values()].filter((s) => s.required).map((s) => s.name);
  const components: Component[] = [
    // Ready only while an audit record could be written: a bounded write probe, never a long wait.
    // Ready when the store answers a read and takes a (conditional) write.
    {
      name: 'state',
      ready: async () => (await state.ping()) && (await state.audit.writable()),
      stop: async () => state.close(),
    },
    { name: 'integrations', stop: async () => integrations.close() },
    {
      name: 'secrets',
      ready: () => required.every((name) => provider.isLoaded(name)),
      // Secrets load in the background: /healthz answers at once, /readyz says 503 until they are in.
      start: async () => {
        loading = provider.start().then(() => {
          auditTrail.settle();
          afterFirstLoad(required, provider, slack, receiver, log, config.secrets.source !== 'env');
        });
      },
      stop: async () => provider.stop(),
    },
    // Each feature's components (alerts, the dev-environment reaper), when its integrations are in.
    ...deps.features.flatMap((feature) =>
      feature.needs.every((need) => registry.has(need)) &&
      (feature.whenConfigured ?? []).every((need) => integrations.isConfigured(need))
        ? feature.components({
            config,
            credentials: provider,
            state,
            apis: integrations.apis as FeatureContext<IntegrationKey>['apis'],
            isConfigured: (name) => integrations.isConfigured(name),
            audit,
            clock,
            log,
            metrics,
            owner,
            alertActions: () => offeredAlertActions(deps.commands, (name) => integrations.isConfigured(name)),
          })
        : [],
    ),
    receiver instanceof SlackHttpReceiver
      ? {
          name: 'slack-events',
          routes: [receiver.route()],
          stop: (deadline) => receiver.drain(Math.max(0, deadline - clock.now())),
        }
      : {
          name: 'slack',
          ready: () => receiver.connected,
          stop: async () => {
            await receiver.stop();
            await receiver.drain();
          },
        },
  ];
  const lifecycle = new Lifecycle(components, { log, readiness, now: () => clock.now() });
  const metricsRoute = {
    method: 'GET',
    path: '/metrics',
    handler: async (_req, res) => sendText(res, 200, await metrics.metrics(), metrics.contentType),
  } satisfies Route;
  // With OPSBOT_METRICS_PORT, /metrics is on a listener of its own (not exposed beyond the task).
  const metricsServer =
    config.metricsPort === undefined ? undefined : new HttpServer({ log, clock, routes: [metricsRoute] });
  const server = new HttpServer({
    log,
    clock,
    registry: metrics,
    routes: [
      { method: 'GET', path: '/healthz', handler: (_req, res) => sendText(res, 200, 'ok\n') },
      {
        method: 'GET',
        path: '/readyz',
        handler: async (_req, res) => {
          const report = await readiness.report();
          sendJson(res, report.ready ? 200 : 503, report);
        },
      },
      ...(metricsServer ? [] : [metricsRoute]),
      ...lifecycle.routes(),
    ],
  });

  for (const warning of config.warnings) log.warn(warning);
  await lifecycle.start();
  const metricsAddress =
    metricsServer && config.metricsPort !== undefined
      ? await metricsServer.listen(config.metricsPort, deps.host)
      : undefined;
  const address = await server.listen(config.port, deps.host);
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
    get loading() {
      return loading;
    },
    stop(deadlineMs = 8_000) {
      stopping ??= (async () => {
        readiness.markShuttingDown();
        const deadline = clock.now() + deadlineMs;
        // Stop accepting first, then let the components finish in reverse order of starting.
        const [result] = await Promise.all([server.close(deadlineMs), metricsServer?.close(deadlineMs)]);
        const { drained } = await lifecycle.stop(deadline);
        log.info({ drained: result.drained && drained }, 'opsbot stopped');
        return { drained: result.drained && drained };
      })();
      return stopping;
    },
  };
}

/** Starts Socket Mode (it waits for its secret itself); learns the bot's ids once the required secrets are in, or says what is missing. */
function afterFirstLoad(
  required: readonly string[],
  provider: CredentialProvider,
  slack: SlackApi,
  receiver: SlackHttpReceiver | SlackSocketReceiver,
  log: Logger,
  /** False for the env source: its values cannot change, so main.ts stops instead of waiting. */
  secretsCanChange: boolean,
): void {
  // Socket Mode starts either way: it waits for the slack secret (and its appToken) by itself.
  if (receiver instanceof SlackSocketReceiver) {
    receiver
      .start()
      .catch((error: unknown) =>
        log.error({ err: error }, 'Socket Mode could not start; /readyz answers 503'),
      );
  }
  const missing = required.filter((name) => !provider.isLoaded(name));
  if (missing.length > 0) {
    log.error(
      { secrets: missing.map((name) => provider.secretName(name)) },
      secretsCanChange
        ? 'required secrets are not loaded yet; /readyz answers 503 and loading keeps retrying'
        : 'required secrets are missing or malformed in the environment; opsbot stops (exit 2)',
    );
    return;
  }
  // Learn the bot's ids now, so the first command does not wait for auth.test.
  slack
    .identity()
    .catch((error: unknown) => log.warn({ err: error }, 'auth.test failed; will retry on the first event'));
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
