import { EnvReader } from '../../src/config/env-reader.js';
import { readVaultSettings } from '../../src/config/vault-settings.js';

/**
 * Context `secretSource` and `vault`: where the bot reads its secrets (README.md, "Deploy it").
 * `aws` (the default): the stack creates the Secrets Manager secrets, their key and rotation.
 * `vault`: the stack creates none of that; the bot logs into HashiCorp Vault (or OpenBao) with the
 * task role through Vault's AWS IAM auth method, and reads KV v2:
 *
 * ```json
 * "secretSource": "vault",
 * "vault": { "addr": "https://vault.internal:8200", "role": "opsbot", "authMount": "aws", "kvMount": "secret", "namespace": "team-a", "iamServerId": "vault.internal", "port": 8200 }
 * ```
 *
 * `addr` and `role` are required; `port` (default: the addr's, else 443) is the task's egress to
 * Vault and must agree with the addr. Each value is checked by the bot's own reader of the
 * variable it becomes (src/config/vault-settings.ts), so what synth accepts, the bot accepts.
 */

export const SECRET_SOURCES = ['aws', 'vault'] as const;
export type SecretSourceName = (typeof SECRET_SOURCES)[number];

/** The Vault the deployed bot logs into, from context `vault`. */
export interface VaultDeployment {
  /** `https://…` only: a Vault token must not cross the network in clear. */
  addr: string;
  /** The AWS auth method's role, bound to the task role's ARN (the `TaskRoleArn` output). */
  role: string;
  authMount?: string;
  kvMount?: string;
  namespace?: string;
  iamServerId?: string;
  /** The TCP port the task's security group lets out to Vault. */
  port: number;
}

/** Each key of context `vault` that becomes a container variable. */
export const VAULT_VARIABLES = {
  addr: 'OPSBOT_VAULT_ADDR',
  role: 'OPSBOT_VAULT_ROLE',
  authMount: 'OPSBOT_VAULT_AUTH_MOUNT',
  kvMount: 'OPSBOT_VAULT_KV_MOUNT',
  namespace: 'OPSBOT_VAULT_NAMESPACE',
  iamServerId: 'OPSBOT_VAULT_IAM_SERVER_ID',
} as const;
type VariableKey = keyof typeof VAULT_VARIABLES;

const KEYS: readonly string[] = [...Object.keys(VAULT_VARIABLES), 'port'];
const SHAPE =
  'expected { "addr": "https://vault.internal:8200", "role": "opsbot" } (optional: "authMount", "kvMount", "namespace", "iamServerId", "port")';
/** Stand-ins for a missing or refused addr/role, so that the bot's reader reports only the others. */
const STAND_IN = { addr: 'https://vault.invalid', role: 'opsbot' } as const;

/** Reads context `secretSource` (default `aws`). */
export function readSecretSource(value: unknown, problems: string[]): SecretSourceName {
  if (value === undefined || value === null || value === '') return 'aws';
  const found = SECRET_SOURCES.find((s) => typeof value === 'string' && s === value.trim());
  if (found) return found;
  problems.push(
    `secretSource: expected "aws" (Secrets Manager secrets the stack creates) or "vault" (HashiCorp Vault or OpenBao, context "vault"), got ${JSON.stringify(value)}`,
  );
  return 'aws';
}

/**
 * Reads context `vault` (already parsed from JSON when `-c vault='{…}'` gave a string). Problems are
 * pushed to `problems`, each naming `vault.<key>` and what it expects.
 */
