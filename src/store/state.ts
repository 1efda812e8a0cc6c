import type { AuditRecord, ChainCheck } from '../audit/chain.js';
import type { AuditEvent } from '../audit/sink.js';

export interface AuditQuery {
  actor?: string;
  /** An action or its command: `gh` matches `gh:pr list`. */
  command?: string;
  /** ISO time: only records at or after it. */
  since?: string;
  /** Newest first, at most this many (1–200, default 50). */
  limit?: number;
}

/**
 * What opsbot keeps between requests (DESIGN.md, "State"). Replicas share nothing else. This is the
 * audit part; the outbox, dedupe keys, message references and leases arrive with their issues.
 */
export interface State {
  /** Appends an event to the hash-chained audit trail; returns it as stored. */
  appendAudit(event: AuditEvent): Promise<AuditRecord>;
  queryAudit(query: AuditQuery): Promise<AuditRecord[]>;
  /** Recomputes the whole chain: where was a record changed, removed or inserted? */
  verifyAudit(): Promise<ChainCheck>;
  /** For /readyz: does the store answer? */
  ping(): Promise<boolean>;
  close(): void;
}
