import { randomUUID } from 'node:crypto';
import { credentialEventsTo } from '../../src/audit/credential-events.js';
import type { Clock, Random } from '../../src/clock.js';
import { createCredentialMetrics } from '../../src/credentials/metrics.js';
import { CredentialProvider, type CredentialProviderOptions } from '../../src/credentials/provider.js';
import { type SecretDescription, type SecretSource, STAGE } from '../../src/credentials/source.js';
import { SecretValue } from '../../src/log/secret-value.js';
import { SecretRedactor } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { CATALOG } from './catalog.js';
import { captureLogs, type LogCapture } from './log-capture.js';
import { MemoryAuditSink } from './memory-audit-sink.js';

type Api = 'DescribeSecret' | 'GetSecretValue';

/**
 * An in-memory secret source for provider tests that need what no emulator does: a call that never
 * answers and ignores its abort signal, or an error built exactly as the AWS source maps an SDK error.
 * Labels move as in Secrets Manager (a new AWSCURRENT leaves AWSPREVIOUS on the old one).
 */
export class FakeSecretSource implements SecretSource {
  readonly kind = 'aws' as const;
  readonly calls: Record<Api, number> = { DescribeSecret: 0, GetSecretValue: 0 };
  /** Thrown by every call while set. */
  failWith: ((api: Api) => Error) | undefined;
  /** While true, calls never settle and ignore their signal (a wedged socket, a buggy source). */
  hang = false;
  readonly #secrets = new Map<string, Map<string, { value: string; stages: Set<string> }>>();

  put(name: string, value: string, stages: readonly string[] = [STAGE.current]): string {
    let versions = this.#secrets.get(name);
    if (!versions) {
      versions = new Map();
      this.#secrets.set(name, versions);
    }
    const id = randomUUID();
    for (const stage of stages) {
      const holder = [...versions.values()].find((v) => v.stages.has(stage));
      if (!holder) continue;
      holder.stages.delete(stage);
      if (stage === STAGE.current) {
        for (const other of versions.values()) other.stages.delete(STAGE.previous);
        holder.stages.add(STAGE.previous);
      }
    }
    versions.set(id, { value, stages: new Set(stages) });
    return id;
  }

  async describe(name: string): Promise<SecretDescription> {
    await this.#enter('DescribeSecret');
    const versions = new Map<string, readonly string[]>();
    for (const [id, v] of this.#secrets.get(name) ?? [])
      if (v.stages.size > 0) versions.set(id, [...v.stages]);
    return { name, arn: `arn:fake:${name}`, versions };
  }

  async getVersion(name: string, versionId: string) {
    await this.#enter('GetSecretValue');
    const v = this.#secrets.get(name)?.get(versionId);
    if (!v) throw new Error(`no version ${versionId}`);
    return {
      name,
      arn: `arn:fake:${name}`,
      versionId,
      stages: [...v.stages],
      secretString: new SecretValue(v.value),
    };
  }

  async #enter(api: Api): Promise<void> {
    this.calls[api] += 1;
    if (this.hang) await new Promise(() => {});
    const error = this.failWith?.(api);
    if (error) throw error;
  }
}

export interface FakeProviderRig {
  provider: CredentialProvider;
  logs: LogCapture;
  audit: MemoryAuditSink;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/** A provider over any source, with a captured log, in-memory audit and its own metrics registry. */
export function providerOn(
  source: SecretSource,
  options: { clock: Clock; random?: Random; redactor?: SecretRedactor } & Partial<
    Omit<CredentialProviderOptions, 'source' | 'clock' | 'random' | 'redactor'>
  >,
): FakeProviderRig {
  const logs = captureLogs({
    redactor: options.redactor ?? new SecretRedactor({ now: () => options.clock.now() }),
  });
  const registry = createMetrics({ defaultMetrics: false });
  const audit = new MemoryAuditSink();
  let provider: CredentialProvider | undefined;
  const metrics = createCredentialMetrics(registry, {
    source: source.kind,
    staleness: () => provider?.staleness() ?? [],
  });
  provider = new CredentialProvider({
    catalog: CATALOG,
    prefix: 'opsbot/',
    pollSeconds: 60,
    maxStaleSeconds: 21_600,
    log: logs.log,
    events: credentialEventsTo(audit),
    metrics,
    ...options,
    redactor: logs.redactor,
    source,
  });
  return {
    provider,
    logs,
    audit,
    async metric(name, labels = {}) {
      const found = registry.getSingleMetric(name);
      if (!found) return 0;
      const { values } = await found.get();
      const sample = values.find((v) =>
        Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val),
      );
      return sample?.value ?? 0;
    },
  };
}
