import { objectOf, type SecretCall, text } from './secret-call.js';

/** At most this many audit entries in one forwarded body. */
export const MAX_VAULT_ENTRIES = 500;

/** A Vault request id (a UUID). */
const REQUEST_ID = /^[\w.:-]{1,128}$/;

export type VaultEntry = {
  id: string;
  operation: string;
  path: string;
  at: string;
  remoteAddress?: string;
  displayName?: string;
  metadata: Record<string, string>;
};

/** Does this JSON value look like a Vault audit-device entry (`type` request/response and a `request`)? */
export function isVaultEntry(value: unknown): boolean {
  const entry = objectOf(value);
  return (entry?.type === 'request' || entry?.type === 'response') && objectOf(entry.request) !== undefined;
}

/**
 * One line of Vault's file or socket audit device (JSON; HMAC'd fields are fine, none is read
 * as a value). Undefined when the line is not an audit entry with a request id, operation and path.
 */
export function parseVaultEntry(value: unknown): VaultEntry | undefined {
  const entry = objectOf(value);
  if (!entry || !isVaultEntry(entry)) return undefined;
  const request = objectOf(entry.request) ?? {};
  const id = request.id;
  const operation = text(request.operation);
  const path = text(request.path);
  if (typeof id !== 'string' || !REQUEST_ID.test(id) || !operation || !path) return undefined;
  const auth = objectOf(entry.auth) ?? {};
  const metadata: Record<string, string> = {};
  for (const [key, v] of Object.entries(objectOf(auth.metadata) ?? {}).slice(0, 50)) {
    const value = text(v);
    if (value) metadata[key.slice(0, 64)] = value.slice(0, 512);
  }
  const time = text(entry.time);
  const remoteAddress = text(request.remote_address);
  const displayName = text(auth.display_name);
  return {
    id,
    operation: operation.slice(0, 32),
    path,
    at: time && !Number.isNaN(Date.parse(time)) ? time : '',
    metadata,
    ...(remoteAddress ? { remoteAddress: remoteAddress.slice(0, 256) } : {}),
    ...(displayName ? { displayName: displayName.slice(0, 256) } : {}),
  };
}

/**
 * What a KV v2 request does to a secret under `<mount>/`: reading a value, writing one, deleting
 * versions or the whole secret. Metadata reads and lists (what opsbot's own polling does) reveal no
 * value and are not calls worth recording.
 */
function kvCall(operation: string, kind: string): string | undefined {
  if (kind === 'data') {
    if (operation === 'read') return 'vault:read';
    if (operation === 'create' || operation === 'update' || operation === 'patch') return 'vault:write';
    if (operation === 'delete') return 'vault:delete';
    return undefined;
  }
  if (kind === 'delete' || kind === 'destroy') return 'vault:delete';
  if (kind === 'undelete') return 'vault:write';
  if (kind === 'metadata') return operation === 'delete' ? 'vault:delete' : undefined;
  return undefined;
}

/**
 * The call a Vault audit entry records on one of `secretNames` (KV v2 paths `<kvMount>/data/<name>`
 * and the delete, destroy, undelete and metadata paths), or undefined when it is not about one.
 *
 * The identity: a token from the AWS auth method is its IAM principal (`auth.metadata.client_arn`,
 * covered by a role in `security.expectedPrincipals` like a CloudTrail session); one from another
 * auth method with a role (Kubernetes, JWT) is `vault:role/<role>`; anything else is
 * `vault:<display_name>` (`vault:token` for a token made by hand).
 */
export function vaultCallOf(
  entry: VaultEntry,
  opts: { kvMount: string; secretNames: readonly string[]; receivedAt: string },
): SecretCall | undefined {
  const prefix = `${opts.kvMount}/`;
  if (!entry.path.startsWith(prefix)) return undefined;
  const rest = entry.path.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return undefined;
  const kind = rest.slice(0, slash);
  const name = rest.slice(slash + 1);
  if (!opts.secretNames.includes(name)) return undefined;
  const eventName = kvCall(entry.operation, kind);
  if (!eventName) return undefined;
  const clientArn = entry.metadata.client_arn ?? entry.metadata.canonical_arn;
  const madeByHand = entry.displayName === undefined || entry.displayName.startsWith('token');
  const role = madeByHand ? undefined : entry.metadata.role;
  const principal = clientArn
    ? clientArn
    : role
      ? `vault:role/${role}`
      : `vault:${entry.displayName ?? 'anonymous'}`;
  const canonical = entry.metadata.canonical_arn;
  return {
    via: 'vault',
    id: entry.id,
    eventId: entry.id,
    eventName,
    secretId: entry.path,
    secretName: name,
    principal,
    ...(canonical && canonical !== principal ? { sessionIssuer: canonical } : {}),
    ...(role ? { vaultRole: role } : {}),
    ...(entry.remoteAddress ? { sourceIp: entry.remoteAddress } : {}),
    at: entry.at || opts.receivedAt,
  };
}
