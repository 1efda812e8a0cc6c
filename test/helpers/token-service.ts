import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for an integration's API (GitHub, Jira…) on 127.0.0.1 that accepts only the bearer
 * tokens the test says it accepts right now: what a service does at the moment a credential rotates.
 */
export class TokenService {
  accepted = new Set<string>();
  readonly seen = { ok: 0, rejected: 0 };
  #server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const ok = token !== undefined && this.accepted.has(token);
      this.seen[ok ? 'ok' : 'rejected'] += 1;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { ok: true } : { ok: false, error: 'invalid_auth' }));
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

export class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/** Calls the service with `token` the way an integration client would; throws HttpStatusError on 4xx/5xx. */
export async function callWith(url: string, token: string): Promise<{ ok: true }> {
  const res = await fetch(`${url}/whoami`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new HttpStatusError(res.status);
  return (await res.json()) as { ok: true };
}
