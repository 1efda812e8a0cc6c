import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { AuditEvent, AuditRecord } from '../../src/audit/records.js';
import { fileSchemaOf } from '../../src/config/file-schema.js';
import { CONFIG_SECTIONS } from '../../src/features.js';
import { startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { DetectionEngine } from '../../src/security/detections/engine.js';
import { DetectionsTail } from '../../src/security/detections/tail.js';
import { openSqliteState } from '../../src/store/sqlite.js';
import { FakeClock } from '../helpers/fake-clock.js';

/**
 * `npm run bench -- detections`:
 * 1. the rules' cost per audit record (every rule on, 200,000 records of 50 people over a day:
 *    commands, denials, intents), off the request path: the tail reads the store, never the hot path;
 * 2. the tail's cost per audit record: reading the trail from SQLite (50,000 records shaped as the
 *    Slack benchmark's, as the audit middleware writes them) and running every rule on it, as the
 *    tail's passes do (its `stats()`: the time the passes held the event loop, without their yields);
 * 3. the time from the record that completes a burst of denials to the message in #security, with
 *    the production pacing (the trail read every 5 s) on the sandbox bot.
 */
export async function benchDetections(): Promise<void> {
  perRecord();
  await tailPerRecord();
  await toMessage();
}

function perRecord(): void {
  const { detections } = fileSchemaOf(CONFIG_SECTIONS).parse({}).security;
  const engine = new DetectionEngine({ detections, admins: ['U0ADMIN'] });
  const records: AuditRecord[] = [];
  const start = Date.UTC(2026, 11, 6);
  const actions = ['gh:pr list', 'jira:issue', 'dd:monitor', 'devenv:up', 'devenv:down', 'dd:mute'];
  for (let i = 0; i < 200_000; i++) {
    const action = actions[i % actions.length] as string;
    records.push({
      seq: i + 1,
      at: new Date(start + i * 400).toISOString(),
      actor: i % 97 === 0 ? 'U0ADMIN' : `U0USER${i % 50}`,
      action,
      outcome: i % 31 === 0 ? 'denied' : i % 3 === 0 ? 'intent' : 'success',
      details: { kind: 'command' },
      prevHash: '',
      hash: '',
    });
  }
  for (const record of records.slice(0, 20_000)) engine.learn(record);
  let found = 0;
  const t0 = process.hrtime.bigint();
  for (const record of records.slice(20_000)) {
    // The rules on the tail are synchronous but for the secret-version one (a store read).
    const out = engine.check(record);
    if (Array.isArray(out)) found += out.length;
    else
      void out.then((d) => {
        found += d.length;
      });
  }
  const ns = Number(process.hrtime.bigint() - t0);
  console.log(
    `detections.per_record: ${(ns / 180_000 / 1e3).toFixed(2)} us/record (every rule on; off the request path)`,
  );
  void Promise.resolve().then(() =>
    console.log(`detections.per_record.findings: ${found} in 180000 records`),
  );
}

/** Records on the trail for {@link tailPerRecord}. */
const TAIL_RECORDS = 50_000;

/** The event the audit middleware writes for request `i` (as the Slack benchmark's requests make them). */
function benchEvent(i: number, at: string): AuditEvent {
  const actor = i % 97 === 0 ? 'U0ADMIN' : `U0USER${i % 50}`;
  // Now and then a rotation and the version change it makes: records a rule reads whole.
  if (i % 5_000 === 0)
    return {
      action: 'opsbot:rotate',
      outcome: 'intent',
      actor: 'U0ADMIN',
      at,
      details: { args: 'secret=audit' },
    };
  if (i % 5_000 === 1)
    return {
      action: 'secret.version_changed',
      outcome: 'success',
      actor: 'opsbot',
      at,
      details: { integration: 'audit', versionId: `v${i}-aaaaaaaa`, previousVersionId: 'v0-bbbbbbbb' },
    };
  const outcome = i % 31 === 0 ? 'denied' : i % 3 === 0 ? 'intent' : 'success';
  return {
    action: i % 7 === 0 ? 'devenv:down' : 'bench:ping',
    outcome,
    actor,
    at,
    details: {
      kind: 'command',
      team: 'T0BENCH',
      channel: 'C0BENCH',
      args: `n=${i}`,
      decision: outcome === 'denied' ? 'denied' : 'allowed',
      result: outcome === 'success' ? 'ok' : undefined,
      latencyMs: outcome === 'intent' ? undefined : 2 + (i % 5),
      requestId: `req-${i.toString(36).padStart(8, '0')}`,
    },
  };
}

/** Tails that each read the whole trail, one after another: the figure is their median. */
const TAIL_ROUNDS = 5;

async function tailPerRecord(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-bench-detections-'));
  const clock = new FakeClock(Date.UTC(2026, 11, 6));
  const state = openSqliteState({ path: join(dir, 'state.db'), now: () => clock.now() });
  try {
    const { detections } = fileSchemaOf(CONFIG_SECTIONS).parse({}).security;
    const found: number[] = [];
    const tails = Array.from({ length: TAIL_ROUNDS }, (_, round) => {
      found.push(0);
      return new DetectionsTail({
        audit: state.audit,
        leases: state.leases,
        owner: 'bench', // one holder: each tail renews the lease the one before took
        reporter: {
          report: async () => {
            found[round] = (found[round] ?? 0) + 1;
          },
        },
        detections,
        admins: ['U0ADMIN'],
        // Every rule on: Secrets Manager's schedule explains no version change.
        lastRotatedAt: async () => undefined,
        clock,
        log: pino({ level: 'silent' }),
      });
    });
    // Each takes the lease and learns the empty trail: every record below is checked by each.
    for (const tail of tails) await tail.pass();
    const start = clock.now();
    for (let i = 1; i <= TAIL_RECORDS; i += 500)
      await Promise.all(
        Array.from({ length: Math.min(500, TAIL_RECORDS - i + 1) }, (_, k) =>
          state.audit.append(benchEvent(i + k, new Date(start + (i + k) * 250).toISOString())),
        ),
      );
    const costs: number[] = [];
    let records = 0;
    for (const tail of tails) {
      const before = tail.stats();
      while ((await tail.pass()) > 0) {
        // each pass reads at most 20 pages of 500
      }
      await tail.idle();
      const after = tail.stats();
      records = after.records - before.records;
      costs.push(((after.busyMs - before.busyMs) * 1_000) / records);
    }
    costs.sort((a, b) => a - b);
    console.log(
      `detections.tail_per_record: ${(costs[Math.floor(costs.length / 2)] as number).toFixed(2)} us/record (median of ${TAIL_ROUNDS} tails over a SQLite trail of ${records} records, read and checked as the tail's passes do, every rule on; fastest ${(costs[0] as number).toFixed(2)})`,
    );
    console.log(`detections.tail_per_record.findings: ${found.join(', ')} in ${records} records`);
  } finally {
    state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function toMessage(): Promise<void> {
  const bot = await startSandboxBot({ pollSeconds: 60, security: { everyMs: 5_000 } });
  try {
    const samples: number[] = [];
    for (let round = 0; round < 3; round++) {
      const user = `U0BENCH${round}`;
      bot.slack.addUser({ id: user, name: `bench${round}`, realName: `Bench ${round}` });
      let completedAt = 0;
      for (let i = 0; i < 5; i++) {
        const delivery = await bot.slack.sendSlashCommand({
          command: '/devenv',
          text: 'up small',
          userId: user,
          channelId: 'C0DEV',
        });
        await bot.slack.waitForResponse(delivery.responseUrl);
        completedAt = performance.now();
      }
      const end = Date.now() + 30_000;
      while (
        !bot.slack.messages('C0SECURITY').some((m) => JSON.stringify(m.blocks ?? m.text).includes(user))
      ) {
        if (Date.now() > end) throw new Error('no detection within 30 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      samples.push(performance.now() - completedAt);
    }
    samples.sort((a, b) => a - b);
    console.log(
      `detections.record_to_message: ${samples.map((s) => (s / 1_000).toFixed(2)).join(', ')} s (trail read every 5 s)`,
    );
  } finally {
    await bot.stop();
  }
}
