import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { candidateSpans, MIN_CANDIDATE_LENGTH } from './candidates.js';
import type { LeakFinding } from './scan.js';

/** Which of opsbot's secrets a value is: the secret's short name and the field (`datadog`, `webhookSecret`). */
export interface OwnSecretRef {
  secretName: string;
  field: string;
}

/** One of opsbot's own values found in a message, and where (never the value). */
export interface OwnSecretHit extends OwnSecretRef {
  start: number;
  end: number;
  /**
   * The value's keyed digest (under this process's random key, meaningless anywhere else), to ask
   * later whether it is still one of opsbot's values ({@link OwnSecretIndex.holds}).
   */
  digest: string;
}

/** Values shorter than this are not indexed (an app id, a user name): nothing that short is a secret of ours. */
export const MIN_OWN_VALUE_LENGTH = MIN_CANDIDATE_LENGTH;
/** A finding longer than this (a whole PEM key) is compared whole, never cut into pieces. */
const MAX_FINDING_COMPARED = 16_384;
/** Lines of a multi-line value (a PEM key's base64 lines are 64) at least this long are indexed too. */
const MIN_LINE_LENGTH = 32;
/** At most this many own values are reported per message. */
const MAX_HITS = 20;

const WHITESPACE = /\s/g;
const HAS_WHITESPACE = /\s/;

/**
 * opsbot's own secret values, kept only as HMAC-SHA256 digests under a key made at random when
 * the index is built (never written anywhere): a message's words are hashed the same way and
 * looked up, so the index can say "this is the Datadog webhookSecret" without holding any value
 * in clear, and its digests mean nothing outside this process.
 *
 * Each value is indexed as it is, without its white space (a PEM key pasted with its line breaks
 * turned into spaces), and line by line when it has several lines (part of a pasted key).
 *
 * @example
 * const own = new OwnSecretIndex();
 * own.replace('datadog', { apiKey, appKey, webhookSecret }); // on load and on every rotation
 * own.find(text, scanText(text)); // [{ secretName: 'datadog', field: 'webhookSecret', start, end }]
 */
export class OwnSecretIndex {
  readonly #key: KeyObject = createSecretKey(randomBytes(32));
  /** secret name → digest (base64) of each form of its values → the field and the form's length. */
  readonly #bySecret = new Map<string, Map<string, { field: string; length: number }>>();
  /** digest → which value it is (the first secret that holds it). */
  readonly #refs = new Map<string, OwnSecretRef>();
  /**
   * length → how many digests have a form that long. Only a piece of a length some form has is
   * hashed, so most of a message never is. (A length says next to nothing about a random value.)
   */
  readonly #lengths = new Map<number, number>();

  /** How many digests are held. */
  get size(): number {
    return this.#refs.size;
  }

