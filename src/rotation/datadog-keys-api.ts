import { systemClock } from '../clock.js';
import { abortable, deadlineSignal } from '../time/deadline.js';

/** How long one call to Datadog may take during a rotation. */
const CALL_TIMEOUT_MS = 10_000;
/** Keys listed per page, and the most pages read (10,000 keys): every list is bounded. */
const PAGE_SIZE = 100;
const MAX_PAGES = 100;
/** The most of Datadog's own error text quoted in an error (it never holds a key). */
const MAX_REASON = 200;

/** A key as Datadog lists it (`PartialAPIKey`, `PartialApplicationKey`): never its value. */
export interface ListedKey {
  id: string;
  name: string;
  last4: string;
}

/** A key just created (`FullAPIKey`, `FullApplicationKey`): its value is shown once. */
export interface CreatedKey {
  id: string;
  key: string;
}

/** A webhook of Datadog's Webhooks integration (`WebhooksIntegration`). */
export interface Webhook {
  name: string;
  url: string;
  /** A JSON object as a string, as Datadog keeps it; null or absent when none. */
  custom_headers?: string | null;
}

/** Datadog answered a rotation call with an error, or did not answer. Never holds a key. */
export class DatadogCallError extends Error {
  constructor(
    readonly what: string,
    /** Datadog's HTTP status; 0 when no answer came. */
    readonly status: number,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      status === 0
        ? `opsbot could not ${what} at Datadog: ${reason}`
        : `Datadog refused to ${what}: HTTP ${status}${reason ? ` (${reason})` : ''}`,
      options,
    );
    this.name = 'DatadogCallError';
  }
}

/**
 * The Datadog calls a rotation makes, in Datadog's documented wire format over `fetch` (the
 * rotation function does not load datadog-api-client: seconds and 90 MB for six routes). Keys go
 * in headers only; every call has a deadline; every list is paged and bounded.
 */
export class DatadogKeysApi {
  readonly #base: string;
  readonly #apiKey: string;
  readonly #appKey: string | undefined;

  /** `appKey` undefined: API-key-only calls (`validate`). */
  constructor(base: string, keys: { apiKey: string; appKey?: string }) {
    this.#base = base.replace(/\/$/, '');
    this.#apiKey = keys.apiKey;
    this.#appKey = keys.appKey;
  }

  /** `OPSBOT_DATADOG_API_URL`, else the API of the site (`https://api.datadoghq.eu`). */
  static baseUrl(endpoints: { datadogApiUrl?: string; datadogSite: string }): string {
    return endpoints.datadogApiUrl ?? `https://api.${endpoints.datadogSite}`;
  }

  async listApiKeys(nameFilter?: string): Promise<ListedKey[]> {
    return this.#list('list API keys', '/api/v2/api_keys', nameFilter);
  }

