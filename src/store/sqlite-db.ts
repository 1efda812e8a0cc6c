import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { type BackoffPolicy, cappedExponentialDelay } from '../time/backoff.js';
import { StateBusyError, StateClosedError } from './errors.js';
import { PURGE_EVERY } from './limits.js';
import { FALLBACK_AUTOCHECKPOINT_PAGES, WalCheckpointer } from './wal-checkpointer.js';

/** Owner read and write only: the database, its -wal and -shm files hold the audit trail. */
export const DB_FILE_MODE = 0o600;

export interface SqliteDbOptions {
  path: string;
  /**
   * Longest synchronous wait on a lock per attempt (SQLite's busy timeout); default 0: a locked
   * database answers busy at once and the wait happens asynchronously, never on the event loop.
   */
  busyMs?: number;
  /** Longest total time an operation keeps retrying a locked database, asynchronously; default 2 s. */
  deadlineMs?: number;
}

/**
 * Between attempts on a locked database: 1 ms, doubling, at most 50 ms (and never past the
 * deadline), without jitter. Timed in real time (`Date.now`, a Node timer that keeps the process
 * alive until the write is done), not on the app's clock: the other process lets go in real time.
 */
export const BUSY_BACKOFF: BackoffPolicy = { baseMs: 1, capMs: 50 };

/** Commits after which a file's checkpoints move to a worker thread. */
export const CHECKPOINTER_AFTER_COMMITS = 256;

