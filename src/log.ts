import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import type { SecretRedactor } from './log/redactor.js';
import { isoTime } from './time/iso-time.js';

export type { Logger } from 'pino';

export {
  MIN_REDACTABLE_LENGTH,
  REDACTED,
  type SecretMasker,
  SecretRedactor,
} from './log/redactor.js';

export interface LoggerDeps {
  level?: string;
  redactor: SecretRedactor;
  /** Where JSON lines go; stdout by default. Tests pass a capture stream. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}

/**
 * A pino JSON logger whose every line passes through the redactor after serialization, so a secret
 * is masked in the message, in fields, in error messages and in stack traces alike.
 *
 * @example
 * const redactor = new SecretRedactor();
 * const log = createLogger({ level: 'info', redactor });
 * redactor.register(token);
 * log.error({ err }, 'GitHub call failed'); // the token never reaches stdout
 */
export function createLogger(deps: LoggerDeps): Logger {
  const options: LoggerOptions = {
    level: deps.level ?? 'info',
    base: { service: 'opsbot', ...deps.base },
    // pino's isoTime, with the formatted time reused within a millisecond.
    timestamp: () => `,"time":"${isoTime(Date.now())}"`,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.errWithCause, error: pino.stdSerializers.errWithCause },
    hooks: { streamWrite: (line) => deps.redactor.redact(line) },
  };
  return pino(options, deps.destination ?? pino.destination({ dest: 1, sync: false }));
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
