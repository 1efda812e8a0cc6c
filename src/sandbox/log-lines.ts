import type { DestinationStream } from 'pino';

/** Lines kept at most; trimmed to the last {@link KEEP_AFTER_TRIM} in one splice, not a shift per line. */
const MAX_LINES = 1_000;
const KEEP_AFTER_TRIM = 500;

/**
 * A pino destination that keeps the last log lines in `lines` (for the console's `:logs` and
 * tests). A plain object with `write`, not a stream: pino writes one line per call, and a stream's
 * machinery (buffer conversion, callbacks) would cost the sandboxed bot more per line than
 * production's asynchronous stdout does.
 */
export function logLinesDestination(lines: string[]): DestinationStream {
  return {
    write(text: string) {
      const end = text.indexOf('\n');
      if (end === -1 || end === text.length - 1) {
        if (end !== 0) lines.push(end === -1 ? text : text.slice(0, end));
      } else {
        for (const line of text.trim().split('\n')) lines.push(line);
      }
      if (lines.length > MAX_LINES) lines.splice(0, lines.length - KEEP_AFTER_TRIM);
    },
  };
}
