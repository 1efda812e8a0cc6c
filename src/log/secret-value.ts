import { inspect } from 'node:util';
import { REDACTED } from '../log.js';

/**
 * A secret wrapped so that it cannot be printed by accident: `String()`, template literals,
 * `JSON.stringify` and `util.inspect` (and so console.log and pino) all show `[REDACTED]`.
 * Read the value with {@link SecretValue.reveal} at the one place that needs it.
 *
 * @example
 * const token = new SecretValue('xoxb-…');
 * `${token}`;            // '[REDACTED]'
 * client.auth(token.reveal());
 */
export class SecretValue<T = string> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  reveal(): T {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}
