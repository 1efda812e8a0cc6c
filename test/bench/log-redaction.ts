import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger, SecretRedactor } from '../../src/log.js';

/** Log lines per second through the redacting logger, with 0 and with 20 registered secrets. */
export async function benchLogRedaction(): Promise<void> {
  for (const secrets of [0, 20]) {
    const redactor = new SecretRedactor();
    for (let i = 0; i < secrets; i++) redactor.register(`secret-${randomBytes(16).toString('hex')}`);
    let bytes = 0;
    const sink = new Writable({
      write(chunk, _e, cb) {
        bytes += chunk.length;
        cb();
      },
    });
    const log = createLogger({ redactor, destination: sink });
    const n = 200_000;
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++)
      log.info({ request: i, channel: 'C0DEV', action: 'gh:pr list' }, 'command handled');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`log.lines_per_second.secrets_${secrets}: ${Math.round(n / seconds)} lines/s`);
    console.log(`log.us_per_line.secrets_${secrets}: ${((seconds / n) * 1e6).toFixed(2)} us`);
    if (bytes === 0) throw new Error('nothing was logged');
  }
}
