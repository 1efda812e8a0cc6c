import { Counter, Gauge, type Registry } from 'prom-client';
import { labelledChildren } from '../metrics.js';

export type RefreshOutcome =
  | 'unchanged'
  | 'changed'
  | 'transient_error'
  | 'access_denied'
  | 'not_found'
  | 'invalid';

/** The credential provider's metrics; no label ever holds a secret value. */
export interface CredentialMetrics {
  read(integration: string, result: 'hit' | 'miss' | 'unavailable'): void;
  sourceCall(api: string): void;
  refresh(integration: string, outcome: RefreshOutcome): void;
  versionChange(integration: string): void;
  authFailureRetry(integration: string, outcome: 'recovered' | 'rejected'): void;
}

/**
 * Registers the provider's metrics on `registry`. `staleness(integration)` is read at scrape time:
 * seconds the cached value has gone unconfirmed while the source fails (0 when healthy).
 */
export function createCredentialMetrics(
  registry: Registry,
  options: { source: string; staleness: () => Iterable<[string, number]> },
): CredentialMetrics {
  const reads = new Counter({
    name: 'opsbot_secret_reads_total',
    help: 'Secret reads by integration; result: hit (cached), miss (cold load), unavailable (failed closed)',
    labelNames: ['integration', 'result'],
    registers: [registry],
  });
  const calls = new Counter({
    name: 'opsbot_secret_source_calls_total',
    help: 'Calls to the secret source by API (DescribeSecret, GetSecretValue)',
    labelNames: ['source', 'api'],
    registers: [registry],
  });
  const refreshes = new Counter({
    name: 'opsbot_secret_refresh_total',
    help: 'Secret refreshes by integration and outcome',
    labelNames: ['integration', 'outcome'],
    registers: [registry],
  });
  const changes = new Counter({
    name: 'opsbot_secret_version_changes_total',
    help: 'AWSCURRENT version changes seen, by integration',
    labelNames: ['integration'],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'opsbot_secret_auth_failure_retries_total',
    help: 'Integration calls retried after an auth failure; outcome: recovered or rejected',
    labelNames: ['integration', 'outcome'],
    registers: [registry],
  });
  new Gauge({
    name: 'opsbot_secret_staleness_seconds',
    help: 'Seconds the cached secret has gone unconfirmed while its source fails (0 when healthy)',
    labelNames: ['integration'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [integration, seconds] of options.staleness()) this.set({ integration }, seconds);
    },
  });

  // Every warm read counts: each labelled child is looked up once, not hashed on each read.
  const readsOf = labelledChildren(reads);
  return {
    read: (integration, result) => readsOf({ integration, result }).inc(),
    sourceCall: (api) => calls.inc({ source: options.source, api }),
    refresh: (integration, outcome) => refreshes.inc({ integration, outcome }),
    versionChange: (integration) => changes.inc({ integration }),
    authFailureRetry: (integration, outcome) => retries.inc({ integration, outcome }),
  };
}
