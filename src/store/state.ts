import type { ChainKeys } from '../audit/chain.js';
import type {
  AuditAnchor,
  AuditBrief,
  AuditEvent,
  AuditQuery,
  AuditRecord,
  ChainCheck,
  VerifyOptions,
} from '../audit/records.js';

/**
 * What opsbot keeps between requests (README.md, "State"): small stores, one per concern, each
 * with the semantics below. Replicas share nothing else, so every implementation (SQLite now,
 * DynamoDB for scale-out) must pass the same contract suite (`test/contract/state-contract.ts`).
 *
 * Where a new store goes: declare its interface here with its semantics, add it to {@link State},
 * implement it in `sqlite-<store>.ts`, and add its cases to the contract suite.
 */
export interface State {
  audit: AuditStore;
  dedupe: DedupeStore;
  messages: MessageRefStore;
  outbox: OutboxStore;
  leases: LeaseStore;
  signals: SignalStore;
  /**
   * Whether other processes (replicas) share this store: a check that must hold across replicas
   * (a replayed Slack signature) goes through it only then. SQLite: false (one process); DynamoDB: true.
   */
  readonly shared: boolean;
  /** For /readyz: does the store answer? */
  ping(): Promise<boolean>;
  close(): void;
}

/**
 * The hash-chained audit trail: append-only, numbered without gaps (README.md, "Audit trail").
 * Each record is chained to the one before it with HMAC-SHA256 under the chain key of its
 * `keyVersion` (plain SHA-256 when no key is attached); a key change is itself a record
 * (`audit.key_rotated`), chained with the old key while it is known. Appends resolve once the
 * record is stored (durable), or reject; they never resolve for a record that was not stored.
 */
export interface AuditStore {
  /** Appends an event after the current tail; resolves with it as stored (`seq`, `at`, hashes). */
  append(event: AuditEvent): Promise<AuditRecord>;
  /** Newest first; filters combine. A row that cannot be read comes back with `unreadable` set. */
  query(query: AuditQuery): Promise<AuditRecord[]>;
  /**
   * The records after `afterSeq`, oldest first, at most `limit` (1–1,000): how a reader follows the
   * trail (detections tail it; an access review walks a window). Unreadable rows come back marked.
   */
  readAfter(afterSeq: number, limit: number): Promise<AuditRecord[]>;
  /**
   * The same records as {@link readAfter} (same bounds and order), each as its brief: seq, time,
   * actor, action and outcome, read without the rest of the record (the detections tail reads most
   * records so, and whole only those a rule needs). A row that may not be readable comes back with
   * `unreadable` set; `readAfter` says why.
   */
  readBriefAfter(afterSeq: number, limit: number): Promise<AuditBrief[]>;
  /**
   * The first sequence number whose record is at or after `iso` (undefined: none is), found by
   * bisection: records' times never go back along the chain by more than replicas' clocks differ.
   */
  firstSeqSince(iso: string): Promise<number | undefined>;
  /**
   * Walks the whole chain without holding the event loop: where was a record changed, removed,
   * inserted or made unreadable? The trail must also reach the anchor given (from the log) and
   * the last record this process stored, with the same hashes there: a trail cut short fails.
   */
  verify(options?: VerifyOptions): Promise<ChainCheck>;
  /** The last record stored (as read at start-up, then as written), or undefined when empty. */
  head(): (AuditAnchor & { keyVersion?: string }) | undefined;
  /** Could a record be stored now? A write probe bounded to a fraction of a second, for /readyz. */
  writable(): Promise<boolean>;
  /** Wiring (app.ts, before the first append): the chain keys, and who hears of each commit. */
  attach(wiring: AuditStoreWiring): void;
}

export interface AuditStoreWiring {
  /** The keys to chain with (none: plain SHA-256); appends wait while `ready()` returns a promise. */
  keys?: ChainKeys & { ready?(): Promise<void> | undefined };
  /** Called with the new head after each batch of records is stored (the log's anchor line). */
  onCommit?: (head: AuditAnchor) => void;
}

