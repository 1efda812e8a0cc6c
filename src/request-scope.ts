import { randomBytes } from 'node:crypto';

/**
 * What opsbot knows about the request being served: its id (for logs and the apology a user sees)
 * and which credential versions it used (for the audit record). Passed explicitly (no
 * AsyncLocalStorage: on Node 22 its promise hooks cost a seventh of the Slack path's CPU).
 */
export interface RequestScope {
  readonly requestId: string;
  /** `integration@versionId` of every credential used while serving this request. */
  readonly credentialVersions: Set<string>;
  /**
   * Set when the request runs because a second person approved it: their Slack user id. A session
   * opsbot assumes for the requester carries it as a session tag, so CloudTrail names both.
   */
  readonly approvedBy?: string;
}

/** Notes that a request used a credential version (bounded). */
export function noteCredentialUse(
  scope: RequestScope | undefined,
  integration: string,
  versionId: string,
): void {
  if (scope && scope.credentialVersions.size < 20)
    scope.credentialVersions.add(`${integration}@${versionId}`);
}

/** Random bytes drawn at a time for request ids (each id takes four). */
const ID_POOL_BYTES = 4_096;
let idPool = Buffer.alloc(0);
let idOffset = 0;

/**
 * A new request id: 8 hex digits (32 random bits), as a user quotes it back from an apology. Drawn
 * from a pool of random bytes refilled 4 KiB at a time: one per request, so it is on the hot path.
 *
 * @example
 * const requestId = newRequestId(); // '9f1c04ab'
 */
export function newRequestId(): string {
  if (idOffset + 4 > idPool.length) {
    idPool = randomBytes(ID_POOL_BYTES);
    idOffset = 0;
  }
  const id = idPool.toString('hex', idOffset, idOffset + 4);
  idOffset += 4;
  return id;
}
