import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { parseAuthorization, type RawRequest } from './aws-query.js';
import { LoginRefused } from './vault-kubernetes.js';

/**
 * The simulated Vault's AWS IAM auth method (`builtin/credential/aws/path_login.go`): checks the
 * signed `sts:GetCallerIdentity` request a client sends as `iam_request_*`, replays it to STS
 * (moto or the simulated STS) with the Host it was signed for, and learns the caller's ARN from
 * STS's answer; then matches it to the role's bound principals.
 */

export const IAM_SERVER_ID_HEADER = 'X-Vault-AWS-IAM-Server-ID';
const GET_CALLER_IDENTITY = 'Action=GetCallerIdentity&Version=2011-06-15';
const STS_HOST = /^sts(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$/;
const MAX_STS_ANSWER = 64 * 1_024;
const STS_TIMEOUT_MS = 10_000;

export interface AwsRole {
  boundIamPrincipalArns: string[];
  policies: string[];
  ttlSeconds?: number;
  maxTtlSeconds?: number;
}

export interface AwsLoginBody {
  role?: unknown;
  iam_http_request_method?: unknown;
  iam_request_url?: unknown;
  iam_request_body?: unknown;
  iam_request_headers?: unknown;
}

export interface CallerIdentity {
  arn: string;
  userId: string;
  account: string;
}

const refuse = (message: string) => new LoginRefused(400, message);

function decode64(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw refuse(`missing ${field}`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw refuse(`failed to base64 decode ${field}`);
  }
  return Buffer.from(value, 'base64').toString('utf8');
}

/** `iam_request_headers`: base64 of a JSON object (or the object itself), values a string or strings. */
function parseHeaders(value: unknown): Map<string, string[]> {
  let object: unknown = value;
  if (typeof value === 'string') {
    try {
      object = JSON.parse(decode64(value, 'iam_request_headers'));
    } catch (error) {
      if (error instanceof LoginRefused) throw error;
      throw refuse('error parsing iam_request_headers: not base64-encoded JSON');
    }
  }
  if (object === null || typeof object !== 'object' || Array.isArray(object)) {
    throw refuse('missing iam_request_headers');
  }
  const headers = new Map<string, string[]>();
  for (const [name, v] of Object.entries(object)) {
    const values = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
    if (!values || values.some((x) => typeof x !== 'string')) {
      throw refuse(`error parsing iam_request_headers: header ${JSON.stringify(name)} is not a string`);
    }
    headers.set(name.toLowerCase(), [...(headers.get(name.toLowerCase()) ?? []), ...(values as string[])]);
  }
  if (headers.size === 0) throw refuse('missing iam_request_headers');
  return headers;
}

/** What Vault checks before it calls STS; the parsed request when it passes. */
export function checkIamRequest(
  body: AwsLoginBody,
  options: { stsEndpoint: string | undefined; serverId: string | undefined },
): { url: URL; body: string; headers: Map<string, string[]> } {
  const method = body.iam_http_request_method;
  if (typeof method !== 'string' || method === '') throw refuse('missing iam_http_request_method');
  if (method !== 'POST') throw refuse("invalid iam_http_request_method; currently only 'POST' is supported");
  let url: URL;
  try {
    url = new URL(decode64(body.iam_request_url, 'iam_request_url'));
  } catch (error) {
    if (error instanceof LoginRefused) throw error;
    throw refuse('error parsing iam_request_url');
  }
  const allowedHost = options.stsEndpoint ? new URL(options.stsEndpoint).host : undefined;
  if (!STS_HOST.test(url.hostname) && url.host !== allowedHost) {
    throw refuse(`invalid iam_request_url: ${JSON.stringify(url.host)} is not an STS endpoint`);
  }
  const requestBody = decode64(body.iam_request_body, 'iam_request_body');
  if (requestBody !== GET_CALLER_IDENTITY) {
    throw refuse(`invalid iam_request_body: only "${GET_CALLER_IDENTITY}" is allowed`);
  }
  const headers = parseHeaders(body.iam_request_headers);
  const raw: RawRequest = {
    method,
    path: url.pathname,
    query: url.search.slice(1),
    headers,
    body: Buffer.from(requestBody),
  };
  const auth = parseAuthorization(raw);
  if ('problem' in auth) throw refuse(`invalid iam_request_headers: ${auth.message}`);
  if (options.serverId !== undefined) {
    const given = headers.get(IAM_SERVER_ID_HEADER.toLowerCase())?.join(',') ?? '';
    const problem =
      given === ''
        ? `missing header "${IAM_SERVER_ID_HEADER}"`
        : given !== options.serverId
          ? `expected "${options.serverId}" but got "${given}"`
          : !auth.signedHeaders.includes(IAM_SERVER_ID_HEADER.toLowerCase())
            ? "vault header wasn't signed"
            : undefined;
    if (problem) throw refuse(`error validating ${IAM_SERVER_ID_HEADER} header: ${problem}`);
  }
  return { url, body: requestBody, headers };
}

/** Sends the signed request to `stsEndpoint` as Vault does (its Host kept) and reads the caller. */
export function callerIdentity(
  stsEndpoint: string,
  signed: { url: URL; body: string; headers: Map<string, string[]> },
): Promise<CallerIdentity> {
  const target = new URL(`${signed.url.pathname}${signed.url.search}`, stsEndpoint);
  const headers: Record<string, string[] | string> = {};
  for (const [name, values] of signed.headers) {
    if (name === 'content-length' || name === 'transfer-encoding' || name === 'connection') continue;
    headers[name] = values;
  }
  headers.host = signed.url.host;
  headers['content-length'] = String(Buffer.byteLength(signed.body));
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const upstream = (message: string) => reject(refuse(`error making upstream request: ${message}`));
    const req = send(target, { method: 'POST', headers, timeout: STS_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_STS_ANSWER) chunks.push(chunk);
      });
      res.on('error', (error) => upstream(`error reading STS response: ${error.message}`));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          return upstream(`received error code ${res.statusCode} from STS: ${text.slice(0, 2_048)}`);
        }
        const field = (name: string) =>
          new RegExp(`<GetCallerIdentityResult>[\\s\\S]*<${name}>([^<]*)</${name}>`).exec(text)?.[1];
        const arn = field('Arn');
        if (!arn) return upstream('error parsing STS response');
        resolve({ arn, userId: field('UserId') ?? '', account: field('Account') ?? '' });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout awaiting STS')));
    req.on('error', (error) => upstream(`error making request: ${error.message}`));
    req.end(signed.body);
  });
}

