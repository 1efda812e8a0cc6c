import type { Detection } from '../detection.js';
import { SECRETS_MANAGER_SERVICE, type SecretCall, WATCHED_CALLS } from './secret-call.js';

/** Secrets Manager's ARN of a secret: `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>[-XXXXXX]`. */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]*:\d{12}:secret:(.+)$/;
/** The random suffix Secrets Manager appends to a secret's name in its ARN. */
const ARN_SUFFIX = /-[A-Za-z0-9]{6}$/;

/**
 * Which of opsbot's secrets `secretId` names (`<prefix><name>`, its full ARN with the 6-character
 * suffix, or a partial ARN without it), or undefined. A name that is exactly one of opsbot's wins
 * over one read with a suffix taken off.
 */
export function ownSecretNamed(secretId: string, secretNames: readonly string[]): string | undefined {
  const arn = SECRET_ARN.exec(secretId);
  const name = arn ? (arn[1] as string) : secretId;
  if (secretNames.includes(name)) return name;
  if (!arn || !ARN_SUFFIX.test(name)) return undefined;
  const unsuffixed = name.slice(0, -7);
  return secretNames.includes(unsuffixed) ? unsuffixed : undefined;
}

const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/;
const SESSION_ARN = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/[\w+=,.@-]+$/;

/**
 * Whether `expected` (an entry of `security.expectedPrincipals`) covers the caller: the same ARN; a
 * role ARN covers its assumed-role sessions (the session's `sessionIssuer`, or, where the event
 * gives none, the session ARN's account and role name); `vault:role/<name>` covers Vault tokens
 * issued to that auth role.
 */
export function covers(
  expected: string,
  call: Pick<SecretCall, 'principal' | 'sessionIssuer' | 'vaultRole'>,
): boolean {
  if (expected === call.principal || (call.sessionIssuer !== undefined && expected === call.sessionIssuer))
    return true;
  if (expected.startsWith('vault:role/')) return call.vaultRole === expected.slice('vault:role/'.length);
  const role = ROLE_ARN.exec(expected);
  if (!role) return false;
  for (const arn of [call.principal, call.sessionIssuer]) {
    const session = arn === undefined ? null : (SESSION_ARN.exec(arn) ?? ROLE_ARN.exec(arn));
    if (session && session[1] === role[1] && session[2] === role[2] && session[3] === role[3]) return true;
  }
  return false;
}

export interface AccessRules {
  /** `security.expectedPrincipals`. */
  expectedPrincipals: readonly string[];
  /** With the `vault` source, `OPSBOT_VAULT_ROLE`: tokens issued to it are opsbot's own. */
  vaultRole?: string;
}

/** Is the caller one opsbot expects to touch its secrets? */
export function isExpected(call: SecretCall, rules: AccessRules): boolean {
  if (rules.vaultRole !== undefined && call.vaultRole === rules.vaultRole) return true;
  return rules.expectedPrincipals.some((expected) => covers(expected, call));
}

/** A `RotateSecret` Secrets Manager made itself, on the secret's rotation schedule. */
export function isScheduledRotation(call: SecretCall): boolean {
  return (
    call.eventName === 'RotateSecret' &&
    (call.invokedBy === SECRETS_MANAGER_SERVICE || call.principal === SECRETS_MANAGER_SERVICE)
  );
}

/**
 * The `secretAccess` detection for a call on one of opsbot's secrets (`secret`), or undefined when
 * it is not one: a call that reads or changes a value, by a principal not expected, and not a
 * scheduled rotation. Names and identities only, never a value.
 */
export function secretAccessDetection(
  call: SecretCall,
  secret: string,
  expected: boolean,
  evidence: readonly number[],
): Detection | undefined {
  if (expected || !WATCHED_CALLS.has(call.eventName) || isScheduledRotation(call)) return undefined;
  return {
    rule: 'secretAccess',
    key: `secretAccess:${call.eventId}`,
    title: `${call.eventName} on opsbot's secret ${secret} by a principal not in security.expectedPrincipals`,
    actor: call.principal,
    at: call.at,
    evidence: [...evidence],
    details: {
      eventName: call.eventName,
      secret,
      principal: call.principal,
      ...(call.sessionIssuer ? { sessionIssuer: call.sessionIssuer } : {}),
      ...(call.sourceIp ? { sourceIP: call.sourceIp } : {}),
      eventID: call.eventId,
      via: call.via,
    },
  };
}
