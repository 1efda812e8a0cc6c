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
