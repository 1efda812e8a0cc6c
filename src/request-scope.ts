import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What opsbot knows about the request being served, wherever the code runs: its id (for logs and
 * the apology a user sees) and which credential versions it used (for the audit record).
 */
export interface RequestScope {
  readonly requestId: string;
  /** `integration@versionId` of every credential used while serving this request. */
  readonly credentialVersions: Set<string>;
}

const storage = new AsyncLocalStorage<RequestScope>();

/** Runs `fn` inside a request scope; everything it awaits sees the same scope. */
export function runInRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

export function currentRequestScope(): RequestScope | undefined {
  return storage.getStore();
}

/** Notes that the current request used a credential version (no-op outside a request). */
export function noteCredentialUse(integration: string, versionId: string): void {
  const scope = storage.getStore();
  if (scope && scope.credentialVersions.size < 20)
    scope.credentialVersions.add(`${integration}@${versionId}`);
}