  /** An API key's value (Datadog shows API keys again; application keys only at creation). */
  async apiKeyValue(id: string): Promise<string | undefined> {
    const body = await this.#call<{ data?: { attributes?: { key?: string } } }>(
      'read an API key',
      'GET',
      `/api/v2/api_keys/${encodeURIComponent(id)}`,
    );
    return body?.data?.attributes?.key;
  }

  async createApiKey(name: string): Promise<CreatedKey> {
    const body = await this.#call('create an API key', 'POST', '/api/v2/api_keys', {
      data: { type: 'api_keys', attributes: { name } },
    });
    return created(body, 'create an API key');
  }

  /** Deletes an API key; true when it existed (a 404 means it is gone already). */
  async deleteApiKey(id: string): Promise<boolean> {
    return this.#delete('revoke an API key', `/api/v2/api_keys/${encodeURIComponent(id)}`);
  }

  async listMyApplicationKeys(nameFilter?: string): Promise<ListedKey[]> {
    return this.#list('list application keys', '/api/v2/current_user/application_keys', nameFilter);
  }

  async createMyApplicationKey(name: string, scopes: readonly string[]): Promise<CreatedKey> {
    const body = await this.#call(
      'create an application key',
      'POST',
      '/api/v2/current_user/application_keys',
      {
        data: { type: 'application_keys', attributes: { name, scopes } },
      },
    );
    return created(body, 'create an application key');
  }

  /** Deletes any user's application key (the org-wide route); true when it existed. */
  async deleteApplicationKey(id: string): Promise<boolean> {
    return this.#delete('revoke an application key', `/api/v2/application_keys/${encodeURIComponent(id)}`);
  }

  async getWebhook(name: string): Promise<Webhook> {
    const body = await this.#call<Webhook>('read the webhook', 'GET', webhookPath(name));
    if (!body || typeof body.name !== 'string')
      throw new DatadogCallError('read the webhook', 200, 'no webhook in the answer');
    return body;
  }

  async updateWebhookHeaders(name: string, customHeaders: string): Promise<void> {
    await this.#call('update the webhook', 'PUT', webhookPath(name), { custom_headers: customHeaders });
  }

  /** `GET /api/v1/validate`: true when Datadog accepts the API key. */
  async validate(): Promise<boolean> {
    const body = await this.#call<{ valid?: boolean }>('validate the API key', 'GET', '/api/v1/validate');
    return body?.valid === true;
  }

  /** An authenticated read (`GET /api/v1/monitor?page_size=1`): throws when Datadog refuses the pair. */
  async readOneMonitor(): Promise<void> {
    await this.#call('list monitors', 'GET', '/api/v1/monitor?page=0&page_size=1');
  }

  async #list(what: string, path: string, nameFilter?: string): Promise<ListedKey[]> {
    const keys: ListedKey[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const q = new URLSearchParams({ 'page[size]': String(PAGE_SIZE), 'page[number]': String(page) });
      if (nameFilter) q.set('filter', nameFilter);
      const body = await this.#call<{
        data?: { id?: unknown; attributes?: { name?: unknown; last4?: unknown } }[];
      }>(what, 'GET', `${path}?${q}`);
      const data = Array.isArray(body?.data) ? body.data : [];
      for (const k of data) {
        if (typeof k.id === 'string')
          keys.push({
            id: k.id,
            name: String(k.attributes?.name ?? ''),
            last4: String(k.attributes?.last4 ?? ''),
          });
      }
      if (data.length < PAGE_SIZE) break;
    }
    return keys;
  }

  async #delete(what: string, path: string): Promise<boolean> {
    try {
      await this.#call(what, 'DELETE', path);
      return true;
    } catch (error) {
      if (error instanceof DatadogCallError && error.status === 404) return false;
      throw error;
    }
  }

  async #call<T = unknown>(
    what: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T | undefined> {
    const deadline = deadlineSignal(
      systemClock,
      CALL_TIMEOUT_MS,
      new AbortController().signal,
      () => new DatadogCallError(what, 0, `no answer within ${CALL_TIMEOUT_MS / 1_000} s`),
    );
    try {
      const headers: Record<string, string> = { accept: 'application/json', 'dd-api-key': this.#apiKey };
      if (this.#appKey !== undefined) headers['dd-application-key'] = this.#appKey;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const exchange = async () => {
        const response = await fetch(`${this.#base}${path}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: deadline.signal,
        });
        const text = await response.text();
        return { status: response.status, text };
      };
      let answer: { status: number; text: string };
      try {
        answer = await abortable(exchange(), deadline.signal);
      } catch (error) {
        if (error instanceof DatadogCallError) throw error;
        throw new DatadogCallError(what, 0, networkReason(error), { cause: error });
      }
      if (answer.status < 200 || answer.status > 299)
        throw new DatadogCallError(what, answer.status, reasonOf(answer.text));
      if (answer.text === '') return undefined;
      try {
        return JSON.parse(answer.text) as T;
      } catch {
        throw new DatadogCallError(what, answer.status, 'the answer is not JSON');
      }
    } finally {
      deadline.cancel();
    }
  }
}

const webhookPath = (name: string) =>
  `/api/v1/integration/webhooks/configuration/webhooks/${encodeURIComponent(name)}`;

function created(body: unknown, what: string): CreatedKey {
  const data = (body as { data?: { id?: unknown; attributes?: { key?: unknown } } } | undefined)?.data;
  if (typeof data?.id !== 'string' || typeof data.attributes?.key !== 'string')
    throw new DatadogCallError(what, 200, 'the answer holds no key');
  return { id: data.id, key: data.attributes.key };
}

/** Datadog's `{"errors":[…]}`, shortened; nothing else of the body is quoted. */
function reasonOf(text: string): string {
  try {
    const errors = (JSON.parse(text) as { errors?: unknown }).errors;
    if (Array.isArray(errors))
      return errors
        .filter((e) => typeof e === 'string')
        .join('; ')
        .slice(0, MAX_REASON);
  } catch {
    // not JSON: no reason quoted
  }
  return '';
}

function networkReason(error: unknown): string {
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return `no answer (${typeof code === 'string' ? code : 'network error'})`;
}
