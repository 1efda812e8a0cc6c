import type { Detection } from '../detection.js';
import { type AuditRule, evidenceOf, PERSON, spoken, type TrailRecord, timeOf } from './rule.js';
import { CountWindow } from './window.js';

/**
 * `denials`: one person refused by the policy `count` times within `within` (someone trying what
 * they may not, or a stolen session feeling around). One detection per burst, keyed by the person
 * and the first refusal of it; the evidence is those refusals.
 */
export function denialsRule(options: { count: number; withinMs: number }): AuditRule {
  const window = new CountWindow<TrailRecord>({ count: options.count, withinMs: options.withinMs });
  return {
    name: 'denials',
    check(record): Detection[] {
      if (record.outcome !== 'denied' || !PERSON.test(record.actor)) return [];
      const burst = window.add(record.actor, timeOf(record), record);
      if (!burst) return [];
      const first = burst[0] as TrailRecord;
      const actions = [...new Set(burst.map((r) => r.action))];
      return [
        {
          rule: 'denials',
          key: `denials:${record.actor}:${first.seq}`,
          title: `${record.actor} was refused ${burst.length} times within ${spoken(options.withinMs)}`,
          actor: record.actor,
          at: record.at,
          evidence: evidenceOf(burst.map((r) => r.seq)),
          details: {
            count: burst.length,
            within: spoken(options.withinMs),
            actions: actions.slice(0, 10).join(', '),
          },
        },
      ];
    },
  };
}
