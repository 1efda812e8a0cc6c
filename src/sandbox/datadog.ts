import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DatadogHttpError, DatadogKeys, type SimWebhook, scopeFor, webhookHeaders } from './datadog-keys.js';
import { DatadogWebhookSender } from './datadog-webhook-sender.js';

export type DatadogOverallState = 'Alert' | 'Warn' | 'No Data' | 'OK';

/** A v1 Monitor as Datadog sends it (snake_case wire names, as datadog-api-client's `Monitor` reads them). */
export interface DatadogMonitor {
  id: number;
  name: string;
  type: 'metric alert';
  query: string;
  message: string;
  tags: string[];
  overall_state: DatadogOverallState;
  priority: number | null;
  created: string;
  modified: string;
  multi: boolean;
  options: Record<string, unknown>;
  creator: { email: string; handle: string; name: string };
  restricted_roles: string[] | null;
  deleted: string | null;
}

export interface DatadogDowntimeAttributes {
  canceled: string | null;
  created: string;
  modified: string;
  display_timezone: string;
  message: string | null;
  monitor_identifier: { monitor_id: number } | { monitor_tags: string[] };
  mute_first_recovery_notification: boolean;
  notify_end_states: string[];
  notify_end_types: string[];
  schedule: { start: string; end: string | null };
  scope: string;
  status: 'active' | 'canceled' | 'ended' | 'scheduled';
}

/** A v2 downtime as stored; `GET` answers recompute `status` (`scheduled` → `active` → `ended`) from the clock. */
export interface DatadogDowntime {
  id: string;
  type: 'downtime';
  attributes: DatadogDowntimeAttributes;
  relationships: { created_by: { data: null }; monitor: { data: { id: string; type: 'monitors' } | null } };
}

export interface DatadogCall {
  method: string;
  path: string;
  status: number;
}

const MAX_BODY = 64 * 1024;
const MAX_CALLS = 1000;
const GROUP_STATES = new Set(['all', 'alert', 'warn', 'no data']);

const HttpError = DatadogHttpError;

function monitor(
  id: number,
  name: string,
  state: DatadogOverallState,
  tags: string[],
  priority: number | null,
) {
  const date = '2024-01-15T10:00:00.000000+00:00';
  return {
    id,
    name,
    type: 'metric alert',
    query: `avg(last_5m):avg:opsbot.sim.m${id}{*} > 90`,
    message: `${name} @slack-ops`,
    tags,
    overall_state: state,
    priority,
    created: date,
    modified: date,
    multi: false,
    options: { notify_no_data: false, thresholds: { critical: 90 } },
    creator: { email: 'sre@example.com', handle: 'sre@example.com', name: 'SRE' },
    restricted_roles: null,
    deleted: null,
  } satisfies DatadogMonitor;
}

/**
 * A simulated Datadog API on 127.0.0.1 speaking the wire format of `@datadog/datadog-api-client`:
 * `GET /api/v1/monitor` (`monitor_tags` all-of filter, `name` substring, `group_states` validated,
 * `id_offset`, `page`/`page_size` ≤ 1000), `GET /api/v1/monitor/{id}`, `POST|GET /api/v2/downtime`
 * (`current_only`, `page[offset]`, `page[limit]`), `GET|DELETE /api/v2/downtime/{id}`; `GET /api/v1/validate`
 * (the API key alone); the key management and Webhooks integration routes of {@link DatadogKeys}.
 * Requests need a valid `DD-API-KEY` and a valid `DD-APPLICATION-KEY` (added with `addKeys`, or
 * created through the key APIs; a deleted or revoked key is a 403), and a scoped application key only
 * reaches the routes its scopes allow (403 else); `limitNext` makes the next authenticated call a
 * 429 with Datadog's X-RateLimit-* headers. Errors are `{"errors":[...]}`.
 */
export class SimulatedDatadog {
  readonly monitors: DatadogMonitor[] = [
    monitor(1001, 'High error rate on web', 'Alert', ['team:web', 'env:prod'], 1),
    monitor(1002, 'Checkout latency', 'Warn', ['team:payments'], 2),
    monitor(1003, 'Disk space', 'OK', ['team:infra'], null),
    monitor(1004, 'Queue depth', 'No Data', ['team:payments'], null),
  ];
  readonly downtimes: DatadogDowntime[] = [];
  /** The most recent calls (at most 1000), oldest first. */
  readonly calls: DatadogCall[] = [];
  /** API and application keys, and the Webhooks integration's webhooks. */
  readonly keys = new DatadogKeys();
  /** The application key added with each API key by `addKeys` (revoked with it). */
  readonly #pairs = new Map<string, string>();
  #limitSeconds: number | undefined;
  #server: Server | undefined;
  #port = 0;

