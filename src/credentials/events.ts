/**
 * What the credential provider reports as it happens: a secret loaded, a new version taken, an
 * emergency rotation. The provider only emits these; the app routes them (to the audit trail, see
 * `src/audit/credential-events.ts`), so credentials depend on no audit code.
 */
export interface CredentialEvent {
  action:
    | 'secret.loaded'
    | 'secret.version_changed'
    | 'secret.emergency_rotation'
    | 'secret.previous_revoked';
  /** Names, ARNs and version ids only: never a secret value. */
  details: Record<string, string | undefined>;
}

export interface CredentialEvents {
  emit(event: CredentialEvent): void;
}
