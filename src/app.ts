import type { AddressInfo } from 'node:net';
import type { WebClient } from '@slack/web-api';
import { AccessPolicy } from './access/policy.js';
import { UsergroupMembership } from './access/usergroups.js';
import type { AuditSink } from './audit/sink.js';
import type { Clock } from './clock.js';
import { type Config, INTEGRATIONS, type IntegrationName } from './config.js';
import { FreshCredentials } from './credentials/fresh-credentials.js';
import type { CredentialMetrics } from './credentials/metrics.js';
import type { CredentialProvider } from './credentials/provider.js';
import { Readiness } from './health.js';
import { HttpServer, sendJson, sendText } from './http/server.js';
import { createGitHubApi, githubIntegration } from './integrations/github.js';
import type { GitHubClient } from './integrations/github-client.js';
import { slackIntegration } from './integrations/slack.js';
import type { Logger } from './log.js';
import type { Registry } from './metrics.js';
import { createSlackApp } from './slack/bolt-app.js';
import type { CommandModule } from './slack/command-spec.js';
import { SlackHttpReceiver } from './slack/receiver.js';
import { RetryAfter } from './slack/retry-after.js';
import { createSlackApi, type SlackApi } from './slack/slack-api.js';
import { SlackSocketReceiver } from './slack/socket-receiver.js';
import type { State } from './store/state.js';

export interface OpsbotDeps {
  config: Config;
  log: Logger;
  metrics: Registry;
  /** Secrets, cached and kept fresh; started here, stopped on `stop()`. */
  credentials: CredentialProvider;
  /** The provider's metrics (auth-failure retries are counted there). */
  credentialMetrics: CredentialMetrics;
  /** The state store (audit trail); closed on `stop()`. */
  state: State;
  /** Where audit events go (the hash-chained trail in `state`, and the log). */
  audit: AuditSink;
  clock: Clock;
  /** The slash commands (`commands/index.ts`). */
  commands: readonly CommandModule[];
  /** Host to bind; 127.0.0.1 in tests and the console, all interfaces in production. */
  host?: string;
}

/** Integrations opsbot cannot run without; the others are disabled when their secret does not exist. */
export const REQUIRED_SECRETS: readonly IntegrationName[] = ['slack'];

export interface RunningOpsbot {
  address: AddressInfo;
  readiness: Readiness;
  /** opsbot's own Slack Web API calls (current token, Retry-After per channel). */
  slack: SlackApi;
  /** Settles once every secret's first load has finished or failed. */
  loading: Promise<void>;
  /** Graceful stop: not ready, stop accepting, finish in-flight work, close components. */
  stop(deadlineMs?: number): Promise<{ drained: boolean }>;
}

type Closer = () => Promise<void> | void;

/**
 * Builds and starts the bot from its dependencies. `main.ts` passes real ones; tests and the
 * console pass simulated ones. Nothing here reads `process.env`.
 */
export async function startOpsbot(deps: OpsbotDeps): Promise<RunningOpsbot> {
  const { config, log, metrics, credentials, state, clock } = deps;
  const readiness = new Readiness();
  const closers: Closer[] = [];

  const clients = new FreshCredentials<{ slack: WebClient; github: GitHubClient }>({
    provider: credentials,
    integrations: {
      slack: slackIntegration({ log, ...(config.slack.apiUrl ? { apiUrl: config.slack.apiUrl } : {}) }),
      github: githubIntegration({
        clock,
        log,
        ...(config.github.apiUrl ? { apiUrl: config.github.apiUrl } : {}),
      }),
    },
    metrics: deps.credentialMetrics,
    log,
  });
  closers.push(() => clients.close());
  const slack = createSlackApi({ clients, retryAfter: new RetryAfter({ clock }) });
  const membership = new UsergroupMembership({ fetchMembers: (id) => slack.usergroupMembers(id), clock });
  const http =
    config.slack.mode === 'http'
      ? new SlackHttpReceiver({ credentials, clock, log, registry: metrics })
      : undefined;
  const socket =
    config.slack.mode === 'socket'
      ? new SlackSocketReceiver({
          credentials,
          log,
          ...(config.slack.apiUrl ? { apiUrl: config.slack.apiUrl } : {}),
        })
      : undefined;
  if (socket) {
    readiness.register('slack', () => socket.connected);
    closers.push(() => socket.stop());
  }
  createSlackApp({
    commands: deps.commands,
    services: {
      state,
      policy: new AccessPolicy(config.file.access),
      membership: membership.isMember,
      slack,
      github: createGitHubApi(clients),
      clock,
      file: config.file,
      commands: deps.commands,
    },
    credentials,
    slack,
    receiver: (http ?? socket) as SlackHttpReceiver | SlackSocketReceiver,
    audit: deps.audit,
    clock,
    log,
    ...(config.slack.apiUrl ? { apiUrl: config.slack.apiUrl } : {}),
  });

  readiness.register('secrets', () => REQUIRED_SECRETS.every((name) => credentials.isLoaded(name)));
  readiness.register('state', () => state.ping());
  closers.push(() => state.close());
  closers.push(() => credentials.stop());

  const server = new HttpServer({
    log,
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
      {
        method: 'GET',
        path: '/metrics',
        handler: async (_req, res) => sendText(res, 200, await metrics.metrics(), metrics.contentType),
      },
      ...(http ? [http.route()] : []),
    ],
  });

  for (const warning of config.warnings) log.warn(warning);

  const address = await server.listen(config.port, deps.host);
  log.info(
    { port: address.port, secretSource: config.secrets.source, slackMode: config.slack.mode },
    'opsbot listening',
  );
  // Load secrets after listening, so /healthz answers and /readyz says 503 until they are in.
  const loading = credentials.start(INTEGRATIONS).then(() => {
    const missing = REQUIRED_SECRETS.filter((name) => !credentials.isLoaded(name));
    // Learn the bot's ids now, so the first command does not wait for auth.test.
    if (missing.length === 0) {
      slack
        .identity()
        .catch((error: unknown) =>
          log.warn({ err: error }, 'auth.test failed; will retry on the first event'),
        );
      socket
        ?.start()
        .catch((error: unknown) =>
          log.error({ err: error }, 'Socket Mode could not connect; /readyz answers 503'),
        );
    }
    if (missing.length > 0) {
      log.error(
        { secrets: missing.map((name) => credentials.secretName(name)) },
        'required secrets are not loaded yet; /readyz answers 503 and loading keeps retrying',
      );
    }
  });

  let stopping: Promise<{ drained: boolean }> | undefined;
  return {
    address,
    readiness,
    slack,
    loading,
    stop(deadlineMs = 8_000) {
      stopping ??= (async () => {
        readiness.markShuttingDown();
        const startedAt = clock.now();
        const result = await server.close(deadlineMs);
        const left = Math.max(0, deadlineMs - (clock.now() - startedAt));
        if (http && !(await http.drain(left))) result.drained = false;
        if (socket) await socket.drain();
        for (const close of closers.reverse()) {
          try {
            await close();
          } catch (error) {
            log.warn({ err: error }, 'a component failed to close cleanly');
          }
        }
        log.info({ drained: result.drained }, 'opsbot stopped');
        return result;
      })();
      return stopping;
    },
  };
}
