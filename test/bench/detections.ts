import type { AuditRecord } from '../../src/audit/records.js';
import { fileSchemaOf } from '../../src/config/file-schema.js';
import { CONFIG_SECTIONS } from '../../src/features.js';
import { startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { DetectionEngine } from '../../src/security/detections/engine.js';

/**
 * `npm run bench -- detections`:
 * 1. the rules' cost per audit record (every rule on, 200,000 records of 50 people over a day:
 *    commands, denials, intents), off the request path: the tail reads the store, never the hot path;
 * 2. the time from the record that completes a burst of denials to the message in #security, with
 *    the production pacing (the trail read every 5 s) on the sandbox bot.
 */
export async function benchDetections(): Promise<void> {
  perRecord();
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
