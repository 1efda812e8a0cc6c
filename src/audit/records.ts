/**
 * The audit trail's data: events as written, records as stored, queries and chain checks. Nothing
 * here imports anything, so the audit chain, the sinks and every State implementation can share
 * these types without depending on each other.
 */

/**
 * One audit record. It names who did what to which thing and how it ended; it never holds a secret
 * value (only names, ARNs and version ids).
 */
export interface AuditEvent {
  /** What happened, e.g. `secret.version_changed`, `gh:pr list`. */
  action: string;
  outcome: 'success' | 'denied' | 'error';
  /** ISO time; filled in by the store when absent. */
  at?: string;
  /** The Slack user, or `opsbot` for the bot's own actions. */
  actor: string;
  details: Record<string, string | number | boolean | undefined>;
}

/** An audit event as stored: numbered, timed, and chained to the one before it by hash. */
export interface AuditRecord extends AuditEvent {
  seq: number;
  at: string;
  /** The previous record's hash (64 zeros for the first record). */
  prevHash: string;
  /** sha256 over `prevHash` and the record's canonical JSON; any edit to a stored record breaks it. */
  hash: string;
}

export interface AuditQuery {
  actor?: string;
  /** An action or its command: `gh` matches `gh:pr list`. */
  command?: string;
  /** ISO time: only records at or after it. */
  since?: string;
  /** Newest first, at most this many (1–200, default 50). */
  limit?: number;
}

export type ChainCheck =
  | { ok: true; checked: number }
  | { ok: false; checked: number; brokenAt: number; why: string };
