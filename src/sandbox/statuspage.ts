import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StatusComponent {
  name: string;
  status: 'operational' | 'degraded' | 'outage';
}

/**
 * A simulated status-page service on 127.0.0.1, used by the test fixture that proves a new
 * integration is a module added and registered. `GET /v1/components` with `Authorization: Bearer
 * <apiKey>` answers `{ components: [...] }`; a key it does not hold is a 401; `limitNext` makes the
 * next call a 429 with Retry-After.
 */
export class SimulatedStatusPage {
  readonly components: StatusComponent[] = [
    { name: 'api', status: 'operational' },
    { name: 'web', status: 'degraded' },
  ];
  readonly calls: { status: number }[] = [];
  readonly #keys = new Set<string>();
  #limitSeconds: number | undefined;
  #server: Server | undefined;

  /** Accepts `key` from now on (what setting up or rotating the key does at the service). */
  addKey(key: string): void {
    this.#keys.add(key);
  }

  revokeKey(key: string): void {
    this.#keys.delete(key);
  }

  /** The next call is refused with 429 and this Retry-After. */
  limitNext(seconds: number): void {
    this.#limitSeconds = seconds;
  }

  async start(): Promise<{ url: string }> {
    this.#server = createServer((req, res) => {
      const key = /^Bearer (.{1,512})$/.exec(req.headers.authorization ?? '')?.[1];
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        this.calls.push({ status });
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'GET' || req.url !== '/v1/components') return send(404, { error: 'not_found' });
      if (key === undefined || !this.#keys.has(key)) return send(401, { error: 'invalid_api_key' });
      if (this.#limitSeconds !== undefined) {
        const seconds = this.#limitSeconds;
        this.#limitSeconds = undefined;
        return send(429, { error: 'rate_limited' }, { 'retry-after': String(seconds) });
      }
      send(200, { components: this.components });
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}` };
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