/**
 * Keys remembered for a while, each at most once (a webhook's dedupe key, a request signature
 * seen within Slack's 5-minute window). Idempotent put-if-absent: of any number of concurrent
 * puts of one key, exactly one returns true until the key expires.
 */
export interface DedupeStore {
  /** Records `key` for `ttlMs`; true when it was absent (or had expired), false when it is known. */
  putIfAbsent(key: string, ttlMs: number): Promise<boolean>;
}

/** A message opsbot posted, remembered under a key of its own (an alert cycle → its root message). */
export interface MessageRef {
  channel: string;
  ts: string;
  /** JSON the owner keeps with it (an alert root's state, a digest's entries); at most 32 KiB. */
  data?: string;
  /** Starts at 1; every successful compare-and-set adds 1. */
  version: number;
}

export interface MessageRefStore {
  get(key: string): Promise<MessageRef | undefined>;
  /**
   * Stores `ref` under `key` unless a live one is there. Returns the stored ref and whether this call
   * created it: of concurrent callers exactly one gets `created: true`, the others see its ref.
   */
  putIfAbsent(
    key: string,
    ref: Omit<MessageRef, 'version'>,
    ttlMs: number,
  ): Promise<{ created: boolean; ref: MessageRef }>;
  /**
   * Replaces the ref only if its stored version is `expectedVersion` (compare-and-set). Returns the
   * new ref (version + 1), or undefined when the key is absent or someone else changed it first.
   */
  compareAndSet(
    key: string,
    expectedVersion: number,
    ref: Omit<MessageRef, 'version'>,
  ): Promise<MessageRef | undefined>;
}

/** Work accepted durably now and done later by a worker (Datadog alerts waiting for Slack). */
export interface OutboxItem {
  /** The dedupe key: enqueueing the same id twice stores it once. */
  id: string;
  /** Which worker takes it (`alerts`). */
  topic: string;
  /** JSON the worker understands; at most 64 KiB. */
  payload: string;
  /** Failed deliveries so far. */
  attempts: number;
  /** Epoch ms: when it was enqueued, and when it may next be claimed. */
  createdAt: number;
  availableAt: number;
}

/**
 * What a report counts an outbox item by, kept beside its payload so that counting never reads or
 * parses payloads: its group (an alert's monitor id), its kind (the transition), a title (the one
 * of a group's item with the latest `at` is shown) and when it happened (epoch ms).
 */
export interface OutboxSummary {
  /** 1 to 512 characters. */
  group: string;
  /** 1 to 512 characters. */
  kind: string;
  /** At most {@link MAX_SUMMARY_TITLE_CHARS} characters. */
  title: string;
  at: number;
}

/** Longest summary title, in characters. */
export const MAX_SUMMARY_TITLE_CHARS = 1_000;

/** The counts of the newest items of one topic (see {@link OutboxStore.tally}). */
export interface OutboxTally {
  /** Items counted, with or without a summary: the `limit` newest when there were more. */
  read: number;
  /** Of the items with a summary: how many are not done. */
  open: number;
  /** The items with a summary, by group, in no particular order. */
  groups: Array<{
    group: string;
    /** The title of the group's item with the latest `at` (of equal ones, the newest enqueued). */
    title: string;
    at: number;
    /** How many of the group's items are of each kind. */
    kinds: Map<string, number>;
  }>;
}

/** What `enqueue` takes: an item as the caller describes it (see {@link OutboxStore.enqueue}). */
export interface NewOutboxItem {
  id: string;
  topic: string;
  payload: string;
  availableAt?: number;
  summary?: OutboxSummary;
  done?: boolean;
}

/** Where {@link OutboxStore.move} puts an item: its new topic and payload, and whether it is done. */
export interface OutboxMove {
  topic: string;
  /** JSON, at most 64 KiB, as for `enqueue`. */
  payload: string;
  done?: boolean;
}

