import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger, REDACTED, SecretRedactor } from '../../src/log.js';

/**
 * `npm run bench -- log`: log lines per second through the redacting logger, and the cost per line,
 * with 0, 20 and 10,000 registered values (each also masked in its encoded forms: JSON-escaped,
 * URL-encoded, base64, Basic auth). The cost per line should not grow with the number of values.
 */
export async function benchLogRedaction(): Promise<void> {
  for (const secrets of [0, 20, 10_000]) {
    const redactor = new SecretRedactor();
    const values = Array.from({ length: secrets }, () => `secret-${randomBytes(16).toString('hex')}`);
    const registering = process.hrtime.bigint();
    for (const value of values) redactor.register(value);
    const registerUs = Number(process.hrtime.bigint() - registering) / 1e3 / Math.max(1, secrets);
    let bytes = 0;
    const sink = new Writable({
      write(chunk, _e, cb) {
        bytes += chunk.length;
        cb();
      },
    });
    const log = createLogger({ redactor, destination: sink });
    const n = 200_000;
    for (let i = 0; i < 20_000; i++) log.info({ request: i, channel: 'C0DEV' }, 'warm-up');
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++)
      log.info({ request: i, channel: 'C0DEV', action: 'gh:pr list' }, 'command handled');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`log.lines_per_second.secrets_${secrets}: ${Math.round(n / seconds)} lines/s`);
    console.log(`log.us_per_line.secrets_${secrets}: ${((seconds / n) * 1e6).toFixed(2)} us`);
    if (secrets > 0) {
      console.log(`log.register_us_per_value.secrets_${secrets}: ${registerUs.toFixed(1)} us`);
      console.log(`log.masked_strings.secrets_${secrets}: ${redactor.size} strings`);
      const leak = values[secrets - 1] as string;
      if (!redactor.redact(`x ${leak} y`).includes(REDACTED))
        throw new Error('a registered value was not masked');
    }
    if (bytes === 0) throw new Error('nothing was logged');
  }
}
