import type { Detection } from '../detection.js';
import { type AuditRule, timeOf } from './rule.js';

/**
 * `offHours`: an admin acting at an hour of the day (UTC) at which that admin has never acted, once
 * the trail holds at least `minHistory` of their records (learned from its history at start). An
 * intent and its outcome are one action: only final records count.
 */
export function offHoursRule(options: { admins: readonly string[]; minHistory: number }): AuditRule {
  const admins = new Set(options.admins);
  const seen = new Map<string, { hours: number; count: number }>();
  const note = (actor: string, hour: number) => {
    const known = seen.get(actor) ?? { hours: 0, count: 0 };
    const fresh = (known.hours & (1 << hour)) === 0;
    seen.set(actor, { hours: known.hours | (1 << hour), count: known.count + 1 });
    return { fresh, history: known.count };
  };
  return {
    name: 'offHours',
    learn(record) {
      if (admins.has(record.actor) && record.outcome !== 'intent')
        note(record.actor, new Date(timeOf(record)).getUTCHours());
    },
    check(record): Detection[] {
      if (!admins.has(record.actor) || record.outcome === 'intent') return [];
      const hour = new Date(timeOf(record)).getUTCHours();
      const { fresh, history } = note(record.actor, hour);
      if (!fresh || history < options.minHistory) return [];
      const hh = String(hour).padStart(2, '0');
      return [
        {
          rule: 'offHours',
          key: `offHours:${record.actor}:${record.seq}`,
          title: `Admin ${record.actor} acted at ${hh}:00–${hh}:59 UTC, an hour they have never acted at`,
          actor: record.actor,
          at: record.at,
          evidence: [record.seq],
          details: { action: record.action, hourUtc: hour, history },
        },
      ];
    },
  };
}