/** `arn:aws:sts::<acct>:assumed-role/<Role>/<session>` → `arn:aws:iam::<acct>:role/<Role>` (Vault's canonical ARN). */
export function canonicalArn(arn: string): string {
  const parts = arn.split(':');
  if (parts.length !== 6 || parts[0] !== 'arn' || (parts[2] !== 'iam' && parts[2] !== 'sts')) {
    throw refuse(`error parsing arn ${JSON.stringify(arn)}: unrecognized arn`);
  }
  const resource = (parts[5] as string).split('/');
  if (resource.length < 2) throw refuse(`error parsing arn ${JSON.stringify(arn)}: unrecognized arn`);
  const type = resource[0] as string;
  const name = type === 'assumed-role' ? (resource[1] as string) : (resource[resource.length - 1] as string);
  const canonicalType = type === 'assumed-role' ? 'role' : type;
  if (!['role', 'user', 'instance-profile'].includes(canonicalType)) {
    throw refuse(`error parsing arn ${JSON.stringify(arn)}: unrecognized principal type: "${type}"`);
  }
  return `arn:${parts[1]}:iam::${parts[4]}:${canonicalType}/${name}`;
}

/** The role's name Vault falls back on when the login names none: the caller's friendly name. */
export function friendlyName(arn: string): string {
  const resource = (arn.split(':')[5] ?? '').split('/');
  return (resource[0] === 'assumed-role' ? resource[1] : resource[resource.length - 1]) ?? '';
}

/** Does the caller belong to the role (exact canonical ARN, or a bound ARN ending in `*`)? */
export function boundTo(role: AwsRole, callerArn: string): boolean {
  const canonical = canonicalArn(callerArn);
  return role.boundIamPrincipalArns.some((bound) =>
    bound.endsWith('*') ? globMatches(bound, canonical) : bound === canonical,
  );
}

function globMatches(pattern: string, value: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return regex.test(value);
}
