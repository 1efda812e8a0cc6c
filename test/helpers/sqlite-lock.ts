import { DatabaseSync } from 'node:sqlite';

/**
 * Another connection to the database file (as another process would have) holding the write lock
 * (`BEGIN IMMEDIATE`) until released; releasing twice is harmless.
 */
export function holdWriteLock(path: string): { release(): void } {
  const other = new DatabaseSync(path);
  other.exec('BEGIN IMMEDIATE');
  return {
    release() {
      if (!other.isOpen) return;
      if (other.isTransaction) other.exec('ROLLBACK');
      other.close();
    },
  };
}

/** Runs `work` and measures the longest gap between 5 ms ticks of the event loop meanwhile. */
export async function longestStall<T>(work: () => Promise<T>): Promise<{ stallMs: number; value: T }> {
  let last = performance.now();
  let stallMs = 0;
  const ticker = setInterval(() => {
    const tick = performance.now();
    stallMs = Math.max(stallMs, tick - last);
    last = tick;
  }, 5);
  try {
    const value = await work();
    return { stallMs, value };
  } finally {
    clearInterval(ticker);
  }
}
