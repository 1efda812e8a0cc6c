import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

export const REDACTED = '[REDACTED]';

/** Values shorter than this are not masked (they would mangle ordinary words); secret schemas reject them. */
export const MIN_REDACTABLE_LENGTH = 6;

/**
 * Masks every registered secret value wherever it appears in a piece of text: plain, or as it reads
 * once escaped inside a JSON string (quotes, backslashes and newlines of a PEM key).
 */
export class SecretRedactor {
  readonly #needles = new Set<string>();
  #ordered: string[] = [];

  /** Registers a value to be masked. Returns false when it is too short to be masked safely. */
  register(value: string): boolean {
    if (value.length < MIN_REDACTABLE_LENGTH) return false;
    const before = this.#needles.size;
    this.#needles.add(value);
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) this.#needles.add(escaped);
    // PEM keys also appear line by line (stack traces, wrapped messages).
    for (const line of value.split(/\r?\n/)) {
      if (line.length >= 16 && !line.startsWith('-----')) this.#needles.add(line);
    }
    if (this.#needles.size !== before) {
      // Longest first, so that a value containing another is masked whole.
      this.#ordered = [...this.#needles].sort((a, b) => b.length - a.length);
    }
    return true;
  }

  get size(): number {
    return this.#needles.size;
  }

  redact(text: string): string {
    let out = text;
    for (const needle of this.#ordered) {
      if (out.includes(needle)) out = out.replaceAll(needle, REDACTED);
    }
    return out;
  }
}

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
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.errWithCause, error: pino.stdSerializers.errWithCause },
    hooks: { streamWrite: (line) => deps.redactor.redact(line) },
  };
  return pino(options, deps.destination ?? pino.destination({ dest: 1, sync: false }));
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
