import type { Detection } from '../detection.js';
import { spoken } from './rule.js';
import { CountWindow } from './window.js';

/** Where a request was refused for a bad signature or secret (never anything of the request itself). */
export type RefusalSource = 'slack' | 'datadog' | 'aws-events';

/**
 * `signatureFailures`: `count` requests refused for a bad Slack signature or a bad webhook secret
 * within `within`, on this replica (each counts the requests it refused): someone probing. Keyed by
 * this replica and the first refusal's time, so a burst is one detection.
 */
export function signatureFailuresRule(options: { count: number; withinMs: number; replica: string }) {
  const window = new CountWindow<{ at: number; source: RefusalSource }>({
    count: options.count,
    withinMs: options.withinMs,
  });
  return {
    refused(source: RefusalSource, at: number): Detection | undefined {
      const burst = window.add('all', at, { at, source });
      if (!burst) return undefined;
      const first = burst[0] as { at: number };
      const sources = [...new Set(burst.map((b) => b.source))];
      return {
        rule: 'signatureFailures',
        key: `signatureFailures:${options.replica}:${first.at}`,
        title: `${burst.length} requests failed signature or secret checks within ${spoken(options.withinMs)}`,
        at: new Date(at).toISOString(),
        evidence: [],
        details: {
          count: burst.length,
          within: spoken(options.withinMs),
          endpoints: sources.join(', '),
          replica: options.replica.slice(0, 60),
        },
      };
    },
  };
}
