import { NeedleMatcher } from './needle-matcher.js';
import { maskedForms } from './secret-forms.js';

export const REDACTED = '[REDACTED]';

/** Values shorter than this are not masked (they would mangle ordinary words); secret schemas reject them. */
export const MIN_REDACTABLE_LENGTH = 6;

/**
 * What a component that holds or mints secrets needs from the redactor: register a value for as
 * long as it is good, retire it when it is not. `SecretRedactor` is the implementation.
 */
export interface SecretMasker {
  /**
   * Masks `value` from now on: until one {@link retire} per registration, or with `until` (ms on
   * the redactor's clock) until then, whichever is later. False when it is too short to mask safely.
   */
  register(value: string, options?: { until?: number }): boolean;
  /** Ends one registration of `value`; with `after` (ms), it stays masked that much longer. */
  retire(value: string, options?: { after?: number }): void;
}

interface Registration {
  /** Open registrations without an end. */
  holds: number;
  /** Masked at least until then (ms on the redactor's clock). */
  until: number;
  forms: readonly string[];
}

/**
 * Masks every registered secret value wherever it appears in a piece of text, in every form
 * {@link maskedForms} lists (JSON-escaped, line by line, URL-encoded, base64, Basic auth). Values
 * are registered for their lifetime and retired after, so masking a day of rotations and minted
 * tokens costs what masking the live ones does; each line is scanned once whatever their number
 * ({@link NeedleMatcher}).
 *
 * @example
 * const redactor = new SecretRedactor({ now: () => clock.now() });
 * redactor.register(signingSecret);                               // until retired
 * redactor.register(installationToken, { until: expiresAt });     // until it expires
 * redactor.redact(`token ${installationToken}`);                  // 'token [REDACTED]'
 */
export class SecretRedactor implements SecretMasker {
  readonly #now: () => number;
  readonly #matcher = new NeedleMatcher(MIN_REDACTABLE_LENGTH);
  readonly #values = new Map<string, Registration>();
  readonly #expiries = new ExpiryQueue();

  /** @param options.now the clock `until` and `after` are read on (Date.now by default). */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  register(value: string, options: { until?: number } = {}): boolean {
    if (value.length < MIN_REDACTABLE_LENGTH) return false;
    let registration = this.#values.get(value);
    if (!registration) {
      registration = {
        holds: 0,
        until: Number.NEGATIVE_INFINITY,
        forms: maskedForms(value, MIN_REDACTABLE_LENGTH),
      };
      for (const form of registration.forms) this.#matcher.add(form);
      this.#values.set(value, registration);
    }
    if (options.until === undefined) registration.holds += 1;
    else this.#extend(value, registration, options.until);
    this.#dropIfOver(value, registration);
    return true;
  }

  retire(value: string, options: { after?: number } = {}): void {
    const registration = this.#values.get(value);
    if (!registration) return;
    if (registration.holds > 0) registration.holds -= 1;
    if (options.after !== undefined && options.after > 0)
      this.#extend(value, registration, this.#now() + options.after);
    this.#dropIfOver(value, registration);
  }

  /** How many strings are masked (each value and its encoded forms). */
  get size(): number {
    this.#expire();
    return this.#matcher.size;
  }

  redact(text: string): string {
    this.#expire();
    return this.#matcher.replace(text, REDACTED);
  }

  #extend(value: string, registration: Registration, until: number): void {
    if (until <= registration.until) return;
    registration.until = until;
    this.#expiries.push(until, value);
  }

  #expire(): void {
    if (this.#expiries.size === 0) return;
    const now = this.#now();
    for (let due = this.#expiries.popDue(now); due !== undefined; due = this.#expiries.popDue(now)) {
      const registration = this.#values.get(due);
      if (registration) this.#dropIfOver(due, registration, now);
    }
  }

  #dropIfOver(value: string, registration: Registration, now?: number): void {
    if (registration.holds > 0) return;
    if (registration.until > (now ?? this.#now())) return;
    for (const form of registration.forms) this.#matcher.remove(form);
    this.#values.delete(value);
  }
}

/** A min-heap of (time, value): what may have expired by now, soonest first. */
class ExpiryQueue {
  readonly #at: number[] = [];
  readonly #values: string[] = [];

  get size(): number {
    return this.#at.length;
  }

  push(at: number, value: string): void {
    this.#at.push(at);
    this.#values.push(value);
    let i = this.#at.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.#at[parent] as number) <= at) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  /** The value of the soonest entry due at `now`, removed; undefined when none is due. */
  popDue(now: number): string | undefined {
    if (this.#at.length === 0 || (this.#at[0] as number) > now) return undefined;
    const value = this.#values[0];
    const lastAt = this.#at.pop() as number;
    const lastValue = this.#values.pop() as string;
    if (this.#at.length > 0) {
      this.#at[0] = lastAt;
      this.#values[0] = lastValue;
      this.#siftDown();
    }
    return value;
  }

  #siftDown(): void {
    const n = this.#at.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < n && (this.#at[left] as number) < (this.#at[least] as number)) least = left;
      if (right < n && (this.#at[right] as number) < (this.#at[least] as number)) least = right;
      if (least === i) return;
      this.#swap(i, least);
      i = least;
    }
  }

  #swap(a: number, b: number): void {
    [this.#at[a], this.#at[b]] = [this.#at[b] as number, this.#at[a] as number];
    [this.#values[a], this.#values[b]] = [this.#values[b] as string, this.#values[a] as string];
  }
}
