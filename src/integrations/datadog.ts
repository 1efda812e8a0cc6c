import type { client, v1, v2 } from '@datadog/datadog-api-client';
import { z } from 'zod';
import { CredentialRejectedError } from '../credentials/errors.js';
import { secretText } from '../credentials/secret-spec.js';
import { ErrorCode, UserFacingError } from '../errors.js';
import type { RequestScope } from '../request-scope.js';
import { datadogRotation } from '../rotation/datadog.js';
import { abortable, deadlineSignal } from '../time/deadline.js';
import { datadogConfig } from './datadog-config.js';
import { isDowntimeScope } from './datadog-scope.js';
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
  /** The webhook in Datadog's Webhooks integration whose header rotation updates (default `opsbot`). */
  webhookName: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,100}$/, { error: 'webhookName: letters, digits, _ and -' })
    .optional(),
  /** Datadog's ids of the keys, set by opsbot's rotation (it revokes them by id once retired). */
  apiKeyId: z.string().max(100).optional(),
  appKeyId: z.string().max(100).optional(),
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
  /** Active downtimes muting this monitor; `opsbot`: created by opsbot (else in Datadog, by someone). */
  mutes: { id: string; scope: string; until: string | null; opsbot: boolean }[];
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
  /**
   * Cancels the active downtimes opsbot created on the monitor (`canceled`); those created in
   * Datadog by someone else stay, and are counted (`others`).
   */
  unmute(id: number, scope?: RequestScope): Promise<{ canceled: number; others: number }>;
}

/**
 * The message of every downtime opsbot creates, and how it recognises its own: `unmute` cancels
 * only these (a maintenance downtime someone set in Datadog is theirs to end).
 */
export const downtimeMessage = (by: string) => `Muted from Slack by ${by} through opsbot`;
const OPSBOT_DOWNTIME = /^Muted from Slack by [A-Z0-9]{1,40} through opsbot$/;
export const isOpsbotDowntime = (message: string | null | undefined): boolean =>
  typeof message === 'string' && OPSBOT_DOWNTIME.test(message);

/** How long one call to Datadog may take before opsbot gives up on it. */
export const DATADOG_CALL_TIMEOUT_MS = 10_000;

/** The client library's API objects for one version of the secret. */
export interface DatadogApis {
  monitors: v1.MonitorsApi;
  downtimes: v2.DowntimesApi;
}

/** A version of the secret's client: the library is imported on first use, not at start-up. */
export interface DatadogClient {
  apis(): Promise<DatadogApis>;
}

type DatadogSdk = typeof import('@datadog/datadog-api-client');
let sdk: DatadogSdk | undefined;
let loading: Promise<DatadogSdk> | undefined;

/**
 * `@datadog/datadog-api-client`, imported once: it takes a second or more and about 90 MB to load,
 * and the import blocks the event loop meanwhile. A replica whose `datadog` secret exists loads it
 * before it says it is ready (`prepare`); one whose secret appears later, at the first Datadog call.
 */
function datadogSdk(): Promise<DatadogSdk> {
  loading ??= import('@datadog/datadog-api-client').then(
    (loaded) => {
      sdk = loaded;
      return loaded;
    },
    (error: unknown) => {
      loading = undefined; // the next call tries again
      throw error;
    },
  );
  return loading;
}

/** An error the client library raised with this HTTP status (none can exist before it is loaded). */
function isApiException(error: unknown, ...codes: number[]): boolean {
  return sdk !== undefined && error instanceof sdk.client.ApiException && codes.includes(error.code);
}

/** No answer from Datadog: the connection failed (refused, reset, DNS) or the call timed out. */
export class DatadogUnreachableError extends Error {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Datadog is unreachable: ${reason}`, options);
    this.name = 'DatadogUnreachableError';
  }
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
  isAuthFailure: (error) => isApiException(error, 401, 403),
  createApi: (calls, deps) => createDatadogApi(calls, deps),
  /** Its environment variables (`OPSBOT_DATADOG_SITE`, `OPSBOT_DATADOG_API_URL`): `config.datadog`. */
  config: datadogConfig,
  prepare: async () => {
    await datadogSdk();
  },
  rotation: datadogRotation(),
});

function createDatadogClient(secret: DatadogSecret, deps: PlatformDeps): DatadogClient {
  let apis: Promise<DatadogApis> | undefined;
  return { apis: () => (apis ??= datadogSdk().then((loaded) => datadogApis(loaded, secret, deps))) };
}

function datadogApis({ client, v1, v2 }: DatadogSdk, secret: DatadogSecret, deps: PlatformDeps): DatadogApis {
  // Node's fetch, not the client's own library: that one writes every network failure to the
  // console with its stack, past opsbot's logger. Datadog's rate-limit headers are read here (the
  // client exposes a failed call's status and body only), and every call, body included, has a
  // deadline on the injected clock (the client sets none: a silent network would hold a command).
  const httpApi: client.HttpLibrary = {
    async send(request) {
      const deadline = deadlineSignal(
        deps.clock,
        DATADOG_CALL_TIMEOUT_MS,
        new AbortController().signal,
        () => new DatadogUnreachableError('timeout'),
      );
      try {
        return await abortable(exchange(client, request, deadline.signal), deadline.signal);
      } finally {
        deadline.cancel();
      }
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

/** One HTTP exchange for the client: Datadog's 429 becomes {@link DatadogRateLimitedError}. */
async function exchange(
  { ResponseContext }: DatadogSdk['client'],
  request: client.RequestContext,
  signal: AbortSignal,
): Promise<client.ResponseContext> {
  const body = request.getBody();
  const response = await fetch(request.getUrl(), {
    method: request.getHttpMethod().toString(),
    headers: request.getHeaders(),
    ...(body === undefined ? {} : { body: body as string }),
    signal,
  });
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  if (response.status === 429) {
    await response.body?.cancel().catch(() => undefined);
    const reset = Number(headers['x-ratelimit-reset']);
    throw new DatadogRateLimitedError(
      Number.isFinite(reset) && reset >= 0 ? Math.max(1, reset) * 1_000 : 1_000,
    );
  }
  const bytes = await readAtMost(response, MAX_DATADOG_RESPONSE_BYTES);
  return new ResponseContext(response.status, headers, {
    text: async () => bytes.toString('utf8'),
    binary: async () => bytes,
  });
}

/** The most opsbot reads of one Datadog answer (a page of monitors is far less). */
export const MAX_DATADOG_RESPONSE_BYTES = 8 * 1024 * 1024;

/** Reads a response body, refusing one larger than `max` bytes (the rest is not read). */
async function readAtMost(response: Response, max: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body ?? []) {
    total += chunk.byteLength;
    if (total > max) {
      await response.body?.cancel().catch(() => undefined);
      throw new Error(`Datadog answered with more than ${max} bytes; opsbot reads at most that`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** The web app's address for a site: `app.datadoghq.com`, `us3.datadoghq.com`, `app.datadoghq.eu`. */
export function datadogAppUrl(site: string): string {
  return /^(us\d|ap\d)\./.test(site) ? `https://${site}` : `https://app.${site}`;
}

