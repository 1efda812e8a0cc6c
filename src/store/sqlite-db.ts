import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { PURGE_EVERY } from './limits.js';

/** The store answered "busy" for longer than a caller may wait; the operation did not happen. */
export class StateBusyError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('the state database stayed locked by another process; the operation was not done', options);
    this.name = 'StateBusyError';
  }
}

export interface SqliteDbOptions {
  path: string;
  /** Longest synchronous wait on a lock per attempt (SQLite's busy timeout); default 10 ms. */
  busyMs?: number;
  /** Longest total time an operation keeps retrying a locked database, asynchronously; default 2 s. */
  deadlineMs?: number;
}

/**
 * One SQLite file on Node's built-in driver, shared by the stores of {@link openSqliteState}.
 * node:sqlite is synchronous, so a lock held by another process must never become a wait of
 * seconds on the event loop (Slack needs its ack within 3 s): SQLite waits at most `busyMs`
 * synchronously, and {@link SqliteDb.write} retries a busy operation after yielding to the event
 * loop, until `deadlineMs`, then fails with {@link StateBusyError}.
 */
export class SqliteDb {
  readonly db: DatabaseSync;
  readonly #deadlineMs: number;

  constructor(options: SqliteDbOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
    this.db = new DatabaseSync(options.path, { timeout: options.busyMs ?? 10 });
    this.#deadlineMs = options.deadlineMs ?? 2_000;
    this.#retrySync(() => this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;'));
  }

  /**
   * Runs `fn` (synchronous SQLite work) in one transaction (`BEGIN IMMEDIATE`), retrying it
   * asynchronously while the database is locked. `fn` must be safe to run again after a rollback.
   */
  async write<T>(fn: () => T): Promise<T> {
    return this.#retry(() => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = fn();
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.isTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  /** Runs a read, retrying asynchronously while the database is locked (rare in WAL mode). */
  async read<T>(fn: () => T): Promise<T> {
    return this.#retry(fn);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  async #retry<T>(fn: () => T): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return fn();
      } catch (error) {
        if (!isBusy(error)) throw error;
        if (Date.now() - started >= this.#deadlineMs) throw new StateBusyError({ cause: error });
        await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 ** attempt)));
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
      }
    }
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
