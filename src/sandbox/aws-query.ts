import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readBody } from '../http/server.js';

/**
 * What the simulated AWS query-protocol services (STS, EC2) share: the request parsing
 * (`Action=…&Version=…`, `Name.N.Member` lists), SigV4 verification, XML writing, fault injection,
 * bounded logs, and the HTTP server that dispatches on the SigV4 credential scope's service.
 */

/** Request bodies over this many bytes are refused with 413. */
export const MAX_BODY_BYTES = 1_048_576;
/** At most this many form parameters in one request. */
const MAX_PARAMS = 20_000;
/** List indices (`InstanceId.N`) above this are ignored. */
const MAX_INDEX = 10_000;

export type AwsService = 'sts' | 'ec2';

/** An AWS error answer: `code` is what the SDK reports as `error.name`. */
export class AwsQueryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'AwsQueryError';
  }

  /** `Sender` for 4xx, `Receiver` for 5xx (the `<Type>` of an STS error). */
  get type(): 'Sender' | 'Receiver' {
    return this.status >= 500 ? 'Receiver' : 'Sender';
  }
}

/** The form parameters of one query-protocol request. */
export class QueryParams {
  readonly #map: Map<string, string>;

  constructor(map: Map<string, string>) {
    this.#map = map;
  }

  static parse(body: string, query = ''): QueryParams {
    const map = new Map<string, string>();
    for (const source of [query, body]) {
      for (const [key, value] of new URLSearchParams(source)) {
        if (map.size >= MAX_PARAMS) throw new AwsQueryError('InvalidParameterValue', 'Too many parameters');
        if (!map.has(key)) map.set(key, value);
      }
    }
    return new QueryParams(map);
  }

  get(name: string): string | undefined {
    return this.#map.get(name);
  }

  has(name: string): boolean {
    return this.#map.has(name);
  }

  get size(): number {
    return this.#map.size;
  }

  entries(): IterableIterator<[string, string]> {
    return this.#map.entries();
  }