  /**
   * Indexes one field of one secret. Returns false (and indexes nothing) for a value too short
   * to be told apart from ordinary words ({@link MIN_OWN_VALUE_LENGTH}).
   */
  add(secretName: string, field: string, value: string): boolean {
    if (value.length < MIN_OWN_VALUE_LENGTH) return false;
    const forms = new Set([value, value.replace(WHITESPACE, '')]);
    const lines = value.split(/\r?\n/);
    if (lines.length > 1)
      for (const line of lines) if (line.trim().length >= MIN_LINE_LENGTH) forms.add(line.trim());
    let digests = this.#bySecret.get(secretName);
    if (!digests) {
      digests = new Map();
      this.#bySecret.set(secretName, digests);
    }
    for (const form of forms) {
      const digest = this.#digest(form);
      if (digests.has(digest)) continue;
      digests.set(digest, { field, length: form.length });
      if (this.#refs.has(digest)) continue;
      this.#refs.set(digest, { secretName, field });
      this.#count(form.length, 1);
    }
    return true;
  }

  /** Forgets every value of `secretName` (a value another secret also holds stays found, as that one's). */
  remove(secretName: string): void {
    const digests = this.#bySecret.get(secretName);
    this.#bySecret.delete(secretName);
    for (const [digest, { length }] of digests ?? []) {
      if (this.#refs.get(digest)?.secretName !== secretName) continue;
      this.#refs.delete(digest);
      const other = [...this.#bySecret].find(([, held]) => held.has(digest));
      const field = other?.[1].get(digest)?.field;
      if (other && field !== undefined) this.#refs.set(digest, { secretName: other[0], field });
      else this.#count(length, -1);
    }
  }

  /**
   * The secret's values are now exactly `fields` (on load and on rotation). To keep recognising
   * the previous version while it still works (its grace), pass its values too, or `add` them.
   */
  replace(secretName: string, fields: Readonly<Record<string, string>>): void {
    this.remove(secretName);
    for (const [field, value] of Object.entries(fields)) this.add(secretName, field, value);
  }

  /** Whether the value a hit's `digest` stands for is still one of `secretName`'s values. */
  holds(secretName: string, digest: string): boolean {
    return this.#bySecret.get(secretName)?.has(digest) === true;
  }

  /** Which own value `candidate` is, compared by keyed digest: as it is, then as Slack's escaping would have left it. */
  match(candidate: string): OwnSecretRef | undefined {
    const found = this.#match(candidate);
    return found ? { secretName: found.secretName, field: found.field } : undefined;
  }

  #match(candidate: string): (OwnSecretRef & { digest: string }) | undefined {
    if (this.#refs.size === 0 || candidate.length < MIN_OWN_VALUE_LENGTH) return undefined;
    const found = this.#lookup(candidate);
    if (found || !candidate.includes('&')) return found;
    return this.#lookup(candidate.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
  }

  /**
   * Every own value in `text`: each finding's text (compared whole, and without white space), then
   * every word and part of a word of plausible length (src/leaks/candidates.ts), so a value no rule
   * recognises is still found. Bounded: at most 4,096 pieces hashed and 20 hits per message.
   */
  find(text: string, findings: readonly LeakFinding[] = []): OwnSecretHit[] {
    if (this.#refs.size === 0) return [];
    const hits: OwnSecretHit[] = [];
    const record = (start: number, end: number, ref: (OwnSecretRef & { digest: string }) | undefined) => {
      if (!ref || hits.length >= MAX_HITS) return;
      if (hits.some((h) => h.start < end && start < h.end)) return;
      hits.push({ ...ref, start, end });
    };
    for (const f of findings) {
      if (f.end - f.start > MAX_FINDING_COMPARED || f.end > text.length) continue;
      record(f.start, f.end, this.#match(text.slice(f.start, f.end)));
    }
    for (const [start, end] of candidateSpans(text)) {
      if (hits.length >= MAX_HITS) break;
      record(start, end, this.#match(text.slice(start, end)));
    }
    return hits.sort((a, b) => a.start - b.start);
  }

  #lookup(candidate: string): (OwnSecretRef & { digest: string }) | undefined {
    const found = this.#exact(candidate);
    if (found || !HAS_WHITESPACE.test(candidate)) return found;
    return this.#exact(candidate.replace(WHITESPACE, ''));
  }

  #count(length: number, by: 1 | -1): void {
    const count = (this.#lengths.get(length) ?? 0) + by;
    if (count > 0) this.#lengths.set(length, count);
    else this.#lengths.delete(length);
  }

  #exact(candidate: string): (OwnSecretRef & { digest: string }) | undefined {
    if (!this.#lengths.has(candidate.length)) return undefined;
    const digest = this.#digest(candidate);
    const ref = this.#refs.get(digest);
    return ref ? { ...ref, digest } : undefined;
  }

  #digest(value: string): string {
    return createHmac('sha256', this.#key).update(value, 'utf8').digest('base64');
  }

  toJSON(): { values: number } {
    return { values: this.#refs.size };
  }
}
