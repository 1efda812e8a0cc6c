import { randomBytes, randomUUID } from 'node:crypto';

/** An API key of the simulated organisation. */
export interface SimApiKey {
  id: string;
  name: string;
  key: string;
  created: string;
}

/** An application key: `scopes` null means unscoped (every permission of its owner). */
export interface SimAppKey {
  id: string;
  name: string;
  key: string;
  scopes: string[] | null;
  created: string;
}

/** A webhook of the Webhooks integration (`custom_headers` is a JSON object as a string, as Datadog keeps it). */
export interface SimWebhook {
  name: string;
  url: string;
  custom_headers: string | null;
  encode_as: 'json' | 'form';
  payload: string | null;
}

/** A refusal with Datadog's status and `errors` text. */
export class DatadogHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The permission a route needs from a scoped application key (Datadog's names); undefined: only
 * an API key is needed (`/api/v1/validate`) or the route is not one of these.
 */
export function scopeFor(method: string, path: string): string | undefined {
  const read = method === 'GET';
  if (/^\/api\/v1\/monitor(\/[^/]+)?$/.test(path)) return 'monitors_read';
  if (/^\/api\/v2\/downtime(\/[^/]+)?$/.test(path)) return read ? 'monitors_read' : 'monitors_downtime';
  if (/^\/api\/v2\/api_keys(\/[^/]+)?$/.test(path))
    return read ? 'api_keys_read' : method === 'DELETE' ? 'api_keys_delete' : 'api_keys_write';
  if (/^\/api\/v2\/current_user\/application_keys(\/[^/]+)?$/.test(path)) return 'user_app_keys';
  if (/^\/api\/v2\/application_keys(\/[^/]+)?$/.test(path))
    return read ? 'org_app_keys_read' : 'org_app_keys_write';
  if (path.startsWith('/api/v1/integration/webhooks/'))
    return read ? 'integrations_read' : 'manage_integrations';
  return undefined;
}

const stamp = () => new Date().toISOString();
const last4 = (key: string) => key.slice(-4);
const MAX_KEYS = 1_000;

/**
 * Datadog's keys and Webhooks integration, simulated: API keys (32 hex) and application keys
 * (40 hex, optionally scoped) created, listed, read and deleted through `/api/v2/api_keys`,
 * `/api/v2/current_user/application_keys` and `/api/v2/application_keys`, in the wire format of
 * datadog-api-client's `APIKeyResponse`, `APIKeysResponse`, `ApplicationKeyResponse`,
 * `ListApplicationKeysResponse`; webhooks by name (`/api/v1/integration/webhooks/configuration/webhooks`).
 * A deleted key is refused (403) from its next request on.
 */
export class DatadogKeys {
  readonly apiKeys = new Map<string, SimApiKey>();
  readonly appKeys = new Map<string, SimAppKey>();
  readonly webhooks = new Map<string, SimWebhook>();

  addApiKey(key: string, name = 'sandbox'): SimApiKey {
    const existing = [...this.apiKeys.values()].find((k) => k.key === key);
    if (existing) return existing;
    const created = { id: randomUUID(), name, key, created: stamp() };
    this.apiKeys.set(created.id, created);
    return created;
  }

  addAppKey(key: string, name = 'sandbox', scopes: string[] | null = null): SimAppKey {
    const existing = [...this.appKeys.values()].find((k) => k.key === key);
    if (existing) return existing;
    const created = { id: randomUUID(), name, key, scopes, created: stamp() };
    this.appKeys.set(created.id, created);
    return created;
  }

  apiKey(value: string): SimApiKey | undefined {
    return [...this.apiKeys.values()].find((k) => k.key === value);
  }

  appKey(value: string): SimAppKey | undefined {
    return [...this.appKeys.values()].find((k) => k.key === value);
  }

  /** Answers a key or webhook route; undefined when `path` is none of them. */
  handle(
    method: string,
    path: string,
    q: URLSearchParams,
    body: unknown,
  ): { status: number; body?: unknown } | undefined {
    const parts = path.split('/').slice(1);
    const [api, version, a, b, c, d, e, f] = parts;
    if (api !== 'api') return undefined;
    if (version === 'v2' && a === 'api_keys' && c === undefined) return this.#apiKeys(method, b, q, body);
    if (version === 'v2' && a === 'current_user' && b === 'application_keys' && d === undefined)
      return this.#appKeys(method, c, q, body, true);
    if (version === 'v2' && a === 'application_keys' && c === undefined)
      return this.#appKeys(method, b, q, body, false);
    if (
      version === 'v1' &&
      a === 'integration' &&
      b === 'webhooks' &&
      c === 'configuration' &&
      d === 'webhooks'
    ) {
      if (f !== undefined) return undefined;
      return this.#webhook(method, e === undefined ? undefined : decodeURIComponent(e), body);
    }
    return undefined;
  }

  #apiKeys(method: string, id: string | undefined, q: URLSearchParams, body: unknown) {
    if (id === undefined && method === 'GET') {
      const all = filtered([...this.apiKeys.values()], q.get('filter'));
      return {
        status: 200,
        body: { data: page(all, q).map(partialApiKey), meta: { page: { total_filtered_count: all.length } } },
      };
    }
    if (id === undefined && method === 'POST') {
      const name = createName(body, 'api_keys');
      if (this.apiKeys.size >= MAX_KEYS) throw new DatadogHttpError(400, 'Too many API keys');
      const created = { id: randomUUID(), name, key: randomBytes(16).toString('hex'), created: stamp() };
      this.apiKeys.set(created.id, created);
      return { status: 201, body: { data: fullApiKey(created) } };
    }
    const found = id === undefined ? undefined : this.apiKeys.get(id);
    if (!found) throw new DatadogHttpError(404, 'API key not found');
    if (method === 'GET') return { status: 200, body: { data: fullApiKey(found) } };
    if (method === 'DELETE') {
      this.apiKeys.delete(found.id);
      return { status: 204 };
    }
    throw new DatadogHttpError(405, 'Method not allowed');
  }

  #appKeys(method: string, id: string | undefined, q: URLSearchParams, body: unknown, mine: boolean) {
    if (id === undefined && method === 'GET') {
      const all = filtered([...this.appKeys.values()], q.get('filter'));
      return {
        status: 200,
        body: { data: page(all, q).map(partialAppKey), meta: { page: { total_filtered_count: all.length } } },
      };
    }
    if (id === undefined && method === 'POST' && mine) {
      const name = createName(body, 'application_keys');
      const scopes = (body as { data: { attributes: { scopes?: unknown } } }).data.attributes.scopes;
      if (
        scopes !== undefined &&
        scopes !== null &&
        !(Array.isArray(scopes) && scopes.every((s) => typeof s === 'string'))
      )
        throw new DatadogHttpError(400, 'scopes must be an array of strings');
      if (this.appKeys.size >= MAX_KEYS) throw new DatadogHttpError(400, 'Too many application keys');
      const created = {
        id: randomUUID(),
        name,
        key: randomBytes(20).toString('hex'),
        scopes: (scopes as string[] | null | undefined) ?? null,
        created: stamp(),
      };
      this.appKeys.set(created.id, created);
      return { status: 201, body: { data: fullAppKey(created) } };
    }
    const found = id === undefined ? undefined : this.appKeys.get(id);
    if (!found) throw new DatadogHttpError(404, 'Application key not found');
    // One-Time Read: a key's value is shown at creation only.
    if (method === 'GET') return { status: 200, body: { data: partialAppKey(found) } };
    if (method === 'DELETE') {
      this.appKeys.delete(found.id);
      return { status: 204 };
    }
    throw new DatadogHttpError(405, 'Method not allowed');
  }

  #webhook(method: string, name: string | undefined, body: unknown) {
    if (name === undefined && method === 'POST') {
      const w = webhookFields(body, true);
      if (this.webhooks.has(w.name))
        throw new DatadogHttpError(409, `A webhook named ${w.name} already exists`);
      const created = { encode_as: 'json' as const, custom_headers: null, payload: null, ...w } as SimWebhook;
      this.webhooks.set(created.name, created);
      return { status: 201, body: created };
    }
    const found = name === undefined ? undefined : this.webhooks.get(name);
    if (!found) throw new DatadogHttpError(404, 'Webhook not found');
    if (method === 'GET') return { status: 200, body: found };
    if (method === 'PUT') {
      const changes = webhookFields(body, false);
      const updated = { ...found, ...changes } as SimWebhook;
      this.webhooks.delete(found.name);
      this.webhooks.set(updated.name, updated);
      return { status: 200, body: updated };
    }
    if (method === 'DELETE') {
      this.webhooks.delete(found.name);
      return { status: 200 };
    }
    throw new DatadogHttpError(405, 'Method not allowed');
  }
}