  /** `prefix.1`, `prefix.2`, … in index order. */
  list(prefix: string): string[] {
    return [...this.#indexed(prefix, false).values()].map((m) => m.get('') ?? '');
  }

  /** `prefix.N.<rest>` as one QueryParams (of `<rest>`) per N, in index order. */
  structs(prefix: string): QueryParams[] {
    return [...this.#indexed(prefix, true).values()].map((m) => new QueryParams(m));
  }

  /** `prefix.<rest>` as QueryParams of `<rest>` (a nested structure such as `LaunchTemplate.`). */
  struct(prefix: string): QueryParams {
    const map = new Map<string, string>();
    const start = `${prefix}.`;
    for (const [key, value] of this.#map) if (key.startsWith(start)) map.set(key.slice(start.length), value);
    return new QueryParams(map);
  }

  #indexed(prefix: string, nested: boolean): Map<number, Map<string, string>> {
    const start = `${prefix}.`;
    const out = new Map<number, Map<string, string>>();
    for (const [key, value] of this.#map) {
      if (!key.startsWith(start)) continue;
      const rest = key.slice(start.length);
      const dot = rest.indexOf('.');
      const indexText = dot === -1 ? rest : rest.slice(0, dot);
      if (!/^[1-9]\d{0,4}$/.test(indexText)) continue;
      const index = Number(indexText);
      if (index > MAX_INDEX) continue;
      if (nested ? dot === -1 : dot !== -1) continue;
      const entry = out.get(index) ?? new Map<string, string>();
      entry.set(nested ? rest.slice(dot + 1) : '', value);
      out.set(index, entry);
    }
    return new Map([...out.entries()].sort((a, b) => a[0] - b[0]));
  }
}

// ---------------------------------------------------------------------------------------------
// SigV4

/** A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header. */
export interface SigV4Authorization {
  accessKeyId: string;
  /** `YYYYMMDD` from the credential scope. */
  scopeDate: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
  /** `x-amz-date` (or `date`) of the request, `YYYYMMDDTHHMMSSZ`. */
  amzDate: string | undefined;
  /** `x-amz-security-token`, when sent. */
  securityToken: string | undefined;
}

/** A request as read off the wire: what SigV4 signs. */
export interface RawRequest {
  method: string;
  /** Path as sent (still percent-encoded). */
  path: string;
  /** Query string as sent, without `?`. */
  query: string;
  /** Header values by lower-case name, in arrival order. */
  headers: Map<string, string[]>;
  body: Buffer;
}

export type AuthorizationProblem = { problem: 'missing' | 'incomplete'; message: string };

/** Parses the SigV4 Authorization header; a problem when there is none or it is malformed. */
export function parseAuthorization(request: RawRequest): SigV4Authorization | AuthorizationProblem {
  const header = request.headers.get('authorization')?.[0];
  if (!header) return { problem: 'missing', message: 'Request is missing Authentication Token' };
  const match = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(header.trim());
  if (!match?.[1]) {
    return {
      problem: 'incomplete',
      message: `Authorization header requires the AWS4-HMAC-SHA256 algorithm. Authorization=${header.slice(0, 40)}`,
    };
  }
  const fields = new Map<string, string>();
  for (const part of match[1].split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  for (const required of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!fields.get(required)) {
      return {
        problem: 'incomplete',
        message: `Authorization header requires '${required}' parameter. Authorization=${header.slice(0, 40)}`,
      };
    }
  }
  const scope = (fields.get('Credential') ?? '').split('/');
  if (scope.length !== 5 || scope.some((s) => s.length === 0)) {
    return {
      problem: 'incomplete',
      message: "Credential should be scoped to a valid region, a date, a service and 'aws4_request'.",
    };
  }
  const [accessKeyId, scopeDate, region, service, terminator] = scope as [
    string,
    string,
    string,
    string,
    string,
  ];
  const amzDate = request.headers.get('x-amz-date')?.[0] ?? httpDateToAmz(request.headers.get('date')?.[0]);
  const securityToken = request.headers.get('x-amz-security-token')?.[0];
  return {
    accessKeyId,
    scopeDate,
    region,
    service,
    terminator,
    signedHeaders: (fields.get('SignedHeaders') ?? '').split(';').filter(Boolean),
    signature: fields.get('Signature') ?? '',
    amzDate,
    securityToken,
  };
}

function httpDateToAmz(date: string | undefined): string | undefined {
  if (!date) return undefined;
  const ms = Date.parse(date);
  return Number.isFinite(ms)
    ? new Date(ms)
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d{3}/, '')
    : undefined;
}

/**
 * Why a signature cannot be right before any secret is used: a scope that does not match the
 * request (date, service, terminator) or a missing header. Undefined when the form is right.
 */
export function signatureFormProblem(auth: SigV4Authorization, service: AwsService): string | undefined {
  if (!auth.amzDate || !/^\d{8}T\d{6}Z$/.test(auth.amzDate)) {
    return "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.";
  }
  if (!auth.signedHeaders.includes('host')) {
    return "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";
  }
  if (auth.terminator !== 'aws4_request') {
    return `Credential should be scoped with a valid terminator: 'aws4_request', not '${auth.terminator}'.`;
  }
  if (auth.scopeDate !== auth.amzDate.slice(0, 8)) {
    return `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.scopeDate}' != '${auth.amzDate.slice(0, 8)}', from '${auth.amzDate}'.`;
  }
  if (auth.service !== service) return `Credential should be scoped to correct service: '${service}'.`;
  return undefined;
}

/** RFC 3986 encoding, as SigV4 wants it. */
function strictEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/** The SigV4 canonical request (non-S3: each path segment encoded once more). */
export function canonicalRequest(request: RawRequest, signedHeaders: string[]): string {
  const path = request.path.split('/').map(strictEncode).join('/') || '/';
  const query = request.query
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = eq === -1 ? pair : pair.slice(0, eq);
      const value = eq === -1 ? '' : pair.slice(eq + 1);
      return [strictEncode(safeDecode(key)), strictEncode(safeDecode(value))] as const;
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = [...signedHeaders].map((h) => h.toLowerCase()).sort();
  const headers = names
    .map((name) => {
      const values = request.headers.get(name) ?? [];
      return `${name}:${values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',')}\n`;
    })
    .join('');
  const payloadHash = createHash('sha256').update(request.body).digest('hex');
  return [request.method, path, query, headers, names.join(';'), payloadHash].join('\n');
}

/** The signature SigV4 gives `request` under `secretAccessKey` and the scope in `auth`. */
export function expectedSignature(
  request: RawRequest,
  auth: SigV4Authorization,
  secretAccessKey: string,
): string {
  const scope = `${auth.scopeDate}/${auth.region}/${auth.service}/${auth.terminator}`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    auth.amzDate ?? '',
    scope,
    createHash('sha256').update(canonicalRequest(request, auth.signedHeaders)).digest('hex'),
  ].join('\n');
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const kDate = hmac(`AWS4${secretAccessKey}`, auth.scopeDate);
  const kRegion = hmac(kDate, auth.region);
  const kService = hmac(kRegion, auth.service);
  const kSigning = hmac(kService, auth.terminator);
  return createHmac('sha256', kSigning).update(stringToSign).digest('hex');
}

