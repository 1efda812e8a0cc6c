import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

/** Vault's answer bodies are small JSON documents; anything bigger is refused, not buffered. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Per-request limit when the caller's signal does not end it sooner (a wedged socket). */
const REQUEST_TIMEOUT_MS = 2_500;
/** Vault's error strings are shown in logs and Slack: short, one line. */
const MAX_ERROR_CHARS = 300;

export interface VaultHttpOptions {
  /** `OPSBOT_VAULT_ADDR`, e.g. `https://vault.internal:8200`. */
  addr: string;
  /** `X-Vault-Namespace` on every request (Vault Enterprise / OpenBao namespaces). */
  namespace?: string;
  /** PEM of the CA(s) to trust instead of the system's (`OPSBOT_VAULT_CACERT`). */
  ca?: string;
  requestTimeoutMs?: number;
}

export interface VaultRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Below `/v1/`, e.g. `secret/metadata/opsbot/slack`. */
  path: string;
  /** The Vault token; never logged, never in an error. */
  token?: string;
  body?: unknown;
  signal?: AbortSignal;
}

export interface VaultResponse {
  status: number;
  /** The parsed JSON body (undefined for 204 or an empty body). */
  body: unknown;
}

/** Vault answered with an error status: `errors` are Vault's own messages (trimmed, never a token). */
export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    readonly errors: readonly string[],
  ) {
    super(`Vault answered ${status} on ${path}${errors.length ? `: ${errors.join('; ')}` : ''}`);
    this.name = 'VaultHttpError';
  }
}

/** Vault could not be reached or did not answer in time (refused, reset, DNS, TLS, timeout). */
export class VaultUnreachableError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Vault did not answer on ${path}: ${reason}`, options);
    this.name = 'VaultUnreachableError';
  }
}

/** The PEM file named by `OPSBOT_VAULT_CACERT`, read once at start-up (a clear error when it is missing). */
export function readCaFile(
  path: string,
  read: (p: string) => string = (p) => readFileSync(p, 'utf8'),
): string {
  let text: string;
  try {
    text = read(path);
  } catch (error) {
    throw new Error(
      `OPSBOT_VAULT_CACERT: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); mount the CA certificate (PEM) into the container or unset the variable`,
    );
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`OPSBOT_VAULT_CACERT: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return text;
}

/**
 * The HTTP side of Vault's API: JSON in and out under `/v1/`, the token and namespace headers, a
 * deadline on every request, bounded answers, keep-alive connections, a custom CA. Errors are typed
 * ({@link VaultHttpError}, {@link VaultUnreachableError}) and never carry the token.
 *
 * @example
 * const vault = new VaultHttp({ addr: 'https://vault.internal:8200', ca });
 * const { body } = await vault.request({ method: 'GET', path: 'secret/metadata/opsbot/slack', token });
 */
export class VaultHttp {
  readonly #base: URL;
  readonly #agent: http.Agent;
  readonly #client: typeof http | typeof https;
  readonly #namespace: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: VaultHttpOptions) {
    this.#base = new URL(options.addr.endsWith('/') ? options.addr : `${options.addr}/`);
    const tls = this.#base.protocol === 'https:';
    this.#client = tls ? https : http;
    this.#agent = tls
      ? new https.Agent({ keepAlive: true, maxSockets: 16, ...(options.ca ? { ca: options.ca } : {}) })
      : new http.Agent({ keepAlive: true, maxSockets: 16 });
    this.#namespace = options.namespace;
    this.#timeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  /** The server, for messages (no credentials are ever part of it). */
  get addr(): string {
    return this.#base.origin;
  }

  /** One request; resolves with 2xx answers, rejects with a typed error otherwise. */
  request(req: VaultRequest): Promise<VaultResponse> {
    const url = new URL(`v1/${req.path.replace(/^\/+/, '')}`, this.#base);
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (req.token) headers['x-vault-token'] = req.token;
    if (this.#namespace) headers['x-vault-namespace'] = this.#namespace;
    const shown = url.pathname.replace(/^\/v1\//, '');

    if (req.signal?.aborted) {
      return Promise.reject(new VaultUnreachableError(shown, 'the request was abandoned at its deadline'));
    }
    return new Promise<VaultResponse>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | undefined, value?: VaultResponse) => {
        if (settled) return;
        settled = true;
        req.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(value as VaultResponse);
      };
      const outgoing = this.#client.request(url, {
        method: req.method,
        headers,
        agent: this.#agent,
        timeout: this.#timeoutMs,
      });
      // First of all: a destroyed request emits 'error', which must never go unheard (a crash).
      outgoing.on('error', (error: NodeJS.ErrnoException) =>
        finish(new VaultUnreachableError(shown, error.code ?? error.message.slice(0, 120), { cause: error })),
      );
      const onAbort = () => {
        finish(new VaultUnreachableError(shown, 'the request was abandoned at its deadline'));
        outgoing.destroy();
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      outgoing.on('timeout', () => {
        outgoing.destroy();
        finish(new VaultUnreachableError(shown, `no answer within ${this.#timeoutMs} ms`));
      });
      outgoing.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy();
            finish(new VaultUnreachableError(shown, `answer larger than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (error: NodeJS.ErrnoException) =>
          finish(new VaultUnreachableError(shown, error.code ?? 'the answer was cut off', { cause: error })),
        );
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text.trim() === '' ? undefined : JSON.parse(text);
          } catch {
            body = undefined;
          }
          if (status >= 200 && status < 300) finish(undefined, { status, body });
          else finish(new VaultHttpError(status, shown, errorsOf(body, req.token)));
        });
      });
      outgoing.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Vault's `{"errors": [...]}`, one line each, bounded; a token echoed back is cut out. */
function errorsOf(body: unknown, token: string | undefined): string[] {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors.slice(0, 5).map((e) => {
    let text = String(e)
      .replace(/\s+/g, ' ')
      .replace(/^\d+ errors? occurred: \* /, '')
      .trim();
    if (token && text.includes(token)) text = text.split(token).join('[token]');
    return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
  });
}