interface PendingWrite {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  deadlineMs: number;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * One SQLite file on Node's built-in driver, shared by the stores of {@link openSqliteState}.
 * node:sqlite is synchronous, so a lock held by another process must never become a wait on the
 * event loop (Slack needs its ack within 3 s; /healthz must answer at once): SQLite does not wait
 * on a lock itself (busy timeout 0), and {@link SqliteDb.write} retries a busy operation after
 * yielding to the event loop, until `deadlineMs`, then fails with {@link StateBusyError}. Many
 * operations waiting together cost microseconds per attempt, not a blocked loop.
 *
 * The file is created readable and writable by its owner only (0600), and so are its -wal and
 * -shm files (SQLite gives them the database's mode); an existing file with a wider mode is narrowed.
 */
export class SqliteDb {
  readonly db: DatabaseSync;
  readonly #deadlineMs: number;
  #batch: PendingWrite[] = [];
  #tx: Record<'begin' | 'commit' | 'savepoint' | 'release' | 'rollbackTo', StatementSync> | undefined;
  /** Commits left before the checkpointer starts (never, for a database in memory). */
  #untilCheckpointer: number;
  #checkpointer: WalCheckpointer | undefined;

  constructor(options: SqliteDbOptions) {
    if (options.path !== ':memory:') {
      mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
      restrictFile(options.path);
    }
    this.db = new DatabaseSync(options.path, { timeout: options.busyMs ?? 0 });
    this.#deadlineMs = options.deadlineMs ?? 2_000;
    this.#untilCheckpointer =
      options.path === ':memory:' ? Number.POSITIVE_INFINITY : CHECKPOINTER_AFTER_COMMITS;
    this.#retrySync(() => this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;'));
  }

  /**
   * A file that keeps being written gets its checkpoints from a worker thread
   * ({@link WalCheckpointer}) once it has seen {@link CHECKPOINTER_AFTER_COMMITS} commits: before
   * that (and for `:memory:`), SQLite's own checkpoints are cheap enough.
   */
  #committed(): void {
    if (--this.#untilCheckpointer > 0) return;
    // Started once, or never again after it could not be.
    this.#untilCheckpointer = Number.POSITIVE_INFINITY;
    const path = this.db.location();
    if (!path) return;
    try {
      this.#checkpointer = WalCheckpointer.start(path);
      this.db.exec(`PRAGMA wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    } catch {
      // No worker (a thread limit): SQLite goes on checkpointing in its commits, as before.
      this.#checkpointer?.stop();
      this.#checkpointer = undefined;
    }
  }

  /**
   * Runs `fn` (synchronous SQLite work) in a transaction (`BEGIN IMMEDIATE`), retrying it
   * asynchronously while the database is locked. `fn` must be safe to run again after a rollback.
   *
   * Group commit: writes asked for in the same turn of the event loop share one transaction (one
   * WAL commit instead of one each), each inside its own savepoint, so one failing `fn` rolls back
   * only its own work and rejects only its own promise. They run in the order they were asked for.
   */
  write<T>(fn: () => T, options: { deadlineMs?: number } = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#batch.length === 0) setImmediate(() => this.#flush());
      this.#batch.push({
        fn,
        resolve: resolve as (value: unknown) => void,
        reject,
        deadlineMs: options.deadlineMs ?? this.#deadlineMs,
      });
    });
  }

  #flush(): void {
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length === 0) return;
    const deadlineMs = Math.min(...batch.map((w) => w.deadlineMs));
    this.#retry(deadlineMs, () => this.#runBatch(batch)).then(
      (outcomes) => {
        for (const [i, w] of batch.entries()) {
          const outcome = outcomes[i] as Outcome;
          if (outcome.ok) w.resolve(outcome.value);
          else w.reject(outcome.error);
        }
      },
      (error: unknown) => {
        for (const w of batch) w.reject(error);
      },
    );
  }

  /** One transaction, one savepoint per write. A busy error anywhere retries the whole batch. */
  #runBatch(batch: readonly PendingWrite[]): Outcome[] {
    // Prepared once: parsing these on every write costs more than the writes themselves.
    this.#tx ??= {
      begin: this.db.prepare('BEGIN IMMEDIATE'),
      commit: this.db.prepare('COMMIT'),
      savepoint: this.db.prepare('SAVEPOINT opsbot_write'),
      release: this.db.prepare('RELEASE opsbot_write'),
      rollbackTo: this.db.prepare('ROLLBACK TO opsbot_write'),
    };
    const tx = this.#tx;
    tx.begin.run();
    try {
      const outcomes = batch.map((w): Outcome => {
        if (batch.length === 1) return { ok: true, value: w.fn() };
        tx.savepoint.run();
        try {
          const value = w.fn();
          tx.release.run();
          return { ok: true, value };
        } catch (error) {
          tx.rollbackTo.run();
          tx.release.run();
          if (isBusy(error)) throw error;
          return { ok: false, error };
        }
      });
      tx.commit.run();
      this.#committed();
      return outcomes;
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Runs a read, retrying asynchronously while the database is locked (rare in WAL mode). */
  async read<T>(fn: () => T, options: { deadlineMs?: number } = {}): Promise<T> {
    return this.#retry(options.deadlineMs ?? this.#deadlineMs, fn);
  }

  /** Writes what is still batched (once, no retry), then closes the file. */
  close(): void {
    if (!this.db.isOpen) return;
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length > 0) {
      try {
        const outcomes = this.#runBatch(batch);
        for (const [i, w] of batch.entries()) {
          const outcome = outcomes[i] as Outcome;
          if (outcome.ok) w.resolve(outcome.value);
          else w.reject(outcome.error);
        }
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    this.#checkpointer?.stop();
    this.db.close();
  }

  async #retry<T>(deadlineMs: number, fn: () => T): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      if (!this.db.isOpen) throw new StateClosedError('the state database');
      try {
        return fn();
      } catch (error) {
        if (!isBusy(error)) throw error;
        const left = deadlineMs - (Date.now() - started);
        if (left <= 0)
          throw new StateBusyError('the state database stayed locked by another process', { cause: error });
        const waitMs = Math.min(cappedExponentialDelay(attempt, BUSY_BACKOFF), left);
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  /** Start-up only (before anything is served): a short synchronous retry loop. */
  #retrySync(fn: () => void): void {
    const started = Date.now();
    for (;;) {
      try {
        fn();
        return;
      } catch (error) {
        if (!isBusy(error) || Date.now() - started >= this.#deadlineMs) throw error;
        sleepSync(5);
      }
    }
  }
}

/** Start-up only: waits without spinning (nothing is served yet, so blocking is harmless). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Creates the database file 0600 before SQLite opens it (SQLite would use the umask), and narrows
 * an existing database, -wal or -shm file that others may read.
 */
function restrictFile(path: string): void {
  if (!existsSync(path)) closeSync(openSync(path, 'a', DB_FILE_MODE));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file) && (statSync(file).mode & 0o777 & ~DB_FILE_MODE) !== 0)
      chmodSync(file, DB_FILE_MODE);
  }
}

/** SQLITE_BUSY (5) and SQLITE_LOCKED (6), with or without extended codes. */
export function isBusy(error: unknown): boolean {
  const code = (error as { errcode?: unknown } | undefined)?.errcode;
  return typeof code === 'number' && ((code & 0xff) === 5 || (code & 0xff) === 6);
}

/**
 * Creates a store's tables at start-up, synchronously. Another process writing the file at that
 * moment makes SQLite answer busy after its short busy timeout, so this retries for up to 2 s.
 */
export function createSchema(db: SqliteDb, sql: string): void {
  const started = Date.now();
  for (;;) {
    try {
      db.db.exec(sql);
      return;
    } catch (error) {
      if (!isBusy(error) || Date.now() - started >= 2_000) throw error;
      sleepSync(5);
    }
  }
}

/**
 * Returns a function to call inside each write: it runs `purge` on the first call and then once
 * every {@link PURGE_EVERY} calls, so deleting expired rows stays bounded and off most writes.
 */
export function purgeEvery(purge: () => void): () => void {
  let writes = 0;
  return () => {
    if (writes++ % PURGE_EVERY === 0) purge();
  };
}

/**
 * A start-up migration: adds the columns of `columns` (name → SQL type) that table `table` lacks,
 * then runs `backfill` (which fills them for the rows already there), all in one transaction.
 * Returns whether it added any. A table created with the columns is left as it is.
 */
export function addColumns(
  db: SqliteDb,
  table: string,
  columns: Record<string, string>,
  backfill: readonly string[] = [],
): boolean {
  const present = new Set(
    (db.db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as Array<{ name: string }>).map(
      (c) => c.name,
    ),
  );
  const missing = Object.entries(columns).filter(([name]) => !present.has(name));
  if (missing.length === 0) return false;
  try {
    createSchema(
      db,
      [
        'BEGIN IMMEDIATE;',
        ...missing.map(([name, type]) => `ALTER TABLE ${table} ADD COLUMN ${name} ${type};`),
        ...backfill.map((sql) => `${sql};`),
        'COMMIT;',
      ].join('\n'),
    );
  } catch (error) {
    if (db.db.isTransaction) db.db.exec('ROLLBACK');
    throw error;
  }
  return true;
}
