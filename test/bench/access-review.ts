import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Rule } from '../../src/access/policy.js';
import { systemClock } from '../../src/clock.js';
import { accessReview } from '../../src/security/access-review/review.js';
import { openState } from '../../src/store/open.js';
import { envNumber } from './bench-probe.js';

/**
 * `npm run bench -- access-review`: one access review over 100,000 audit records by 200 people
 * (SQLite State, records generated: commands, denials, the bot's own), with 50 rules naming users
 * and user groups. Prints the wall time and the longest event-loop stall while it ran.
 */
export async function benchAccessReview(): Promise<void> {
  const records = envNumber('OPSBOT_BENCH_REVIEW_RECORDS', 100_000);
  const peopleCount = envNumber('OPSBOT_BENCH_REVIEW_PEOPLE', 200);
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-bench-review-'));
  const state = await openState({ kind: 'sqlite', path: join(dir, 'opsbot.db') });
  try {
    const people = Array.from({ length: peopleCount }, (_, i) => `U0P${String(i).padStart(4, '0')}`);
    const actions = [
      'gh:pr list',
      'gh:runs',
      'jira:create',
      'dd:mute',
      'devenv:up',
      'devenv:down',
      'dd:monitors',
    ];
    const groups = Array.from({ length: 10 }, (_, i) => `S0G${i}`);
    const rules: Rule[] = Array.from({ length: 50 }, (_, i) => ({
      actions: [actions[i % actions.length] as string],
      ...(i % 2 === 0
        ? { users: people.filter((_, p) => p % 25 === i % 25) }
        : { usergroups: [groups[i % groups.length] as string] }),
      channels: ['C0DEV'],
    }));
    const members = new Map(groups.map((g, i) => [g, people.filter((_, p) => p % 10 === i)]));
    const start = Date.now() - 30 * 86_400_000;
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < records; i++) {
      const person = people[(i * 7) % people.length] as string;
      batch.push(
        state.audit.append({
          action: i % 50 === 0 ? 'secret.version_changed' : (actions[i % actions.length] as string),
          actor: i % 50 === 0 ? 'opsbot' : person,
          outcome: i % 9 === 0 ? 'denied' : 'success',
          at: new Date(start + i * 20_000).toISOString(),
          details: { kind: 'command', channel: 'C0DEV', args: '' },
        }),
      );
      if (batch.length >= 1_000) await Promise.all(batch.splice(0));
    }
    await Promise.all(batch);

    const stalls = monitorEventLoopDelay({ resolution: 5 });
    stalls.enable();
    const began = performance.now();
    const review = await accessReview(
      {
        audit: state.audit,
        access: { admins: ['U0ADMIN'], rules },
        slack: {
          usergroupMembers: async (g) => members.get(g) ?? [],
          userInfo: async (id) => ({ id, deleted: false }),
        },
        clock: systemClock,
        configFile: { name: 'opsbot.yaml', read: () => '' },
        credentials: { devenvConfigured: true },
      },
      90,
    );
    const wallMs = performance.now() - began;
    stalls.disable();
    console.log(`access review records: ${review.window.records} records`);
    console.log(`access review people: ${peopleCount} people`);
    console.log(`access review wall time: ${wallMs.toFixed(0)} ms`);
    console.log(`access review longest event-loop stall: ${(stalls.max / 1e6).toFixed(1)} ms`);
  } finally {
    state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