export interface OutboxStore {
  /**
   * Adds an item unless one with its id exists (done or not); true when added. With `summary`,
   * {@link OutboxStore.tally} and {@link OutboxStore.history} count and find it without reading
   * its payload. With `done`, it is stored done: a record nobody works on (an alert no route
   * takes), never claimed, kept and then forgotten like any other done item.
   */
  enqueue(item: NewOutboxItem): Promise<boolean>;
  /**
   * Claims up to `limit` items of `topic` that are due and not claimed (or whose claim expired),
   * oldest first, for `owner` until `leaseMs` from now. An item is held by one owner at a time.
   * With `takeOver`, items another owner still holds are claimed too: for a caller that holds the
   * topic's lease (the only one working on it), taking over what a dead owner left, in order.
   */
  claim(
    topic: string,
    owner: string,
    limit: number,
    leaseMs: number,
    options?: { takeOver?: boolean },
  ): Promise<OutboxItem[]>;
  /** Marks a claimed item done (it is never claimed again); false if `owner` no longer holds it. */
  complete(id: string, owner: string): Promise<boolean>;
  /** Gives a claimed item back, due again at `availableAt`, with one more attempt counted. */
  release(id: string, owner: string, availableAt: number): Promise<boolean>;
  /**
   * Moves a claimed item to another topic with a new payload (an alert the intake function stored
   * goes to the topic of the channel the bot routes it to): if `owner` made the latest claim on it
   * and it is not done, it is stored under `to.topic`, unclaimed and due now, keeping its id, its
   * enqueue time, its attempts and its summary; with `to.done` it is stored done there instead (a
   * record, as `enqueue` stores one). Of concurrent moves, completions and releases of one item
   * exactly one succeeds; false for the others, and when `owner` no longer holds it.
   */
  move(id: string, owner: string, to: OutboxMove): Promise<boolean>;
  /** Items of `topic` not yet done (claimed or not). */
  pending(topic: string): Promise<number>;
  /**
   * Items of `topic` enqueued at or after `since` (epoch ms), done or not, newest first, at most
   * `limit` (1 to 10,000): what `/dd alerts` reports.
   */
  recent(topic: string, since: number, limit: number): Promise<Array<OutboxItem & { done: boolean }>>;
  /**
   * Counts the `limit` (1 to 10,000) newest items of `topic` enqueued at or after `since`, done or
   * not, by their summaries, without reading payloads: what `/dd alerts` reports. Reads a bounded
   * page at a time and yields the event loop between pages.
   */
  tally(topic: string, since: number, limit: number): Promise<OutboxTally>;
  /**
   * Items of `topic` in summary group `group` enqueued at or after `since`, done or not, the one
   * with the latest summary `at` first (of equal ones, the newest enqueued), at most `limit` (1 to
   * 100): what `/dd monitor` shows. Only the items returned have their payloads read.
   */
  history(
    topic: string,
    group: string,
    since: number,
    limit: number,
  ): Promise<Array<OutboxItem & { done: boolean }>>;
}

/** A named lease: one holder at a time, until it expires or is released. */
export interface Lease {
  name: string;
  owner: string;
  /** Epoch ms. */
  expiresAt: number;
}

/**
 * Counters that say "there is new work for this key" across replicas (an alert stored for a
 * channel): `bump` is one atomic increment that never conflicts, `read` one read of them all. A
 * reader that remembers the counters it saw knows which keys moved since, without polling each
 * key's work. Keys are few and fixed (channels); at most {@link MAX_SIGNAL_KEYS}.
 */
export interface SignalStore {
  bump(key: string): Promise<void>;
  read(): Promise<ReadonlyMap<string, number>>;
}

/** The most keys the signal store keeps (bumping one more is refused). */
export const MAX_SIGNAL_KEYS = 500;

export interface LeaseStore {
  /**
   * Takes `name` for `owner` for `ttlMs` if it is free, expired, or already held by `owner` (a
   * renewal). Returns the lease, or undefined when someone else holds it.
   */
  acquire(name: string, owner: string, ttlMs: number): Promise<Lease | undefined>;
  /** Lets go of the lease if `owner` holds it; true when it did. */
  release(name: string, owner: string): Promise<boolean>;
}
