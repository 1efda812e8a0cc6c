import type { AuditRecord } from '../../audit/records.js';
import type { Detection } from '../detection.js';
import { type AuditRule, PERSON } from './rule.js';

/** How many (person, action) pairs are remembered; beyond it the oldest are forgotten. */
const MAX_PAIRS = 200_000;
/** The security messages' own buttons: pressing them is never news. */
const OWN_ACTIONS = /^opsbot:security-/;

/**
 * `firstUse`: a person's first use of an action with side effects. The audit middleware stores an
 * `intent` record before every action that is not read-only (a subcommand without `readOnly`, any
 * button or form), so "an intent record for a (person, action) never seen before" is exactly that.
 * What was seen is learned from the trail's history at start, so a restart does not re-flag.
 */
export function firstUseRule(): AuditRule {
  const seen = new Set<string>();
  const remember = (pair: string) => {
    if (seen.size >= MAX_PAIRS) {
      const oldest = seen.values().next().value;
      if (oldest !== undefined) seen.delete(oldest);
    }
    seen.add(pair);
  };
  const pairOf = (r: AuditRecord) =>
    r.outcome === 'intent' && PERSON.test(r.actor) && !OWN_ACTIONS.test(r.action)
      ? `${r.actor} ${r.action}`
      : undefined;
  return {
    name: 'firstUse',
    learn(record) {
      const pair = pairOf(record);
      if (pair) remember(pair);
    },
    check(record): Detection[] {
      const pair = pairOf(record);
      if (!pair || seen.has(pair)) return [];
      remember(pair);
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
            ...(typeof record.details.channel === 'string' ? { channel: record.details.channel } : {}),
          },
        },
      ];
    },
  };
}
