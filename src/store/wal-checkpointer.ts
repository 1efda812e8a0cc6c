import { Worker } from 'node:worker_threads';

/** How often the worker copies the write-ahead log into the database file. */
export const CHECKPOINT_EVERY_MS = 500;
/**
 * The writer's own automatic checkpoint, kept as a fallback (pages of WAL, 4 KiB each): far above
 * what the worker lets the log reach, so it only runs if the worker is gone.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 16_000;

/**
 * The worker's code, plain JavaScript (it runs the same whether opsbot runs compiled, under tsx or
 * under the test runner): its own connection to the file, a PASSIVE checkpoint every `everyMs`
 * (never waits on a lock, never blocks the writer), and a last one before it closes on `stop`.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path, { timeout: 0 });
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const run = () => { try { checkpoint.get(); } catch {} };
const timer = setInterval(run, workerData.everyMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  run();
  try { db.close(); } catch {}
  parentPort.close();
});
`;

/**
 * Copies a WAL-mode SQLite file's write-ahead log into the database from a worker thread. SQLite
 * otherwise checkpoints inside whichever commit crosses its threshold, on the event loop: copying
 * the pages and syncing the file there cost the audit trail about a quarter of its write time per
 * record (`npm run bench -- slack`). The writer's own automatic checkpoint stays on as a fallback,
 * at a threshold the worker keeps the log from reaching.
 *
 * @example
 * const checkpointer = WalCheckpointer.start('/var/lib/opsbot/state.db');
 * db.exec(`PRAGMA wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
 * // …on close, before the writer's own connection:
 * checkpointer.stop();
 */
export class WalCheckpointer {
  readonly #worker: Worker;
  #stopped = false;

  private constructor(worker: Worker) {
    this.#worker = worker;
  }

  static start(path: string, everyMs = CHECKPOINT_EVERY_MS): WalCheckpointer {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path, everyMs },
      // node:sqlite's experimental warning, once per thread, says nothing the main thread has not.
      execArgv: ['--no-warnings'],
      stdout: false,
      stderr: false,
    });
    // A checkpointer never keeps the process alive, and its failure is not the writer's: the
    // fallback threshold takes over.
    worker.unref();
    worker.on('error', () => {});
    return new WalCheckpointer(worker);
  }

  /** Asks the worker for a last checkpoint and to close its connection; returns at once. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#worker.postMessage('stop');
  }
}
