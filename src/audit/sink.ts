import type { Logger } from '../log.js';
import type { AuditStore } from '../store/state.js';
import type { AuditEvent } from './records.js';

export type { AuditEvent } from './records.js';

/** Where audit events go. */
export interface AuditSink {
  write(event: AuditEvent): void;
}

/**
 * The audit trail: each event is appended to the hash-chained store and logged as one JSON line
 * carrying its sequence number and hash (so the log is an outside anchor for the chain). A store
 * failure is logged as an error and never breaks the action being audited.
 */
export class TrailAuditSink implements AuditSink {
  constructor(
    private readonly audit: Pick<AuditStore, 'append'>,
    private readonly log: Logger,
  ) {}

  write(event: AuditEvent): void {
    this.audit.append(event).then(
      (record) => this.log.info({ audit: true, ...record }, record.action),
      (error: unknown) =>
        this.log.error({ err: error, action: event.action }, 'could not store an audit event'),
    );
  }
}
