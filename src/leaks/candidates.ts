/**
 * The pieces of a message that could be a whole secret value, for comparing with opsbot's own
 * secrets when no pattern recognised them (a Datadog `webhookSecret` has no prefix). A piece is a
 * word (split on white space, quotes, backticks, brackets, commas and Slack's `<…|…>` link markup),
 * the word without trailing sentence punctuation, and, around each of its first separators
 * (`= : @ / ? # & ;`), the part before, the part after and the part between two of them: so
 * `DD_WEBHOOK_SECRET=…`, `https://user:…@host` and `?key=…&amp;x=1` all yield the value alone.
 */

/** Shorter pieces are never compared: no secret of opsbot's is shorter. */
export const MIN_CANDIDATE_LENGTH = 16;
/** Longer pieces are never compared (a 4096-bit PEM key is about 3,200 characters, and is matched whole by its finding). */
export const MAX_CANDIDATE_LENGTH = 512;
/** At most this many pieces per message (a 40,000-character message has at most 2,353 words of 16+). */
export const MAX_CANDIDATES = 4_096;
/** Separators looked at per word. */
const MAX_SEPARATORS = 16;

const WORD = /[^\s"'`<>|()[\]{},]{16,}/g;
const SEPARATOR = /[=:@/?#&;]/g;
const TRAILING = /[.:;!?]{1,8}$/;

/** `[start, end)` offsets of every candidate piece of `text`, distinct, at most {@link MAX_CANDIDATES}. */
export function candidateSpans(text: string, limit = MAX_CANDIDATES): [number, number][] {
  const spans: [number, number][] = [];
  const seen = new Set<string>();
  const add = (start: number, end: number) => {
    const length = end - start;
    if (length < MIN_CANDIDATE_LENGTH || length > MAX_CANDIDATE_LENGTH || spans.length >= limit) return;
    const key = `${start}:${end}`;
    if (seen.has(key)) return;
    seen.add(key);
    spans.push([start, end]);
  };
  WORD.lastIndex = 0;
  for (let m = WORD.exec(text); m !== null && spans.length < limit; m = WORD.exec(text)) {
    const start = m.index;
    const end = start + m[0].length - (TRAILING.exec(m[0])?.[0].length ?? 0);
    add(start, start + m[0].length);
    add(start, end);
    const separators = separatorsIn(text, start, end);
    let previous = start;
    for (const at of separators) {
      add(start, at);
      add(at + 1, end);
      add(previous, at);
      previous = at + 1;
    }
    add(previous, end);
  }
  return spans;
}

function separatorsIn(text: string, start: number, end: number): number[] {
  const word = text.slice(start, end);
  const at: number[] = [];
  SEPARATOR.lastIndex = 0;
  for (let m = SEPARATOR.exec(word); m !== null && at.length < MAX_SEPARATORS; m = SEPARATOR.exec(word)) {
    at.push(start + m.index);
  }
  return at;
}
