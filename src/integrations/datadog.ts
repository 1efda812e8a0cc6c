import { client, v1, v2 } from '@datadog/datadog-api-client';
import { z } from 'zod';
import { CredentialRejectedError } from '../credentials/errors.js';
import { secretText } from '../credentials/secret-spec.js';
import { UserFacingError } from '../errors.js';
import type { RequestScope } from '../request-scope.js';
import { type CredentialedCalls, type PlatformDeps, secretIntegration } from './integration.js';
import type { RateLimitPolicy } from './rate-limits.js';

declare module './integration.js' {
  interface IntegrationApis {
    datadog: DatadogApi;
  }
}

export const datadogSecretSchema = z.object({
  apiKey: secretText('apiKey'),
  appKey: secretText('appKey'),
  webhookSecret: secretText('webhookSecret'),
});
export type DatadogSecret = z.infer<typeof datadogSecretSchema>;

export type MonitorState = 'Alert' | 'Warn' | 'No Data' | 'OK' | 'Ignored' | 'Skipped' | 'Unknown';

export interface MonitorSummary {
  id: number;
  name: string;
  state: MonitorState;
  priority: number | null;
  tags: string[];
  url: string;
}

export interface MonitorDetail extends MonitorSummary {
  query: string;
  message: string;
  /** Active downtimes muting this monitor. */
  mutes: { id: string; scope: string; until: string | null }[];
}

/** What `/dd` needs from Datadog, in opsbot's own types (commands never see the SDK). */
export interface DatadogApi {
  listMonitors(
    filter: { state?: MonitorState; tag?: string; limit: number },
    scope?: RequestScope,
  ): Promise<MonitorSummary[]>;
  getMonitor(id: number, scope?: RequestScope): Promise<MonitorDetail>;
  /**
   * A v2 downtime on the monitor, until `endMs` or until cancelled: for all its groups, or only
   * for `groupScope` (Datadog search syntax, `host:web-1 AND env:prod`).
   */
  mute(
    id: number,
    options: { endMs?: number; by: string; groupScope?: string },
    scope?: RequestScope,
  ): Promise<{ downtimeId: string }>;
  /** The monitor's page in the Datadog web app of the configured site. */
  monitorUrl(id: number | string): string;
  /** Cancels one downtime (an already cancelled or ended one is fine). */
  cancelDowntime(downtimeId: string, scope?: RequestScope): Promise<void>;
  /** Cancels every active downtime on the monitor; how many there were. */
  unmute(id: number, scope?: RequestScope): Promise<number>;
}

export interface DatadogClient {
  monitors: v1.MonitorsApi;
  downtimes: v2.DowntimesApi;
}

/** Datadog's 429, with how long its `X-RateLimit-Reset` asks us to wait. */
export class DatadogRateLimitedError extends Error {
  constructor(readonly waitMs: number) {
    super(`Datadog rate limit: retry in ${Math.ceil(waitMs / 1_000)} s`);
    this.name = 'DatadogRateLimitedError';
  }
}

const datadogRateLimits: RateLimitPolicy = {
  service: 'Datadog',
  maxWaitMs: 5_000,
  maxAttempts: 2,
  waitOf: (error) => (error instanceof DatadogRateLimitedError ? error.waitMs : undefined),
};

/**
 * Datadog: `@datadog/datadog-api-client` (v1 monitors, v2 downtimes) per version of the `datadog`
 * secret, pointed at `OPSBOT_DATADOG_API_URL` or the API of `OPSBOT_DATADOG_SITE`. The client
 * retries nothing itself; a 429 goes through the shared rate limits (its `X-RateLimit-Reset` is the
 * wait), and a 401/403 takes the refresh-and-retry-once path. The webhook secret verifies alerts.
 */
export const datadog = secretIntegration({
  kind: 'secret',
  name: 'datadog',
  title: 'Datadog',
  secret: {
    schema: datadogSecretSchema,
    // Datadog keys have no prefix: masking them verbatim in logs is the only protection.
    sensitive: ['apiKey', 'appKey', 'webhookSecret'],
    inbound: 'webhookSecret',
  },
  createClient: (secret: DatadogSecret, deps) => createDatadogClient(secret, deps),
  isAuthFailure: (error) =>
    error instanceof client.ApiException && (error.code === 401 || error.code === 403),
  createApi: (calls, deps) => createDatadogApi(calls, deps),
});

function createDatadogClient(secret: DatadogSecret, deps: PlatformDeps): DatadogClient {
  const inner = new client.IsomorphicFetchHttpLibrary();
  // The client exposes a failed call's status and body only: read Datadog's rate-limit headers here.
  const httpApi: client.HttpLibrary = {
    async send(request) {
      const response = await inner.send(request);
      if (response.httpStatusCode === 429) {
        const reset = Number(response.headers['x-ratelimit-reset']);
        throw new DatadogRateLimitedError(
          Number.isFinite(reset) && reset >= 0 ? Math.max(1, reset) * 1_000 : 1_000,
        );
      }
      return response;
    },
  };
  const { apiUrl, site } = deps.config.datadog;
  const configuration = client.createConfiguration({
    authMethods: { apiKeyAuth: secret.apiKey, appKeyAuth: secret.appKey },
    httpApi,
    enableRetry: false,
    ...(apiUrl ? { baseServer: new client.BaseServerConfiguration(apiUrl.replace(/\/$/, ''), {}) } : {}),
  });
  if (!apiUrl) client.setServerVariables(configuration, { site });
  return { monitors: new v1.MonitorsApi(configuration), downtimes: new v2.DowntimesApi(configuration) };
}

