import { credentialEventsTo } from '../../src/audit/credential-events.js';
import type { Clock, Random } from '../../src/clock.js';
import { createCredentials } from '../../src/credentials/from-config.js';
import type { CredentialMetrics } from '../../src/credentials/metrics.js';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import type { SecretSource } from '../../src/credentials/source.js';
import { createMetrics, type Registry } from '../../src/metrics.js';
import { CATALOG } from './catalog.js';
import { captureLogs, type LogCapture } from './log-capture.js';
import { MemoryAuditSink } from './memory-audit-sink.js';

export interface ProviderRig {
  provider: CredentialProvider;
  metrics: CredentialMetrics;
  source: SecretSource;
  logs: LogCapture;
  audit: MemoryAuditSink;
  registry: Registry;
  /** The value of one sample of a metric, or 0. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/**
 * A credential provider wired the way main.ts wires it, with the `aws` source pointed at a simulated
 * Secrets Manager (the sandbox or moto) over HTTP with fake credentials.
 */
export function awsProviderRig(options: {
  endpoint: string;
  clock: Clock;
  prefix?: string;
  pollSeconds?: number;
  maxStaleSeconds?: number;
  random?: Random;
}): ProviderRig {
  const logs = captureLogs();
  const registry = createMetrics({ defaultMetrics: false });
  const audit = new MemoryAuditSink();
  const { provider, source, metrics } = createCredentials({
    config: {
      secrets: {
        source: 'aws',
        prefix: options.prefix ?? 'opsbot/',
        pollSeconds: options.pollSeconds ?? 60,
        maxStaleSeconds: options.maxStaleSeconds ?? 21_600,
      },
      aws: { region: 'us-east-1' },
    },
    catalog: CATALOG,
    env: {},
    log: logs.log,
    redactor: logs.redactor,
    registry,
    events: credentialEventsTo(audit),
    clock: options.clock,
    ...(options.random ? { random: options.random } : {}),
    aws: {
      endpoint: options.endpoint,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' },
      maxAttempts: 1,
    },
  });
  return {
    provider,
    metrics,
    source,
    logs,
    audit,
    registry,
    async metric(name, labels = {}) {
      const metric = registry.getSingleMetric(name);
      if (!metric) return 0;
      const { values } = await metric.get();
      const sample = values.find((v) =>
        Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val),
      );
      return sample?.value ?? 0;
    },
  };
}
