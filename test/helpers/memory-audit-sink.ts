import type { AuditEvent } from '../../src/audit/records.js';
import type { AuditSink } from '../../src/audit/sink.js';

/** Keeps events in memory (tests, benchmarks). Bounded: the oldest are dropped past `limit`. */
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
