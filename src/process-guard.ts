import type { Logger } from './log.js';

/** An error that reached the process with nobody to handle it. */
export interface ProcessFault {
  event: 'unhandledRejection' | 'uncaughtException';
  error: unknown;
}

export interface ProcessGuardOptions {
  /** Where the handlers go: `process` in production, a private EventEmitter in unit tests. */
  target?: NodeJS.EventEmitter;
  /** Until a logger is attached, each fault is reported here in one line (never a stack trace). */
  stderr?: { write(text: string): unknown };
  /**
   * Called once, with the first fault that must end the process (a programming error, or any
   * uncaught exception): the caller drains (`app.stop`) and exits non-zero. {@link ProcessGuard.fatal}
   * says the same as a promise.
   */
  onFatal?(fault: ProcessFault): void;
}

const FATAL_MSG = 'an unexpected error (a bug in opsbot): stopping; the orchestrator restarts it';
const KEPT_MSG = 'an unhandled promise rejection (an operational error); opsbot keeps running';
const AFTER_FATAL_MSG = 'another unexpected error while stopping';

/**
 * The process-wide last resort (`unhandledRejection`, `uncaughtException`), installed by `main.ts`
 * before anything else starts. Every fault is logged through the redacting logger once one is
 * attached, so Node never prints a raw error (or a secret in one) to stderr. An operational
 * rejection (a reset connection, an API error someone forgot to catch) is logged and opsbot keeps
 * running; a programming error, and any uncaught exception (after which Node's state is unknown),
 * is logged as fatal and handed to `onFatal`, which drains and exits non-zero.
 *
 * @example
 * const guard = new ProcessGuard().install();
 * const app = await startOpsbot(deps);
 * guard.attach(app.log);
 * await guard.fatal; // then drain and exit 1
 */
export class ProcessGuard {
  readonly #target: NodeJS.EventEmitter;
  readonly #stderr: { write(text: string): unknown };
  readonly #onFatal: ((fault: ProcessFault) => void) | undefined;
  #resolveFatal: (fault: ProcessFault) => void = () => {};
  /** Resolves with the first fault that must end the process; never settles otherwise. */
  readonly fatal = new Promise<ProcessFault>((resolve) => {
    this.#resolveFatal = resolve;
  });
  #log: Logger | undefined;
  #fatal = false;
  readonly #onRejection = (error: unknown) => this.#handle({ event: 'unhandledRejection', error });
  readonly #onException = (error: unknown) => this.#handle({ event: 'uncaughtException', error });

  constructor(options: ProcessGuardOptions = {}) {
    this.#target = options.target ?? process;
    this.#stderr = options.stderr ?? process.stderr;
    this.#onFatal = options.onFatal;
  }

  /** Installs the handlers; returns the guard. */
  install(): this {
    this.#target.on('unhandledRejection', this.#onRejection);
    this.#target.on('uncaughtException', this.#onException);
    return this;
  }

  uninstall(): void {
    this.#target.off('unhandledRejection', this.#onRejection);
    this.#target.off('uncaughtException', this.#onException);
  }

  /** From now on faults are logged here (redacted) instead of in one line on stderr. */
  attach(log: Logger): void {
    this.#log = log;
  }

  #handle(fault: ProcessFault): void {
    const fatal = fault.event === 'uncaughtException' || isProgrammingError(fault.error);
    const first = fatal && !this.#fatal;
    this.#report(fault, fatal, first);
    if (!first) return;
    this.#fatal = true;
    this.#resolveFatal(fault);
    this.#onFatal?.(fault);
  }

  #report(fault: ProcessFault, fatal: boolean, first: boolean): void {
    const msg = !fatal ? KEPT_MSG : first ? FATAL_MSG : AFTER_FATAL_MSG;
    try {
      if (this.#log) {
        this.#log[fatal ? 'fatal' : 'error']({ err: fault.error, event: fault.event }, msg);
        return;
      }
    } catch {
      // the logger itself failed: fall through to the one line
    }
    const { name, message } = describe(fault.error);
    const outcome = fatal ? 'stopping' : 'opsbot keeps running';
    this.#stderr.write(`opsbot: unexpected ${name} (${fault.event}): ${message}; ${outcome}\n`);
  }
}

/** Node's own errors for mistakes in code (as opposed to failures of the world outside). */
const PROGRAMMING_ERRORS = new Set([
  'TypeError',
  'ReferenceError',
  'RangeError',
  'SyntaxError',
  'EvalError',
  'URIError',
]);
const OPERATIONAL_NAMES = new Set(['AbortError', 'TimeoutError']);

/**
 * Whether an error nobody handled is a mistake in opsbot's code (fail fast: drain and exit) rather
 * than an operational failure (a network error, an API error, a user-facing error: log and go on).
 * Operational errors carry a code (Node's `ECONNRESET`, Slack's `slack_webapi_platform_error`,
 * opsbot's own), AWS SDK metadata, or an abort/timeout name; `fetch failed` is a TypeError caused by
 * a system error. Everything else, including an `Error` without a code and a thrown non-error, is
 * treated as a bug.
 */
export function isProgrammingError(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_ASSERTION' || code === 'opsbot_internal') return true;
  if (PROGRAMMING_ERRORS.has(error.name)) return !hasSystemCause(error);
  if (OPERATIONAL_NAMES.has(error.name)) return false;
  if (typeof code === 'string' && code !== '') return false;
  return !('$metadata' in error);
}

function hasSystemCause(error: Error): boolean {
  const cause = error.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'string' && cause.code !== '';
}

/** Name and the first line of the message, clipped: for the one line written before logging is up. */
function describe(error: unknown): { name: string; message: string } {
  if (!(error instanceof Error))
    return { name: typeof error, message: 'a value that is not an Error was thrown' };
  const message = (error.message.split('\n')[0] ?? '').slice(0, 300);
  return { name: error.name, message };
}