export function readVault(value: unknown, problems: string[]): VaultDeployment | undefined {
  if (value === undefined || value === null) {
    problems.push(`vault: required when secretSource is "vault"; ${SHAPE}`);
    return undefined;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`vault: ${SHAPE}`);
    return undefined;
  }
  const given = value as Record<string, unknown>;
  const before = problems.length;
  for (const key of Object.keys(given))
    if (!KEYS.includes(key)) problems.push(`vault.${key}: unknown key; ${SHAPE}`);

  const texts: Partial<Record<VariableKey, string>> = {};
  for (const key of Object.keys(VAULT_VARIABLES) as VariableKey[]) {
    const raw = given[key];
    if (raw === undefined || raw === null || raw === '') continue;
    if (typeof raw === 'string' && raw.trim() !== '') texts[key] = raw.trim();
    else problems.push(`vault.${key}: expected a string`);
  }

  let url: URL | undefined;
  if (texts.addr === undefined) {
    if (given.addr === undefined || given.addr === null || given.addr === '')
      problems.push('vault.addr: required: the Vault server, such as https://vault.internal:8200');
  } else {
    url = httpsUrl(texts.addr, problems);
    if (!url) delete texts.addr;
  }
  if (texts.role === undefined && (given.role === undefined || given.role === null || given.role === ''))
    problems.push(
      "vault.role: required: the AWS auth method's role for opsbot (bound to the task role's ARN), such as opsbot",
    );

  // The bot's own reader of these variables: the same parsers, so a value synth accepts starts the bot.
  const env: Record<string, string> = { OPSBOT_VAULT_AUTH: 'aws' };
  for (const key of Object.keys(VAULT_VARIABLES) as VariableKey[]) {
    const text = texts[key] ?? (key === 'addr' || key === 'role' ? STAND_IN[key] : undefined);
    if (text !== undefined) env[VAULT_VARIABLES[key]] = text;
  }
  const found: string[] = [];
  const settings = readVaultSettings(new EnvReader(env, found), env, found, () => {
    throw new Error('opsbot infra: the stack deploys OPSBOT_VAULT_AUTH=aws only (no VAULT_TOKEN)');
  });
  for (const problem of found) problems.push(asContextProblem(problem));

  const port = readPort(given.port, url, problems);
  if (!settings || !url || texts.role === undefined || port === undefined || problems.length > before)
    return undefined;
  return {
    addr: settings.addr,
    role: texts.role,
    ...(texts.authMount !== undefined ? { authMount: settings.authMount } : {}),
    ...(texts.kvMount !== undefined ? { kvMount: settings.kvMount } : {}),
    ...(settings.namespace ? { namespace: settings.namespace } : {}),
    ...(settings.iamServerId ? { iamServerId: settings.iamServerId } : {}),
    port,
  };
}

/** The container variables for the `vault` source: the stack's own, and the optional ones given. */
export function vaultEnvironment(vault: VaultDeployment): Record<string, string> {
  const env: Record<string, string> = {
    OPSBOT_VAULT_ADDR: vault.addr,
    OPSBOT_VAULT_AUTH: 'aws',
    OPSBOT_VAULT_ROLE: vault.role,
  };
  for (const key of ['authMount', 'kvMount', 'namespace', 'iamServerId'] as const) {
    const value = vault[key];
    if (value !== undefined) env[VAULT_VARIABLES[key]] = value;
  }
  return env;
}

/** The context key an `OPSBOT_VAULT_*` variable is set through, if any (`kvMount` …). */
export function vaultKeyOf(variable: string): string | undefined {
  return Object.entries(VAULT_VARIABLES).find(([, name]) => name === variable)?.[0];
}

/** An https URL without credentials; the value is echoed only when it cannot hold one. */
function httpsUrl(text: string, problems: string[]): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problems.push(`vault.addr: expected an https:// URL such as https://vault.internal:8200, ${shown(text)}`);
    return undefined;
  }
  if (url.username || url.password) {
    problems.push(
      'vault.addr: expected an https:// URL without user or password (opsbot logs in with the task role)',
    );
    return undefined;
  }
  if (url.protocol === 'http:') {
    problems.push(
      'vault.addr: http:// would carry Vault tokens and secrets across the network in clear; use https://',
    );
    return undefined;
  }
  if (url.protocol !== 'https:') {
    problems.push(`vault.addr: expected an https:// URL such as https://vault.internal:8200, ${shown(text)}`);
    return undefined;
  }
  return url;
}

/** `port`, or the addr's, or 443; a `port` the addr contradicts is refused. */
function readPort(raw: unknown, url: URL | undefined, problems: string[]): number | undefined {
  const fromAddr = url ? Number(url.port || 443) : undefined;
  if (raw === undefined || raw === null || raw === '') return fromAddr;
  const port =
    typeof raw === 'number'
      ? raw
      : typeof raw === 'string' && /^\d{1,5}$/.test(raw.trim())
        ? Number(raw)
        : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    problems.push(`vault.port: expected a TCP port from 1 to 65535, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  if (fromAddr !== undefined && port !== fromAddr) {
    problems.push(
      `vault.port: the addr reaches Vault on port ${fromAddr}, not ${port}; leave port out or make the two agree`,
    );
    return undefined;
  }
  return port;
}

/** `OPSBOT_VAULT_KV_MOUNT: expected …` → `vault.kvMount: expected …`. */
function asContextProblem(problem: string): string {
  const colon = problem.indexOf(':');
  const key = vaultKeyOf(problem.slice(0, colon));
  return key ? `vault.${key}${problem.slice(colon)}` : `vault: ${problem}`;
}

function shown(text: string): string {
  return text.includes('@')
    ? 'got a value (not shown: it contains "@")'
    : `got ${JSON.stringify(text.slice(0, 60))}`;
}
