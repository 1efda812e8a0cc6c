import { INTAKE_TOPIC } from '../alerts/routes.js';
import { DatadogWebhookCore } from '../alerts/webhook-core.js';
import { auditSecret } from '../audit/audit-secret.js';
import { TrailAuditSink } from '../audit/sink.js';
import { wireAuditTrail } from '../audit/wiring.js';
import type { Clock } from '../clock.js';
import type { Env } from '../config.js';
import { createCredentials } from '../credentials/from-config.js';
import type { CredentialProvider } from '../credentials/provider.js';
import { catalogOf } from '../credentials/secret-spec.js';
import { datadog } from '../integrations/datadog.js';
import type { Logger, SecretRedactor } from '../log.js';
import { createMetrics, type Registry } from '../metrics.js';
import { openState } from '../store/open.js';
import type { State } from '../store/state.js';
import { within } from '../time/deadline.js';
import { type IntakeConfig, intakeConfig } from './settings.js';

/** How long opening waits for the table's first answer (the audit head) before answering 503. */
const STORE_READY_MS = 5_000;

/** The State could not be opened: nothing is kept, and the next request opens it again. */
export class IntakeStoreUnavailableError extends Error {
  override readonly name = 'IntakeStoreUnavailableError';
}

export interface IntakeRuntimeDeps {
  env: Env;
  clock: Clock;
  log: Logger;
  /** Every secret value loaded is registered with it: the log masks them. */
  redactor: SecretRedactor;
}

/** What one container keeps between invocations: the State, the secret, the webhook core. */
export interface IntakeRuntime {
  core: DatadogWebhookCore;
  provider: CredentialProvider;
  state: State;
  close(): Promise<void>;
}

/**
 * Opens what the intake keeps for the life of its container: the DynamoDB State `OPSBOT_STATE`
 * names (waited for, so the audit trail's start-up anchor names the real head), the credential
 * provider for the `datadog` secret and the audit chain key (first load waited for, then polled as
 * the bot polls them), and the webhook core that stores every alert under the intake topic and
 * bumps the intake's work signal, which the bot's dispatcher watches.
 *
 * The provider's events (a load, a new version) are logged, not audited: the bot audits them for
 * the same secrets, and each new container would add records that say nothing new.
 */
export async function openIntakeRuntime(deps: IntakeRuntimeDeps): Promise<IntakeRuntime> {
  const { env, clock, log } = deps;
  const config = intakeConfig(env);
  for (const warning of config.warnings) log.warn(warning);
  const state = (await openState(config.state, clock)) as State & { ready?: () => Promise<void> };
  try {
    await within(
      clock,
      state.ready?.() ?? Promise.resolve(),
      STORE_READY_MS,
      () => new Error(`no answer within ${STORE_READY_MS / 1_000} s`),
    );
  } catch (error) {
    state.close();
    throw new IntakeStoreUnavailableError(`the state table ${config.state.table} is not answering`, {
      cause: error,
    });
  }
  try {
    return await wire(config, state, deps);
  } catch (error) {
    state.close();
    throw error;
  }
}

/** The audit trail, the credential provider (its first load waited for) and the core, on an open State. */
async function wire(
  config: IntakeConfig,
  state: State,
  { env, clock, log, redactor }: IntakeRuntimeDeps,
): Promise<IntakeRuntime> {
  const metrics = createMetrics({ defaultMetrics: false });
  const { provider } = createCredentials({
    config,
    catalog: catalogOf([datadog.secret, auditSecret]),
    env,
    log,
    redactor,
    registry: metrics,
    events: {
      emit: (event) => log.info({ credentialEvent: event.action, ...event.details }, event.action),
    },
    clock,
  });
  const trail = wireAuditTrail(state.audit, provider, log, clock);
  await provider.start();
  trail.settle();
  return {
    core: intakeCore({ state, provider, site: config.datadog.site, clock, log, metrics }),
    provider,
    state,
    async close() {
      await provider.close();
      state.close();
    },
  };
}

/**
 * The intake on a State and a credential provider someone else opened and keeps (the console
 * passes the bot's own, as a function URL in front of the same SQLite file would): nothing is
 * opened, and `close` leaves both to their owner, whose audit trail already has its chain key.
 */
export function intakeRuntimeOn(opened: {
  state: State;
  provider: CredentialProvider;
  /** `OPSBOT_DATADOG_SITE` of the bot: an alert's links and graphs are kept only on its hosts. */
  site: string;
}): (deps: IntakeRuntimeDeps) => Promise<IntakeRuntime> {
  return async ({ clock, log }) => ({
    core: intakeCore({
      ...opened,
      clock,
      log,
      // Its own counters: the owner's registry already has the webhook's, under the same names.
      metrics: createMetrics({ defaultMetrics: false }),
    }),
    provider: opened.provider,
    state: opened.state,
    close: async () => undefined,
  });
}

/** The webhook core that stores every alert under the intake topic and bumps its signal. */
function intakeCore(deps: {
  state: State;
  provider: CredentialProvider;
  site: string;
  clock: Clock;
  log: Logger;
  metrics: Registry;
}): DatadogWebhookCore {
  const { state, clock, log } = deps;
  return new DatadogWebhookCore({
    credentials: deps.provider,
    outbox: state.outbox,
    audit: new TrailAuditSink(state.audit, log, clock),
    // No routes here: every alert waits under the intake topic for the bot to route it.
    destination: () => ({ kind: 'intake' }),
    site: deps.site,
    clock,
    log,
    component: 'datadog-intake',
    metrics: deps.metrics,
    // Every accepted alert, a duplicate too, bumps the signal: a retry of one whose signal was
    // lost signals it again, and a failed bump answers 503 so that Datadog retries.
    stored: () => state.signals.bump(INTAKE_TOPIC),
  });
}
