import type { CredentialEvent, CredentialEvents } from '../credentials/events.js';
import type { AuditSink } from './sink.js';

/** Routes the credential provider's events to the audit trail as opsbot's own records. */
export function credentialEventsTo(audit: AuditSink): CredentialEvents {
  return {
    emit: (event: CredentialEvent) =>
      audit.write({ action: event.action, outcome: 'success', actor: 'opsbot', details: event.details }),
  };
}