  /**
   * Accepts this API key and this (unscoped) application key from now on, or with `scopes`, an
   * application key limited to those permissions (`monitors_read`, `api_keys_write`…).
   */
  addKeys(apiKey: string, appKey: string, options: { scopes?: string[]; name?: string } = {}): void {
    this.keys.addApiKey(apiKey, options.name);
    this.keys.addAppKey(appKey, options.name, options.scopes ?? null);
    this.#pairs.set(apiKey, appKey);
  }

  /** Revokes the API key `apiKey` (and the application key added with it): its next call is a 403. */
  revokeKeys(apiKey: string): void {
    const api = this.keys.apiKey(apiKey);
    if (api) this.keys.apiKeys.delete(api.id);
    const app = this.keys.appKey(this.#pairs.get(apiKey) ?? '');
    if (app) this.keys.appKeys.delete(app.id);
    this.#pairs.delete(apiKey);
  }

  /** Adds a webhook to the Webhooks integration, as a person would in Datadog's UI. */
  addWebhook(webhook: { name: string; url: string; customHeaders?: Record<string, string> }): void {
    this.keys.webhooks.set(webhook.name, {
      name: webhook.name,
      url: webhook.url,
      custom_headers: webhook.customHeaders ? JSON.stringify(webhook.customHeaders) : null,
      encode_as: 'json',
      payload: null,
    } satisfies SimWebhook);
  }

  /**
   * Datadog's sender for the webhook `name`: it posts to the webhook's URL with the custom headers
   * the webhook holds at the time of each send, so a change through the API (a rotation) changes
   * what Datadog sends.
   */
  webhookSender(name: string, options: { timeoutMs?: number } = {}): DatadogWebhookSender {
    const webhook = this.keys.webhooks.get(name);
    if (!webhook) throw new Error(`the simulated Datadog has no webhook named ${name}`);
    return new DatadogWebhookSender({
      url: webhook.url,
      headers: () => webhookHeaders(this.keys.webhooks.get(name)),
      ...options,
    });
  }

  /** The next authenticated call is refused with 429 and `X-RateLimit-Reset: <seconds>`. */
  limitNext(seconds: number): void {
    this.#limitSeconds = seconds;
  }

  /** Adds a monitor (the console's `:alert` names one Datadog has); `id` defaults to one past the highest. */
  addMonitor(fields: {
    id?: number;
    name: string;
    tags: string[];
    priority?: number | null;
  }): DatadogMonitor {
    const id = fields.id ?? Math.max(1000, ...this.monitors.map((m) => m.id)) + 1;
    const existing = this.monitors.find((m) => m.id === id);
    if (existing) return existing;
    const added = monitor(id, fields.name, 'Alert', [...fields.tags], fields.priority ?? null);
    this.monitors.push(added);
    return added;
  }

  async start(): Promise<{ url: string }> {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        const status = error instanceof HttpError ? error.status : 500;
        const message = error instanceof HttpError ? error.message : 'Internal Server Error';
        this.#send(req, res, status, { errors: [message] });
      });
    });
    await new Promise<void>((resolve) => this.#server?.listen(this.#port, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
    return { url: this.url };
  }

  /** The API's base URL (once started). */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()));
  }

  /** No network to Datadog: the port stops listening (connections are refused) until `reachable()`. */
  async unreachable(): Promise<void> {
    await this.stop();
  }

  /** Listens again, on the same port, with everything it held. */
  async reachable(): Promise<void> {
    if (!this.#server) await this.start();
  }

  #send(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    if (res.headersSent) return;
    this.calls.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '', status });
    if (this.calls.length > MAX_CALLS) this.calls.splice(0, this.calls.length - MAX_CALLS);
    if (body === undefined) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const apiKey = req.headers['dd-api-key'];
    const appKey = req.headers['dd-application-key'];
    const validApiKey = typeof apiKey === 'string' && this.keys.apiKey(apiKey) !== undefined;
    if (req.method === 'GET' && url.pathname === '/api/v1/validate') {
      return validApiKey
        ? this.#send(req, res, 200, { valid: true })
        : this.#send(req, res, 403, { errors: ['Forbidden'] });
    }
    const app = typeof appKey === 'string' ? this.keys.appKey(appKey) : undefined;
    if (!validApiKey || !app) return this.#send(req, res, 403, { errors: ['Forbidden'] });
    const scope = scopeFor(req.method ?? '', url.pathname);
    if (app.scopes && (!scope || !app.scopes.includes(scope))) {
      return this.#send(req, res, 403, { errors: ['Failed permission authorization checks'] });
    }
    if (this.#limitSeconds !== undefined) {
      const reset = String(this.#limitSeconds);
      this.#limitSeconds = undefined;
      return this.#send(
        req,
        res,
        429,
        { errors: ['Rate limit exceeded'] },
        {
          'x-ratelimit-limit': '100',
          'x-ratelimit-period': '10',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': reset,
          'x-ratelimit-name': 'monitors',
        },
      );
    }
    const method = req.method ?? '';
    const body = method === 'POST' || method === 'PUT' ? await readJson(req) : undefined;
    const keyRoute = this.keys.handle(method, url.pathname, url.searchParams, body);
    if (keyRoute) return this.#send(req, res, keyRoute.status, keyRoute.body);
    const [root, api, version, kind, id, extra] = url.pathname.split('/');
    if (root !== '' || api !== 'api' || extra !== undefined) throw new HttpError(404, 'Not found');
    const route = `${req.method} ${version}/${kind}${id === undefined ? '' : '/:id'}`;
    const q = url.searchParams;
    if (route === 'GET v1/monitor') return this.#send(req, res, 200, this.#listMonitors(q));
    if (route === 'GET v1/monitor/:id') {
      const found = this.monitors.find((m) => String(m.id) === id);
      if (!found) throw new HttpError(404, 'Monitor not found');
      return this.#send(req, res, 200, found);
    }
    if (route === 'POST v2/downtime') {
      const created = this.#createDowntime(body);
      this.downtimes.push(created);
      return this.#send(req, res, 200, { data: view(created) });
    }
    if (route === 'GET v2/downtime') {
      const all = this.downtimes
        .map(view)
        .filter((d) => !bool(q, 'current_only') || d.attributes.status === 'active');
      const offset = int(q, 'page[offset]', 0, Number.MAX_SAFE_INTEGER) ?? 0;
      const data = all.slice(offset, offset + (int(q, 'page[limit]', 1, 1000) ?? 100));
      return this.#send(req, res, 200, { data, meta: { page: { total_filtered_count: all.length } } });
    }
    const downtime = this.downtimes.find((d) => d.id === id);
    if (route === 'GET v2/downtime/:id' || route === 'DELETE v2/downtime/:id') {
      if (!downtime) throw new HttpError(404, 'Downtime not found');
      if (req.method === 'GET') return this.#send(req, res, 200, { data: view(downtime) });
      if (downtime.attributes.status !== 'canceled') {
        const now = new Date().toISOString();
        Object.assign(downtime.attributes, { status: 'canceled', canceled: now, modified: now });
      }
      return this.#send(req, res, 204);
    }
    throw new HttpError(404, 'Not found');
  }

  #listMonitors(q: URLSearchParams): DatadogMonitor[] {
    const wanted = (q.get('monitor_tags') ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const name = q.get('name')?.toLowerCase();
    for (const state of (q.get('group_states') ?? '').split(',').filter(Boolean)) {
      if (!GROUP_STATES.has(state.trim())) throw new HttpError(400, `Invalid group_states value: ${state}`);
    }
    const idOffset = int(q, 'id_offset', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const page = int(q, 'page', 0, Number.MAX_SAFE_INTEGER);
    const pageSize = int(q, 'page_size', 1, 1000) ?? (page === undefined ? undefined : 100);
    const matching = this.monitors
      .filter((m) => m.id > idOffset && wanted.every((t) => m.tags.includes(t)))
      .filter((m) => name === undefined || m.name.toLowerCase().includes(name))
      .sort((a, b) => a.id - b.id);
    if (pageSize === undefined) return matching;
    return matching.slice((page ?? 0) * pageSize, ((page ?? 0) + 1) * pageSize);
  }

  #createDowntime(body: unknown): DatadogDowntime {
    const data = record(record(body, 'body').data, 'data');
    if (data.type !== 'downtime') throw new HttpError(400, "data.type must be 'downtime'");
    const a = record(data.attributes, 'data.attributes');
    if (typeof a.scope !== 'string' || a.scope.trim() === '' || a.scope.length > 2000) {
      throw new HttpError(400, 'scope must be a non-empty string');
    }
    const ident = record(a.monitor_identifier, 'monitor_identifier');
    let monitorIdentifier: DatadogDowntimeAttributes['monitor_identifier'];
    if (ident.monitor_id !== undefined) {
      if (!Number.isSafeInteger(ident.monitor_id) || !this.monitors.some((m) => m.id === ident.monitor_id)) {
        throw new HttpError(400, `Monitor ${String(ident.monitor_id)} not found`);
      }
      monitorIdentifier = { monitor_id: ident.monitor_id as number };
    } else if (strings(ident.monitor_tags) && ident.monitor_tags.length > 0) {
      monitorIdentifier = { monitor_tags: ident.monitor_tags };
    } else {
      throw new HttpError(400, 'monitor_identifier needs monitor_id or monitor_tags');
    }
    if (a.message !== undefined && a.message !== null && typeof a.message !== 'string') {
      throw new HttpError(400, 'message must be a string');
    }
    const sched = a.schedule === undefined || a.schedule === null ? {} : record(a.schedule, 'schedule');
    if (sched.recurrences !== undefined) throw new HttpError(400, 'recurring schedules are not simulated');
    const now = new Date();
    const start = date(sched.start, 'schedule.start') ?? now;
    const end = date(sched.end, 'schedule.end');
    if (end && end <= start) throw new HttpError(400, 'schedule.end must be after schedule.start');
    const optional = <T>(value: unknown, ok: (v: unknown) => v is T, fallback: T, field: string): T => {
      if (value === undefined || value === null) return fallback;
      if (!ok(value)) throw new HttpError(400, `Invalid ${field}`);
      return value;
    };
    const isString = (v: unknown): v is string => typeof v === 'string';
    const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
    const stamp = now.toISOString();
    const monitorId = 'monitor_id' in monitorIdentifier ? monitorIdentifier.monitor_id : undefined;
    return {
      id: randomUUID(),
      type: 'downtime',
      attributes: {
        canceled: null,
        created: stamp,
        modified: stamp,
        display_timezone: optional(a.display_timezone, isString, 'UTC', 'display_timezone'),
        message: (a.message as string | null | undefined) ?? null,
        monitor_identifier: monitorIdentifier,
        mute_first_recovery_notification: optional(a.mute_first_recovery_notification, isBool, false, 'mute'),
        notify_end_states: optional(
          a.notify_end_states,
          strings,
          ['alert', 'no data', 'warn'],
          'notify_end_states',
        ),
        notify_end_types: optional(a.notify_end_types, strings, ['expired'], 'notify_end_types'),
        schedule: { start: start.toISOString(), end: end ? end.toISOString() : null },
        scope: a.scope,
        status: start > now ? 'scheduled' : 'active',
      },
      relationships: {
        created_by: { data: null },
        monitor: { data: monitorId === undefined ? null : { id: String(monitorId), type: 'monitors' } },
      },
    };
  }
}

