import type { SecretValue } from '../log/secret-value.js';
import { type EnvReader, nonEmpty } from './env-reader.js';
import { excerpt, type Parsed, parseEnum, parseHttpUrl } from './parsers.js';

export const VAULT_AUTH_METHODS = ['aws', 'kubernetes', 'token'] as const;
export type VaultAuthMethod = (typeof VAULT_AUTH_METHODS)[number];

/** Where a pod's projected service-account token is mounted (Kubernetes' default). */
export const DEFAULT_K8S_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * The `vault` secret source's settings (`OPSBOT_VAULT_*`): the server, how opsbot logs in, and where
 * its KV v2 secrets are. `token` is read only for `OPSBOT_VAULT_AUTH=token` (`VAULT_TOKEN`, a static
 * credential for development).
 */
export interface VaultSettings {
  addr: string;
  auth: VaultAuthMethod;
  /** The auth method's role; required for `aws` and `kubernetes`. */
  role?: string;
  /** Where the auth method is mounted (`aws` / `kubernetes` unless set). */
  authMount: string;
  kvMount: string;
  namespace?: string;
  /** The `X-Vault-AWS-IAM-Server-ID` value, signed into the login request. */
  iamServerId?: string;
  /** A PEM file of the CA(s) to trust for the server's certificate. */
  caCertFile?: string;
  k8sTokenFile: string;
  token?: SecretValue<string>;
}

/** A mount or namespace path: segments of letters, digits and `_-.`, no leading or trailing `/`. */
function parseVaultPath(what: string) {
  return (text: string): Parsed<string> => {
    const value = text.trim().replace(/^\/+|\/+$/g, '');
    const segments = value.split('/');
    return /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(value) &&
      value.length <= 200 &&
      !segments.some((s) => /^\.+$/.test(s))
      ? { ok: true, value }
      : { ok: false, expected: `a Vault ${what} path such as ${what === 'namespace' ? 'team-a' : 'secret'}` };
  };
}

function parseRoleName(text: string): Parsed<string> {
  const value = text.trim();
  return /^[A-Za-z0-9_.@-]{1,128}$/.test(value)
    ? { ok: true, value }
    : { ok: false, expected: 'a Vault role name (letters, digits and _.@-), such as opsbot' };
}

function parseServerId(text: string): Parsed<string> {
  const value = text.trim();
  return /^[\x21-\x7e]{1,255}$/.test(value)
    ? { ok: true, value }
    : { ok: false, expected: `a header value of printable characters, got "${excerpt(value)}"` };
}

/**
 * Reads `OPSBOT_VAULT_*` for `OPSBOT_SECRET_SOURCE=vault`, adding one line per problem; `makeToken`
 * wraps `VAULT_TOKEN` (never echoed).
 */
export function readVaultSettings(
  read: EnvReader,
  env: Record<string, string | undefined>,
  problems: string[],
  makeToken: (text: string) => SecretValue<string>,
): VaultSettings | undefined {
  const addr = read.optional('OPSBOT_VAULT_ADDR', parseHttpUrl);
  if (addr === undefined && nonEmpty(env.OPSBOT_VAULT_ADDR) === undefined) {
    problems.push(
      'OPSBOT_VAULT_ADDR: required when OPSBOT_SECRET_SOURCE=vault (the server, e.g. https://vault.internal:8200)',
    );
  }
  const auth = read.parsed('OPSBOT_VAULT_AUTH', 'aws', (t) => parseEnum(t, VAULT_AUTH_METHODS));
  const role = read.optional('OPSBOT_VAULT_ROLE', parseRoleName);
  if ((auth === 'aws' || auth === 'kubernetes') && role === undefined && !nonEmpty(env.OPSBOT_VAULT_ROLE)) {
    problems.push(
      `OPSBOT_VAULT_ROLE: required when OPSBOT_VAULT_AUTH=${auth} (the ${auth} auth method's role for opsbot, e.g. opsbot)`,
    );
  }
  const authMount = read.optional('OPSBOT_VAULT_AUTH_MOUNT', parseVaultPath('mount'));
  const kvMount = read.parsed('OPSBOT_VAULT_KV_MOUNT', 'secret', parseVaultPath('mount'));
  const namespace = read.optional('OPSBOT_VAULT_NAMESPACE', parseVaultPath('namespace'));
  const iamServerId = read.optional('OPSBOT_VAULT_IAM_SERVER_ID', parseServerId);
  const caCertFile = nonEmpty(env.OPSBOT_VAULT_CACERT);
  const k8sTokenFile = nonEmpty(env.OPSBOT_VAULT_K8S_TOKEN_FILE) ?? DEFAULT_K8S_TOKEN_FILE;
  const tokenText = nonEmpty(env.VAULT_TOKEN);
  if (auth === 'token' && tokenText === undefined) {
    problems.push(
      'VAULT_TOKEN: required when OPSBOT_VAULT_AUTH=token (development only; use aws or kubernetes in production)',
    );
  }
  if (!addr || !auth || !kvMount || (auth !== 'token' && !role) || (auth === 'token' && !tokenText)) {
    return undefined;
  }
  return {
    addr,
    auth,
    ...(role ? { role } : {}),
    authMount: authMount ?? (auth === 'token' ? 'token' : auth),
    kvMount,
    ...(namespace ? { namespace } : {}),
    ...(iamServerId ? { iamServerId } : {}),
    ...(caCertFile ? { caCertFile } : {}),
    k8sTokenFile,
    ...(auth === 'token' && tokenText ? { token: makeToken(tokenText) } : {}),
  };
}

/** The start-up warnings the settings call for (a static token; plain http off the loopback). */
export function vaultWarnings(settings: VaultSettings): string[] {
  const warnings: string[] = [];
  if (settings.auth === 'token') {
    warnings.push(
      "OPSBOT_VAULT_AUTH=token: opsbot logs into Vault with VAULT_TOKEN, a static credential; use it for development only (OPSBOT_VAULT_AUTH=aws or kubernetes logs in with the task's identity)",
    );
  }
  const url = new URL(settings.addr);
  if (url.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    warnings.push(
      `OPSBOT_VAULT_ADDR is plain http to ${url.host}: Vault tokens and secrets would cross the network unencrypted; use https://`,
    );
  }
  return warnings;
}