/** The web app's address for a site: `app.datadoghq.com`, `us3.datadoghq.com`, `app.datadoghq.eu`. */
export function datadogAppUrl(site: string): string {
  return /^(us\d|ap\d)\./.test(site) ? `https://${site}` : `https://app.${site}`;
}

export function createDatadogApi(calls: CredentialedCalls<DatadogClient>, deps: PlatformDeps): DatadogApi {
  const app = datadogAppUrl(deps.config.datadog.site);
  const call = <T>(what: string, fn: (c: DatadogClient) => Promise<T>, scope?: RequestScope): Promise<T> =>
    deps.rateLimits
      .run('datadog', datadogRateLimits, () => calls.run((c) => fn(c), scope))
      .catch((error: unknown) => {
        throw explain(error, what);
      });
  const summary = (m: v1.Monitor): MonitorSummary => ({
    id: m.id ?? 0,
    name: m.name ?? `monitor ${m.id}`,
    state: (m.overallState ?? 'Unknown') as MonitorState,
    priority: typeof m.priority === 'number' ? m.priority : null,
    tags: (m.tags ?? []).slice(0, 20),
    url: `${app}/monitors/${m.id}`,
  });
  const activeMutes = async (id: number, scope?: RequestScope) => {
    const list = await call(
      'downtimes',
      (c) => c.downtimes.listDowntimes({ currentOnly: true, pageLimit: 100 }),
      scope,
    );
    return (list.data ?? []).filter((d) => {
      const target = d.attributes?.monitorIdentifier as { monitorId?: number } | undefined;
      return target?.monitorId === id && d.attributes?.status !== 'canceled';
    });
  };

  return {
    async listMonitors({ state, tag, limit }, scope) {
      const monitors = await call(
        'monitors',
        (c) => c.monitors.listMonitors({ pageSize: 1_000, page: 0, ...(tag ? { monitorTags: tag } : {}) }),
        scope,
      );
      return monitors
        .map(summary)
        .filter((m) => !state || m.state === state)
        .sort((a, b) => rank(a.state) - rank(b.state) || (a.priority ?? 9) - (b.priority ?? 9))
        .slice(0, limit);
    },
    async getMonitor(id, scope) {
      const monitor = await call('monitor', (c) => c.monitors.getMonitor({ monitorId: id }), scope);
      const mutes = await activeMutes(id, scope);
      return {
        ...summary(monitor),
        query: monitor.query ?? '',
        message: monitor.message ?? '',
        mutes: mutes.map((d) => {
          const end = (d.attributes?.schedule as { end?: Date | null } | undefined)?.end;
          return {
            id: d.id ?? '',
            scope: d.attributes?.scope ?? '*',
            until: end ? new Date(end).toISOString() : null,
          };
        }),
      };
    },
    async mute(id, { endMs, by, groupScope }, scope) {
      await call('monitor', (c) => c.monitors.getMonitor({ monitorId: id }), scope);
      const created = await call(
        'downtime',
        (c) =>
          c.downtimes.createDowntime({
            body: {
              data: {
                type: 'downtime',
                attributes: {
                  scope: groupScope || '*',
                  monitorIdentifier: { monitorId: id },
                  message: `Muted from Slack by ${by} through opsbot`,
                  ...(endMs ? { schedule: { end: new Date(endMs) } } : {}),
                },
              },
            },
          }),
        scope,
      );
      return { downtimeId: created.data?.id ?? '' };
    },
    monitorUrl: (id) => `${app}/monitors/${id}`,
    async cancelDowntime(downtimeId, scope) {
      await call('downtime', (c) => c.downtimes.cancelDowntime({ downtimeId }), scope);
    },
    async unmute(id, scope) {
      const mutes = await activeMutes(id, scope);
      for (const d of mutes.slice(0, 20)) {
        await call('downtime', (c) => c.downtimes.cancelDowntime({ downtimeId: d.id ?? '' }), scope);
      }
      return mutes.length;
    },
  };
}

const ORDER: Record<string, number> = { Alert: 0, Warn: 1, 'No Data': 2, OK: 3 };
const rank = (state: string) => ORDER[state] ?? 4;

/** Datadog's refusals, as sentences that say what to do next. */
function explain(error: unknown, what: string): unknown {
  if (error instanceof CredentialRejectedError && what === 'downtime') {
    return new UserFacingError(
      'Datadog refused to mute or unmute: the application key opsbot uses needs the `monitors_downtime` permission. Ask a Datadog admin to grant it (and `monitors_read`).',
      { cause: error },
    );
  }
  if (error instanceof UserFacingError) return error;
  if (error instanceof client.ApiException && error.code === 404) {
    return new UserFacingError(
      `Datadog has no such ${what === 'monitor' ? 'monitor' : what}. Check the id with \`/dd monitors\`, and that OPSBOT_DATADOG_SITE names your Datadog site.`,
      { cause: error },
    );
  }
  return error;
}
