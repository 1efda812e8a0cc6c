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
  /**
   * How it ended; `intent` is written (and stored) before an action with a side effect runs, and
   * its final record follows.
   */
  outcome: 'success' | 'denied' | 'error' | 'intent';
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
  /**
   * The version of the `audit` secret whose chain key made `hash` (HMAC-SHA256); absent when the
   * record was chained without a key (plain SHA-256).
   */
  keyVersion?: string;
  /**
   * The writer chain the record belongs to (README.md, "Audit trail"): on DynamoDB each process
   * chains its own records, numbered from one sequence shared by all. Absent: the single chain every
   * writer shared (SQLite, and DynamoDB trails written before writer chains).
   */
  chain?: string;
  /** The hash of the record before it in its chain (64 zeros for a chain's first record). */
  prevHash: string;
  /** HMAC-SHA256 (or SHA-256, unkeyed) over `prevHash` and the record's canonical JSON. */
  hash: string;
  /**
   * Only in query results, on a row that could not be read back (its hash is then empty): why, e.g.
   * `its record is not valid JSON`. Never stored.
   */
  unreadable?: string;
}

/**
 * What a reader following the trail needs of most records (`AuditStore.readBriefAfter`): who did
 * what, when, and how it ended, without the record's details, hashes or checks. A row that may not
 * read back as a record (its JSON is not valid, or its outcome is not one opsbot writes) comes back
 * with `unreadable` set (and outcome `error`): read it whole (`readAfter`), which says why.
 */
export interface AuditBrief extends Pick<AuditRecord, 'seq' | 'at' | 'actor' | 'action' | 'outcome'> {
  unreadable?: string;
}

/**
 * A row of the trail that cannot be read back as a record (invalid JSON, wrong types): queries show
 * it as such instead of failing, and verification reports a break at its sequence number.
 */
export interface UnreadableAuditRecord {
  seq: number;
  at: string;
  actor: string;
  action: string;
  /** Why it cannot be read, e.g. `its record is not valid JSON`. */
  unreadable: string;
}

/** A position in the chain: a record's sequence number and hash (the head, or an anchor). */
export interface AuditAnchor {
  seq: number;
  /** The full hash, or a prefix of at least 16 hex digits (as an admin pastes it). */
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

export interface VerifyOptions {
  /** The last anchor from the log: the trail must reach it, with this hash at its sequence number. */
  anchor?: AuditAnchor;
}

/** A run of consecutive records, e.g. the ones chained with a key that is no longer available. */
export interface RecordRange {
  from: number;
  to: number;
  count: number;
}

/** What verification found besides breaks: records it could not fully check, and why. */
export interface ChainCaveats {
  /** The last record read (undefined for an empty trail). */
  head?: AuditAnchor;
  /** Records chained without a key: they link up, but whoever can write the database could rewrite them. */
  unkeyed?: RecordRange[];
  /** The last record chained without a key: what `/opsbot audit --adopt-unkeyed` names. */
  lastUnkeyed?: AuditAnchor;
  /** The `audit.unkeyed_adopted` record (chained with the key) that adopted the unkeyed records. */
  adoptedAt?: number;
  /** Records chained with a key version opsbot no longer has: their links are checked, not their content. */
  unverifiable?: (RecordRange & { keyVersion: string })[];
  /** Writer chains seen (DynamoDB), and how many of their heads the cross-anchors in the trail vouched for. */
  chains?: { count: number; anchorsChecked: number };
}

export type ChainCheck =
  | ({ ok: true; checked: number } & ChainCaveats)
  | ({
      ok: false;
      checked: number;
      brokenAt: number;
      why: string;
      /** Set when the break is records chained without a key that no admin adopted (and only then). */
      unadopted?: RecordRange;
    } & ChainCaveats);
