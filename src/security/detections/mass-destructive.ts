import type { Detection } from '../detection.js';
import { type AuditRule, evidenceOf, spoken, type TrailRecord, timeOf } from './rule.js';
import { CountWindow } from './window.js';

/** Whether `action` is one of `patterns`: `devenv:down` exactly, or every subcommand of `dd:*`. */
export function matchesAction(patterns: readonly string[], action: string): boolean {
  return patterns.some((p) => (p.endsWith(':*') ? action.startsWith(p.slice(0, -1)) : action === p));
}

/**
 * `massDestructive`: `count` destructive actions (`devenv:down`, `dd:mute` by default), by anyone,
 * within `within`. Each is counted once, by its intent record (stored before it runs).
 */
export function massDestructiveRule(options: {
  count: number;
  withinMs: number;
  actions: readonly string[];
}): AuditRule {
  const window = new CountWindow<TrailRecord>({ count: options.count, withinMs: options.withinMs });
  return {
    name: 'massDestructive',
    check(record): Detection[] {
      if (record.outcome !== 'intent' || !matchesAction(options.actions, record.action)) return [];
      const burst = window.add('all', timeOf(record), record);
      if (!burst) return [];
      const first = burst[0] as TrailRecord;
      const actors = [...new Set(burst.map((r) => r.actor))];
      const actions = [...new Set(burst.map((r) => r.action))];
      return [
        {
          rule: 'massDestructive',
          key: `massDestructive:${first.seq}`,
          title: `${burst.length} destructive actions (${actions.join(', ')}) within ${spoken(options.withinMs)}`,
          ...(actors.length === 1 ? { actor: actors[0] as string } : {}),
          at: record.at,
          evidence: evidenceOf(burst.map((r) => r.seq)),
          details: {
            count: burst.length,
            within: spoken(options.withinMs),
            actions: actions.slice(0, 10).join(', '),
            actors: actors.slice(0, 10).join(', '),
          },
        },
      ];
    },
  };
}
