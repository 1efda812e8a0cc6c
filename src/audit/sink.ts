import { type Clock, systemClock } from '../clock.js';
import { logPrebuilt } from '../log/prebuilt-line.js';
import type { Logger } from '../log.js';
import type { AuditStore } from '../store/state.js';
import { within } from '../time/deadline.js';
import { recordJson } from './chain.js';
import { AuditWriteTimeoutError } from './errors.js';
import type { AuditEvent, AuditRecord } from './records.js';

export type { AuditEvent } from './records.js';

/** Where audit events go, without waiting (secret loads, outcomes of interactions). */
export interface AuditSink {
  write(event: AuditEvent): void;
}

/** An audit sink that can also store an event and wait for it: for intents, before a side effect. */
export interface AuditTrail extends AuditSink {
  /** Resolves once `event` is stored; rejects when it could not be within `deadlineMs`. */
  record(event: AuditEvent, deadlineMs?: number): Promise<AuditRecord>;
}

/** How long an action with a side effect waits for its intent record (default). */
export const INTENT_DEADLINE_MS = 3_000;

/** Every audit log line carries `"audit":true`, so a log query can select them. */
const AUDIT_LINE = { audit: true };

/**
 * The audit trail: each event is appended to the hash-chained store and logged as one JSON line
 * carrying its sequence number and hash. An event the store cannot take is logged in full as an
 * error, with its actor (events hold no secret values), so it is not lost; {@link record} lets the
 * caller refuse the action instead.
 */
export class TrailAuditSink implements AuditTrail {
  constructor(
    private readonly audit: Pick<AuditStore, 'append'>,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  write(event: AuditEvent): void {
    this.record(event, Number.POSITIVE_INFINITY).catch(() => undefined);
  }

  record(event: AuditEvent, deadlineMs = INTENT_DEADLINE_MS): Promise<AuditRecord> {
    const stored = this.audit.append(event).then(
      (record) => {
        // The record's text from its chaining: no second serialization per record.
        logPrebuilt(this.log, recordJson(record), record.action, AUDIT_LINE);
        return record;
      },
      (error: unknown) => {
        this.#lost(event, error);
        throw error;
      },
    );
    if (!Number.isFinite(deadlineMs)) return stored;
    return within(this.clock, stored, deadlineMs, () => {
      const error = new AuditWriteTimeoutError(deadlineMs);
      this.log.error(
        { err: error, actor: event.actor, action: event.action, auditEvent: event },
        'an audit record was not stored in time; the action waiting for it was refused',
      );
      return error;
    });
  }

  #lost(event: AuditEvent, error: unknown): void {
    this.log.error(
      { err: error, actor: event.actor, action: event.action, auditEvent: event },
      'could not store an audit event; it is logged here in full instead',
    );
  }
}