/** True when `auth.signature` is what `secretAccessKey` gives this request (compared in constant time). */
export function signatureMatches(
  request: RawRequest,
  auth: SigV4Authorization,
  secretAccessKey: string,
): boolean {
  const expected = Buffer.from(expectedSignature(request, auth, secretAccessKey), 'utf8');
  const given = Buffer.from(auth.signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

// ---------------------------------------------------------------------------------------------
// XML

/** Escapes text content (never used in attributes); characters XML cannot hold become U+FFFD. */
export function xmlEscape(text: string): string {
  if (!/[&<>\p{Cc}\ufffe\uffff]/u.test(text)) return text;
  let out = '';
  for (const c of text) {
    const code = c.codePointAt(0) as number;
    if (c === '&') out += '&amp;';
    else if (c === '<') out += '&lt;';
    else if (c === '>') out += '&gt;';
    else if (
      (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) ||
      code === 0xfffe ||
      code === 0xffff
    )
      out += '\ufffd';
    else out += c;
  }
  return out;
}

/** `<name>escaped value</name>`; nothing when `value` is undefined. */
export function leaf(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  const text = xmlEscape(String(value));
  return text === '' ? `<${name}/>` : `<${name}>${text}</${name}>`;
}

/** `<name>…children (already XML)…</name>`. */
export function node(name: string, ...children: string[]): string {
  const inner = children.join('');
  return inner === '' ? `<${name}/>` : `<${name}>${inner}</${name}>`;
}

/** An EC2-style list: `<name><item>…</item>…</name>`. */
export function itemSet(name: string, items: string[]): string {
  return node(name, ...items.map((item) => node('item', item)));
}

/** ISO 8601 in whole seconds, as STS writes it: `2026-11-23T12:00:00Z`. */
export function isoSeconds(ms: number): string {
  return `${new Date(Math.floor(ms / 1_000) * 1_000).toISOString().slice(0, 19)}Z`;
}

// ---------------------------------------------------------------------------------------------
// Faults and bounded logs

/** An injected failure (or delay) for the next matching call(s). */
export interface QueryFault {
  /** Only this action (every action by default). */
  action?: string;
  /** The error code to answer, e.g. `Throttling`, `RequestLimitExceeded`, `InternalError`. None: only `delayMs`. */
  code?: string;
  /** HTTP status; by default 503 for RequestLimitExceeded/ServiceUnavailable/Unavailable, 500 for Internal*, else 400. */
  status?: number;
  message?: string;
  /** How many calls it applies to; default 1. */
  count?: number;
  /** Wait this long (real time) before answering. */
  delayMs?: number;
}

export function defaultFaultStatus(code: string): number {
  if (/^(RequestLimitExceeded|ServiceUnavailable|Unavailable|ServiceUnavailableException)$/.test(code))
    return 503;
  if (/^Internal/.test(code)) return 500;
  return 400;
}

/** Faults matched in the order they were added. */
export class FaultQueue {
  readonly #faults: Array<QueryFault & { left: number }> = [];

  add(fault: QueryFault): void {
    if (this.#faults.length >= 1_000) this.#faults.shift();
    this.#faults.push({ ...fault, left: fault.count ?? 1 });
  }

  clear(): void {
    this.#faults.length = 0;
  }

  /** Takes the first fault for `action`, if any (counting it down). */
  take(action: string): QueryFault | undefined {
    const index = this.#faults.findIndex((f) => (!f.action || f.action === action) && f.left > 0);
    if (index === -1) return undefined;
    const fault = this.#faults[index] as QueryFault & { left: number };
    fault.left -= 1;
    if (fault.left <= 0) this.#faults.splice(index, 1);
    return fault;
  }

  /** Applies a taken fault: waits, then throws its error (if it has a code). */
  static async apply(fault: QueryFault | undefined): Promise<void> {
    if (!fault) return;
    if (fault.delayMs) await new Promise((r) => setTimeout(r, Math.min(fault.delayMs ?? 0, 60_000)));
    if (fault.code) {
      throw new AwsQueryError(
        fault.code,
        fault.message ??
          (fault.code === 'RequestLimitExceeded' ? 'Request limit exceeded.' : 'Rate exceeded'),
        fault.status ?? defaultFaultStatus(fault.code),
      );
    }
  }
}

/** Pushes onto `log`, dropping the oldest entries beyond `max`. */
export function pushBounded<T>(log: T[], entry: T, max: number): void {
  log.push(entry);
  if (log.length > max) log.splice(0, log.length - max);
}

// ---------------------------------------------------------------------------------------------
// The server

/** One query-protocol request, parsed. */
export interface QueryRequest {
  raw: RawRequest;
  params: QueryParams;
  action: string;
  requestId: string;
  /** The SigV4 header, or why there is none. */
  auth: SigV4Authorization | AuthorizationProblem;
}

export interface QueryAnswer {
  status: number;
  xml: string;
}

/** A service behind a {@link QueryServer}. */
export interface QueryEndpoint {
  readonly service: AwsService;
  /** The API version its clients send (`Version=`). */
  readonly apiVersion: string;
  /** Answers a request (never throws). */
  answer(request: QueryRequest): Promise<QueryAnswer>;
  /** The error XML in this service's shape. */
  errorXml(error: AwsQueryError, requestId: string): string;
}

/**
 * An HTTP server on 127.0.0.1 for one or more query-protocol services, dispatched on the SigV4
 * credential scope's service (`…/us-east-1/sts/aws4_request`), else on `Version=`.
 */
export class QueryServer {
  readonly #endpoints: QueryEndpoint[];
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #url = '';

  constructor(endpoints: QueryEndpoint[]) {
    if (endpoints.length === 0) throw new Error('QueryServer: no endpoints');
    this.#endpoints = endpoints;
  }

  async start(port = 0, host = '127.0.0.1'): Promise<{ url: string }> {
    if (this.#server) return { url: this.#url };
    const server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    this.#server = server;
    this.#url = `http://${host}:${(server.address() as AddressInfo).port}`;
    return { url: this.#url };
  }

  get url(): string {
    return this.#url;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const headers = new Map<string, string[]>();
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = (req.rawHeaders[i] as string).toLowerCase();
      const values = headers.get(name) ?? [];
      values.push(req.rawHeaders[i + 1] as string);
      headers.set(name, values);
    }
    const partial: RawRequest = {
      method: req.method ?? 'GET',
      path: q === -1 ? rawUrl : rawUrl.slice(0, q),
      query: q === -1 ? '' : rawUrl.slice(q + 1),
      headers,
      body: Buffer.alloc(0),
    };
    const auth = parseAuthorization(partial);
    let endpoint = 'service' in auth ? this.#endpoints.find((e) => e.service === auth.service) : undefined;

    const body = await readBody(req, MAX_BODY_BYTES).catch(() => undefined);
    if (body === undefined) return void res.destroy();
    if (body === 'too_large') {
      const target = endpoint ?? (this.#endpoints[0] as QueryEndpoint);
      const error = new AwsQueryError('RequestEntityTooLarge', 'Request body too large', 413);
      return send(res, 413, target.errorXml(error, requestId), requestId, true);
    }
    const raw: RawRequest = { ...partial, body };
    let params: QueryParams;
    try {
      params = QueryParams.parse(
        (headers.get('content-type')?.[0] ?? '').includes('x-www-form-urlencoded') ||
          !headers.has('content-type')
          ? body.toString('utf8')
          : '',
        raw.query,
      );
    } catch (error) {
      const target = endpoint ?? (this.#endpoints[0] as QueryEndpoint);
      const e =
        error instanceof AwsQueryError ? error : new AwsQueryError('MalformedQueryString', 'Bad request');
      return send(res, e.status, target.errorXml(e, requestId), requestId);
    }
    const version = params.get('Version');
    endpoint ??= this.#endpoints.find((e) => e.apiVersion === version) ?? this.#endpoints[0];
    const target = endpoint as QueryEndpoint;
    if (raw.method !== 'POST' && raw.method !== 'GET') {
      const error = new AwsQueryError(
        'InvalidAction',
        `Method ${raw.method.slice(0, 10)} is not allowed.`,
        405,
      );
      return send(res, 405, target.errorXml(error, requestId), requestId);
    }
    const action = params.get('Action') ?? '';
    const answer = await target.answer({ raw, params, action, requestId, auth });
    send(res, answer.status, answer.xml, requestId);
  }
}

function send(res: ServerResponse, status: number, xml: string, requestId: string, close = false): void {
  res.writeHead(status, {
    'content-type': 'text/xml;charset=UTF-8',
    'content-length': Buffer.byteLength(xml),
    'x-amzn-requestid': requestId,
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(xml);
}

/** `<?xml …?>` header every answer starts with. */
export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';