function filtered<T extends { name: string; created: string }>(keys: T[], filter: string | null): T[] {
  const wanted = filter?.toLowerCase();
  return keys
    .filter((k) => !wanted || k.name.toLowerCase().includes(wanted))
    .sort((x, y) => x.created.localeCompare(y.created));
}

function page<T>(all: T[], q: URLSearchParams): T[] {
  const size = Number(q.get('page[size]') ?? 10);
  const number = Number(q.get('page[number]') ?? 0);
  if (!Number.isInteger(size) || size < 1 || size > 100 || !Number.isInteger(number) || number < 0)
    throw new DatadogHttpError(400, 'page[size] must be 1..100 and page[number] at least 0');
  return all.slice(number * size, (number + 1) * size);
}

function createName(body: unknown, type: string): string {
  const data = (body as { data?: { type?: unknown; attributes?: { name?: unknown } } } | null)?.data;
  if (data?.type !== type) throw new DatadogHttpError(400, `data.type must be '${type}'`);
  const name = data.attributes?.name;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200)
    throw new DatadogHttpError(400, 'data.attributes.name must be a non-empty string');
  return name;
}

function webhookFields(body: unknown, creating: boolean): Partial<SimWebhook> & { name: string } {
  if (typeof body !== 'object' || body === null) throw new DatadogHttpError(400, 'body must be an object');
  const b = body as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of ['name', 'url', 'custom_headers', 'payload'] as const) {
    const v = b[field];
    if (v === undefined) continue;
    if (typeof v !== 'string' && !(v === null && (field === 'custom_headers' || field === 'payload')))
      throw new DatadogHttpError(400, `${field} must be a string`);
    out[field] = v;
  }
  if (b.encode_as !== undefined) {
    if (b.encode_as !== 'json' && b.encode_as !== 'form')
      throw new DatadogHttpError(400, "encode_as must be 'json' or 'form'");
    out.encode_as = b.encode_as;
  }
  if (typeof out.custom_headers === 'string' && out.custom_headers !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(out.custom_headers);
    } catch {
      throw new DatadogHttpError(400, 'custom_headers must be a JSON object');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new DatadogHttpError(400, 'custom_headers must be a JSON object');
  }
  if (creating && (typeof out.name !== 'string' || typeof out.url !== 'string'))
    throw new DatadogHttpError(400, 'name and url are required');
  return out as Partial<SimWebhook> & { name: string };
}

/** The custom headers a webhook sends, parsed (empty when none). */
export function webhookHeaders(webhook: SimWebhook | undefined): Record<string, string> {
  if (!webhook?.custom_headers) return {};
  const parsed = JSON.parse(webhook.custom_headers) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}

const partialApiKey = (k: SimApiKey) => ({
  id: k.id,
  type: 'api_keys',
  attributes: {
    category: 'default',
    created_at: k.created,
    last4: last4(k.key),
    modified_at: k.created,
    name: k.name,
    remote_config_read_enabled: false,
  },
});
const fullApiKey = (k: SimApiKey) => ({
  ...partialApiKey(k),
  attributes: { ...partialApiKey(k).attributes, key: k.key },
});
const partialAppKey = (k: SimAppKey) => ({
  id: k.id,
  type: 'application_keys',
  attributes: { created_at: k.created, last4: last4(k.key), name: k.name, scopes: k.scopes },
});
const fullAppKey = (k: SimAppKey) => ({
  ...partialAppKey(k),
  attributes: { ...partialAppKey(k).attributes, key: k.key },
});
