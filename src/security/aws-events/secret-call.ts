/**
 * One call on a secret, as CloudTrail (through EventBridge) or Vault's audit device reported it,
 * in the terms the endpoint stores and the detection reads. Names and identities only: neither
 * source carries a secret value here (CloudTrail logs no `SecretString`; Vault HMACs its fields).
 */
export interface SecretCall {
  via: 'cloudtrail' | 'vault';
  /** The dedupe id: the EventBridge event's `id`, or Vault's `request.id`. */
  id: string;
  /** CloudTrail's `eventID` (Vault: `request.id`): the detection's key. */
  eventId: string;
  /** `GetSecretValue`, `PutSecretValue`… or, for Vault, `vault:read`, `vault:write`, `vault:delete`. */
  eventName: string;
  /** The secret as the caller named it: a name, an ARN (with Secrets Manager's 6-character suffix), or a KV path. */
  secretId: string;
  /** The opsbot secret it names, when the parse already knows (a Vault KV path). */
  secretName?: string;
  /** Who: an IAM ARN (an `assumed-role` session, a user, root), an AWS service, or a Vault identity. */
  principal: string;
  /** The role an assumed-role session was made from (CloudTrail's `sessionContext.sessionIssuer.arn`). */
  sessionIssuer?: string;
  /** CloudTrail's `userIdentity.invokedBy` (an AWS service calling on someone's behalf). */
  invokedBy?: string;
  /** Vault: the auth method role the token was issued for (`auth.metadata.role`), from a login, not a token made by hand. */
  vaultRole?: string;
  sourceIp?: string;
  /** When (ISO 8601). */
  at: string;
}

/**
 * The Secrets Manager calls that read or change a value of opsbot's secrets, as CloudTrail names
 * them: what the stack's EventBridge rule sends (infra/lib/secret-events.ts) and the console's
 * `:event` can send.
 */
export const SECRETS_MANAGER_CALLS = [
  'GetSecretValue',
  'PutSecretValue',
  'UpdateSecretVersionStage',
  'DeleteSecret',
  'RotateSecret',
] as const;

/** Calls on opsbot's secrets that read or change a value: the ones worth a detection. */
export const WATCHED_CALLS: ReadonlySet<string> = new Set([
  ...SECRETS_MANAGER_CALLS,
  'vault:read',
  'vault:write',
  'vault:delete',
]);

/** Secrets Manager itself, when it starts a scheduled rotation. */
export const SECRETS_MANAGER_SERVICE = 'secretsmanager.amazonaws.com';

/** The longest text kept from an event field (ARNs are at most 2,048 characters). */
export const MAX_FIELD = 2_048;

/** A bounded string field, or undefined when the field is not a non-empty string. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value.slice(0, MAX_FIELD) : undefined;
}

/** A plain object field, or undefined. */
export function objectOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