/** The downtime as a read now sees it: a non-canceled one is scheduled, active or ended by the clock. */
function view(d: DatadogDowntime): DatadogDowntime {
  if (d.attributes.status === 'canceled') return d;
  const now = Date.now();
  const { start, end } = d.attributes.schedule;
  const status =
    end !== null && Date.parse(end) <= now ? 'ended' : Date.parse(start) > now ? 'scheduled' : 'active';
  return { ...d, attributes: { ...d.attributes, status } };
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, `${field} must be an object`);
  }
  return value as Record<string, unknown>;
}

function strings(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= 100 && value.every((v) => typeof v === 'string');
}

function date(value: unknown, field: string): Date | undefined {
  if (value === undefined || value === null) return undefined;
  const parsed = typeof value === 'string' ? new Date(value) : undefined;
  if (!parsed || Number.isNaN(parsed.getTime()))
    throw new HttpError(400, `${field} must be an ISO 8601 date`);
  return parsed;
}

function int(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = q.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max)
    throw new HttpError(400, `${name} must be an integer in ${min}..${max}`);
  return n;
}

function bool(q: URLSearchParams, name: string): boolean {
  const raw = q.get(name);
  if (raw === null || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new HttpError(400, `${name} must be true or false`);
}

/** Reads at most 64 KiB of JSON; a larger body is drained unbuffered and answered 413. */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_BODY) return reject(new HttpError(413, 'Request body too large'));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      } catch {
        reject(new HttpError(400, 'Invalid JSON in request body'));
      }
    });
  });
}
