import type { Logger } from '../log.js';
import type { State } from '../store/state.js';

/**
 * One audit record. It names who did what to which thing and how it ended; it never holds a secret
 * value (only names, ARNs and version ids).
 */
export interface AuditEvent {
  /** What happened, e.g. `secret.version_changed`, `command.run`. */
  action: string;
  outcome: 'success' | 'denied' | 'error';
  /** ISO time; filled in by the sink when absent. */
  at?: string;
  /** The Slack user, or `opsbot` for the bot's own actions. */
  actor: string;
  details: Record<string, string | number | boolean | undefined>;
}

/** Where audit events go. The audit-trail issue adds a durable, queryable sink in the state store. */
export interface AuditSink {
  write(event: AuditEvent): void;
}

/** Writes each event as one JSON log line marked `audit: true` (CloudWatch keeps them). */
export class LogAuditSink implements AuditSink {
  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  write(event: AuditEvent): void {
    this.log.info(
      { audit: true, ...event, at: event.at ?? new Date(this.now()).toISOString() },
      event.action,
    );
  }
}

/** Keeps events in memory (tests, the console). Bounded: the oldest are dropped past `limit`. */
export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];

  constructor(
    private readonly limit = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  write(event: AuditEvent): void {
    this.events.push({ ...event, at: event.at ?? new Date(this.now()).toISOString() });
    if (this.events.length > this.limit) this.events.splice(0, this.events.length - this.limit);
  }
}

/**
 * The audit trail: each event is appended to the hash-chained store and logged as one JSON line
 * carrying its sequence number and hash (so the log is an outside anchor for the chain). A store
 * failure is logged as an error and never breaks the action being audited.
 */
export class TrailAuditSink implements AuditSink {
  constructor(
    private readonly state: Pick<State, 'appendAudit'>,
    private readonly log: Logger,
  ) {}

  write(event: AuditEvent): void {
    this.state.appendAudit(event).then(
      (record) => this.log.info({ audit: true, ...record }, record.action),
      (error: unknown) =>
        this.log.error({ err: error, action: event.action }, 'could not store an audit event'),
    );
  }
}
