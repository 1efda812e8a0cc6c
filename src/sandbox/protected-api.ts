import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SimulatedSecretsManager } from './secrets-manager.js';
import { CURRENT, PENDING } from './secrets-manager-store.js';

export interface ProtectedApiOptions {
  secrets: SimulatedSecretsManager;
  /** The secret whose value the API accepts, e.g. `opsbot/github`. */
  secretName: string;
  /** The JSON field holding the bearer token, e.g. `token`. */
  field: string;
  /**
   * Which versions are valid: `current` (the default: a stale token is refused the moment AWSCURRENT
   * moves), `current+pending` (the rotation's setSecret step has run), or `pending` (the service
   * already switched, the label has not moved yet).
   */
  accepts?: 'current' | 'current+pending' | 'pending';
}

/**
 * A simulated integration API on 127.0.0.1 that accepts exactly the credential a rotation leaves
 * valid. `GET /whoami` with `Authorization: Bearer <token>` answers 200 `{ ok, version }` or 401
 * `{ ok: false, error: 'invalid_auth' }`. It reads the simulated Secrets Manager directly, so there is
 * no window in which an old token still works.
 */
export class ProtectedApi {
  readonly counts = { accepted: 0, rejected: 0 };
  accepts: NonNullable<ProtectedApiOptions['accepts']>;
  #server: Server | undefined;

  constructor(private readonly options: ProtectedApiOptions) {
    this.accepts = options.accepts ?? 'current';
  }

  async start(): Promise<{ url: string }> {
    this.#server = createServer((req, res) => {
      const token = /^Bearer (.{1,4096})$/.exec(req.headers.authorization ?? '')?.[1];
      const version = token === undefined ? undefined : this.#versionOf(token);
      const ok = req.url === '/whoami' && version !== undefined;
      this.counts[ok ? 'accepted' : 'rejected'] += 1;
      res.writeHead(ok ? 200 : req.url === '/whoami' ? 401 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { ok: true, version } : { ok: false, error: 'invalid_auth' }));
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}` };
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  #versionOf(token: string): string | undefined {
    const stages =
      this.accepts === 'current' ? [CURRENT] : this.accepts === 'pending' ? [PENDING] : [CURRENT, PENDING];
    for (const stage of stages) {
      try {
        const { version } = this.options.secrets.store.get(this.options.secretName, { stage });
        const value = (JSON.parse(version.value) as Record<string, unknown>)[this.options.field];
        if (value === token) return version.id;
      } catch {
        // no such stage right now
      }
    }
    return undefined;
  }
}
