import { Writable } from 'node:stream';
import { createLogger, type Logger, SecretRedactor } from '../../src/log.js';

export interface LogCapture {
  log: Logger;
  redactor: SecretRedactor;
  /** Every line written so far, parsed. */
  records(): Record<string, unknown>[];
  /** Every line written so far, raw, as the log sink received it. */
  text(): string;
}

/** A real opsbot logger writing to memory, for asserting on what would reach stdout. */
export function captureLogs(options: { level?: string; redactor?: SecretRedactor } = {}): LogCapture {
  const redactor = options.redactor ?? new SecretRedactor();
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const log = createLogger({ level: options.level ?? 'trace', redactor, destination });
  return {
    log,
    redactor,
    text: () => chunks.join(''),
    records: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
