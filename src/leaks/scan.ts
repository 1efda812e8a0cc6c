import { LEAK_RULES, type LeakRule } from './rules.js';

/**
 * One credential found in a message: what kind, and where (UTF-16 offsets into the text scanned,
 * `text.slice(start, end)` is the value). Never the value itself: a finding can be logged, audited
 * and described to its author as it is.
 */
export interface LeakFinding {
  /** The rule's id, e.g. `slack-bot-token`. */
  kind: string;
  /** What a person reads, e.g. `Slack bot token`. */
  title: string;
  start: number;
  end: number;
}

/** Slack refuses a message over 40,000 characters; more than this is never scanned. */
export const MAX_SCANNED_CHARS = 65_536;
/** At most this many findings per message: enough to say "several", bounded work. */
export const MAX_FINDINGS = 20;
/** Keyword-gated rules: at most this many keyword hits and candidate values per message. */
const MAX_NEAR_HITS = 256;
/** A PEM block's END line is looked for at most this far after its header (a 16384-bit RSA key fits). */
const MAX_PEM_BLOCK = 16_384;
/** Sentence punctuation after an assigned value (`password=s3cr3t!x.`) is not part of it. */
const TRAILING_PUNCTUATION = /[.:!?)\]]{1,8}$/;

/**
 * The credentials in `text`, in order of position, at most {@link MAX_FINDINGS}, over at most its
 * first {@link MAX_SCANNED_CHARS} characters. Synchronous and linear in the text: every rule is a
 * linear-time pattern (src/leaks/rules.ts). Where two rules find overlapping text, the earlier rule
 * in `LEAK_RULES` wins (a Slack token assigned to `token=` is a Slack bot token, not a generic
 * secret).
 *
 * @example
 * scanText('here: xoxb-…'); // [{ kind: 'slack-bot-token', title: 'Slack bot token', start: 6, end: 63 }]
 */
export function scanText(text: string, rules: readonly LeakRule[] = LEAK_RULES): LeakFinding[] {
  const scanned = text.length > MAX_SCANNED_CHARS ? text.slice(0, MAX_SCANNED_CHARS) : text;
  const found: LeakFinding[] = [];
  for (const rule of rules) {
    if (found.length >= MAX_FINDINGS) break;
    const keywords = rule.near ? keywordHits(scanned, rule.near.keyword) : undefined;
    if (keywords?.length === 0) continue;
    const pattern = rule.pattern;
    pattern.lastIndex = 0;
    let candidates = 0;
    for (let m = pattern.exec(scanned); m !== null; m = pattern.exec(scanned)) {
      if (found.length >= MAX_FINDINGS || (keywords && ++candidates > MAX_NEAR_HITS)) break;
      const span = valueSpan(scanned, m, rule);
      if (!span) continue;
      const [start, end] = span;
      if (rule.accept && !rule.accept(scanned.slice(start, end))) continue;
      if (keywords && rule.near && !isNear(keywords, start, end, rule.near.window)) continue;
      if (found.some((f) => f.start < end && start < f.end)) continue;
      found.push({ kind: rule.kind, title: rule.title, start, end });
    }
  }
  return found.sort((a, b) => a.start - b.start);
}

/** Where the value of a match is: group 1 (which ends the match) or the whole match. */
function valueSpan(text: string, m: RegExpExecArray, rule: LeakRule): [number, number] | undefined {
  const matchEnd = m.index + m[0].length;
  if (rule.pemBlock) return [m.index, pemBlockEnd(text, matchEnd)];
  const group = m[1];
  if (group === undefined) return [m.index, matchEnd];
  const value = group.replace(TRAILING_PUNCTUATION, '');
  if (value.length === 0) return undefined;
  const start = matchEnd - group.length;
  return [start, start + value.length];
}

/** The end of `-----END … -----` when it follows within bounds, else the end of the header. */
function pemBlockEnd(text: string, headerEnd: number): number {
  const limit = Math.min(text.length, headerEnd + MAX_PEM_BLOCK);
  const endLine = text.indexOf('-----END', headerEnd);
  if (endLine === -1 || endLine >= limit) return headerEnd;
  const close = text.indexOf('-----', endLine + 8);
  return close === -1 || close + 5 > limit || close - endLine > 64 ? headerEnd : close + 5;
}

/** Start and end of every keyword hit, at most {@link MAX_NEAR_HITS}. */
function keywordHits(text: string, keyword: RegExp): [number, number][] {
  const pattern = keyword;
  pattern.lastIndex = 0;
  const hits: [number, number][] = [];
  for (let m = pattern.exec(text); m !== null && hits.length < MAX_NEAR_HITS; m = pattern.exec(text)) {
    hits.push([m.index, m.index + m[0].length]);
    if (m[0].length === 0) pattern.lastIndex++;
  }
  return hits;
}

/** Whether a keyword ends at most `window` characters before the value or starts at most `window` after it. */
function isNear(hits: readonly [number, number][], start: number, end: number, window: number): boolean {
  return hits.some(([hitStart, hitEnd]) => Math.max(0, start - hitEnd, hitStart - end) <= window);
}
