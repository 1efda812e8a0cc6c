import type { Detection } from '../detection.js';
import { type AuditRule, PERSON, type TrailRecord } from './rule.js';

/** How many (person, action) pairs are remembered; beyond it the oldest are forgotten. */
const MAX_PAIRS = 200_000;
/** The security messages' own buttons: pressing them is never news. */
const OWN_ACTIONS = /^opsbot:security-/;

/**
 * `firstUse`: a person's first use of an action with side effects. The audit middleware stores an
 * `intent` record before every action that is not read-only (a subcommand without `readOnly`, any
 * button or form), so "an intent record for a (person, action) never seen before" is exactly that.
 * Only for someone with `minHistory` records already: a newcomer's first steps (or everyone's, on a
 * new deployment) are not news; an established person suddenly doing something new is.
 * What was seen is learned from the trail's history at start, so a restart does not re-flag.
 * It reads a record whole (for its channel) only when it reports it.
 */
export function firstUseRule(options: { minHistory: number } = { minHistory: 20 }): AuditRule {
  const seen = new Set<string>();
  /** Records per person (bounded like the pairs). */
  const history = new Map<string, number>();
  const count = (r: TrailRecord) => {
    if (!PERSON.test(r.actor)) return;
    if (!history.has(r.actor) && history.size >= MAX_PAIRS) {
      const oldest = history.keys().next().value;
      if (oldest !== undefined) history.delete(oldest);
    }
    history.set(r.actor, (history.get(r.actor) ?? 0) + 1);
  };
  const remember = (pair: string) => {
    if (seen.size >= MAX_PAIRS) {
      const oldest = seen.values().next().value;
      if (oldest !== undefined) seen.delete(oldest);
    }
    seen.add(pair);
  };
  const pairOf = (r: TrailRecord) =>
    r.outcome === 'intent' && PERSON.test(r.actor) && !OWN_ACTIONS.test(r.action)
      ? `${r.actor} ${r.action}`
      : undefined;
  return {
    name: 'firstUse',
    wants(brief) {
      const pair = pairOf(brief);
      return pair !== undefined && !seen.has(pair) && (history.get(brief.actor) ?? 0) >= options.minHistory;
    },
    learn(record) {
      const pair = pairOf(record);
      if (pair) remember(pair);
      count(record);
    },
    check(record): Detection[] {
      const pair = pairOf(record);
      const before = history.get(record.actor) ?? 0;
      count(record);
      if (!pair || seen.has(pair)) return [];
      remember(pair);
      if (before < options.minHistory) return [];
      return [
        {
          rule: 'firstUse',
          key: `firstUse:${record.actor}:${record.action}`,
          title: `${record.actor} used ${record.action} for the first time`,
          actor: record.actor,
          at: record.at,
          evidence: [record.seq],
          details: {
            action: record.action,
            ...(typeof record.details?.channel === 'string' ? { channel: record.details.channel } : {}),
          },
        },
      ];
    },
  };
}