export function createDatadogApi(calls: CredentialedCalls<DatadogClient>, deps: PlatformDeps): DatadogApi {
  const app = datadogAppUrl(deps.config.datadog.site);
  const { apiUrl, site } = deps.config.datadog;
  const where = apiUrl ? new URL(apiUrl).host : `api.${site}`;
  const call = <T>(what: string, fn: (c: DatadogApis) => Promise<T>, scope?: RequestScope): Promise<T> =>
    deps.rateLimits
      .run('datadog', datadogRateLimits, () => calls.run(async (c) => fn(await c.apis()), scope))
      .catch((error: unknown) => {
        throw explain(error, what, where);
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
          const until = end ? new Date(end) : undefined;
          return {
            id: d.id ?? '',
            scope: d.attributes?.scope ?? '*',
            until: until && Number.isFinite(until.getTime()) ? until.toISOString() : null,
            opsbot: isOpsbotDowntime(d.attributes?.message),
          };
        }),
      };
    },
    async mute(id, { endMs, by, groupScope }, scope) {
      if (groupScope && !isDowntimeScope(groupScope))
        throw new UserFacingError(
          'A Datadog downtime scope must be `key:value` tags joined with AND (`host:web-1 AND env:prod`). Mute the whole monitor with `/dd mute <id>`, or in Datadog.',
        );
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
                  message: downtimeMessage(by),
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
      const ours = mutes.filter((d) => isOpsbotDowntime(d.attributes?.message));
      for (const d of ours.slice(0, 20)) {
        await call('downtime', (c) => c.downtimes.cancelDowntime({ downtimeId: d.id ?? '' }), scope);
      }
      return { canceled: Math.min(ours.length, 20), others: mutes.length - ours.length };
    },
  };
}

const ORDER: Record<string, number> = { Alert: 0, Warn: 1, 'No Data': 2, OK: 3 };
const rank = (state: string) => ORDER[state] ?? 4;

/** Datadog's refusals, as sentences that say what to do next. */
function explain(error: unknown, what: string, where: string): unknown {
  const unreachable = unreachableReason(error);
  if (unreachable)
    return new UserFacingError(
      `opsbot could not reach Datadog at ${where} (${unreachable}). Try again in a minute; if it keeps failing, check that opsbot can reach ${where} (egress, DNS, proxy) and that OPSBOT_DATADOG_SITE names your Datadog site.`,
      { code: ErrorCode.UpstreamUnavailable, cause: error },
    );
  if (error instanceof CredentialRejectedError && what === 'downtime') {
    return new UserFacingError(
      'Datadog refused to mute or unmute: the application key opsbot uses needs the `monitors_downtime` permission. Ask a Datadog admin to grant it (and `monitors_read`).',
      { cause: error },
    );
  }
  if (error instanceof UserFacingError) return error;
  if (isApiException(error, 404)) {
    return new UserFacingError(
      `Datadog has no such ${what === 'monitor' ? 'monitor' : what}. Check the id with \`/dd monitors\`, and that OPSBOT_DATADOG_SITE names your Datadog site.`,
      { cause: error },
    );
  }
  return error;
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'the name does not resolve',
  EAI_AGAIN: 'DNS lookup failed',
  EPIPE: 'connection closed',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
};

/**
 * Why no answer came from Datadog, when none did: Node's fetch fails with `TypeError: fetch failed`
 * whose cause carries the socket's code; the deadline fails with {@link DatadogUnreachableError}.
 */
function unreachableReason(error: unknown): string | undefined {
  let fetchFailed = false;
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof DatadogUnreachableError)
      return e.reason === 'timeout' ? `no answer within ${DATADOG_CALL_TIMEOUT_MS / 1_000} s` : e.reason;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code in NETWORK_CODES) return NETWORK_CODES[code];
    if (e instanceof TypeError && e.message === 'fetch failed') fetchFailed = true;
  }
  return fetchFailed ? 'network error' : undefined;
}
