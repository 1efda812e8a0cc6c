import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainRecord, GENESIS_HASH } from '../../src/audit/chain.js';
import type { AuditRecord } from '../../src/audit/records.js';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { cleanEnv, exitOf, freePort, startMain, waitFor, waitForStatus } from '../helpers/process.js';

/**
 * README.md, "Audit trail": whoever can write the database, without the key, cannot re-chain the
 * trail unnoticed, and records written before the key was set count only once an admin adopts them.
 * opsbot runs as operators run it (its own process, env secrets, a SQLite file) and is restarted.
 */
const STARTUP_MS = 120_000;
const slack = { botToken: canary('xoxb'), signingSecret: canary('sign') };
const workspace = new SimulatedSlack();

beforeAll(async () => {
  await workspace.start();
  workspace.addBotToken(slack.botToken);
  workspace.addUser({ id: 'U0ADMIN', name: 'ada' });
  workspace.addChannel({ id: 'C0OPS', name: 'ops' });
});
afterAll(async () => {
  await workspace.stop();
});

/** Runs opsbot on `dir`'s database (with the audit key when given) until `stop()`. */
async function runOpsbot(dir: string, chainKey: string | undefined) {
  const port = await freePort();
  const { child, output } = startMain(
    cleanEnv({
      OPSBOT_SECRET_SOURCE: 'env',
      OPSBOT_SECRET_SLACK: JSON.stringify(slack),
      ...(chainKey ? { OPSBOT_SECRET_AUDIT: JSON.stringify({ chainKey }) } : {}),
      OPSBOT_CONFIG: join(dir, 'opsbot.yaml'),
      OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
      OPSBOT_SLACK_API_URL: workspace.apiUrl,
      PORT: String(port),
    }),
  );
  // Starting through tsx takes long on a loaded machine: a generous bound, never a timing assertion.
  await waitFor(`http://127.0.0.1:${port}/healthz`, STARTUP_MS);
  expect((await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, STARTUP_MS)).status).toBe(200);
  workspace.configureApp({
    requestUrl: `http://127.0.0.1:${port}/slack/events`,
    signingSecret: slack.signingSecret,
  });
  const admin = async (text: string) => {
    const delivery = await workspace.sendSlashCommand({
      command: '/opsbot',
      text,
      userId: 'U0ADMIN',
      channelId: 'C0OPS',
    });
    const [reply] = await workspace.waitForResponse(delivery.responseUrl);
    return reply?.text ?? '';
  };
  return {
    admin,
    output,
    async stop() {
      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
      assertNoCanary(output(), [...Object.values(slack), ...(chainKey ? [chainKey] : [])]);
    },
  };
}

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-audit-adopt-'));
  writeFileSync(join(dir, 'opsbot.yaml'), 'access:\n  admins: [U0ADMIN]\n');
  return dir;
}

function readTrail(path: string): AuditRecord[] {
  const db = new DatabaseSync(path);
  try {
    const rows = db.prepare('SELECT record FROM audit ORDER BY seq').all() as { record: string }[];
    return rows.map((r) => JSON.parse(r.record) as AuditRecord);
  } finally {
    db.close();
  }
}

/** The attack: delete record `drop`, re-chain the rest with plain SHA-256 as if no key ever existed. */
function deleteAndRechainWithoutKey(path: string, drop: number): number {
  const kept = readTrail(path).filter((r) => r.seq !== drop);
  const db = new DatabaseSync(path);
  try {
    db.exec('BEGIN');
    db.exec('DELETE FROM audit');
    const insert = db.prepare(
      'INSERT INTO audit (seq, at, actor, action, record, hash) VALUES (?, ?, ?, ?, ?, ?)',
    );
    let prevHash = GENESIS_HASH;
    for (const [i, r] of kept.entries()) {
      const { hash: _hash, keyVersion: _keyVersion, seq: _seq, prevHash: _prev, ...event } = r;
      const forged = chainRecord(event, i + 1, r.at, prevHash);
      insert.run(forged.seq, forged.at, forged.actor, forged.action, JSON.stringify(forged), forged.hash);
      prevHash = forged.hash;
    }
    db.exec('COMMIT');
  } finally {
    db.close();
  }
  return kept.length;
}

const lastSeq = (path: string) => readTrail(path).at(-1)?.seq ?? 0;

describe('an audit trail chained without the key, once opsbot has one', () => {
  it('is a break after someone with the database (not the key) deletes a record and re-chains it all with SHA-256', {
    timeout: 600_000,
  }, async () => {
    const dir = freshDir();
    const db = join(dir, 'opsbot.db');
    const chainKey = randomBytes(32).toString('base64');
    const first = await runOpsbot(dir, chainKey);
    await first.admin('whoami');
    await first.admin('whoami');
    expect(await first.admin('audit --verify')).toMatch(/^:white_check_mark: The audit trail is intact/);
    await first.stop();
    expect(readTrail(db).every((r) => r.keyVersion !== undefined)).toBe(true);

    const rechained = deleteAndRechainWithoutKey(db, 3);
    // opsbot restarts with the key and writes keyed records after the forged ones.
    const second = await runOpsbot(dir, chainKey);
    await second.admin('whoami');
    const verdict = await second.admin('audit --verify');
    expect(verdict).toContain(
      `:rotating_light: The audit trail is not vouched for: records #1–#${rechained} are chained without a key (plain SHA-256) and no admin adopted them`,
    );
    expect(verdict).not.toContain('vouch for them');
    expect(verdict).not.toContain(':white_check_mark:');
    expect(second.output().stdout).toContain(`/opsbot audit --adopt-unkeyed ${rechained}`);
    await second.stop();
    // Nothing opsbot wrote after the forged records is unkeyed.
    expect(readTrail(db).filter((r) => r.seq > rechained && r.keyVersion === undefined)).toEqual([]);
  });

  it('started before the key was set is not vouched for until an admin adopts it, then verifies', {
    timeout: 600_000,
  }, async () => {
    const dir = freshDir();
    const db = join(dir, 'opsbot.db');
    const unkeyed = await runOpsbot(dir, undefined);
    await unkeyed.admin('whoami');
    expect(await unkeyed.admin('audit --verify')).toContain(':warning: It is chained without a key');
    await unkeyed.stop();
    const n = lastSeq(db);

    const keyed = await runOpsbot(dir, randomBytes(32).toString('base64'));
    await keyed.admin('whoami');
    expect(await keyed.admin('audit --verify')).toContain(
      `records #1–#${n} are chained without a key (plain SHA-256) and no admin adopted them`,
    );
    expect(await keyed.admin(`audit --adopt-unkeyed ${n - 1}`)).toContain(
      `records #1–#${n} are chained without a key: name the last of them, \`/opsbot audit --adopt-unkeyed ${n}\`.`,
    );
    expect(await keyed.admin(`audit --adopt-unkeyed ${n}`)).toMatch(
      new RegExp(
        `^:white_check_mark: You adopted records #1–#${n}, chained without a key before the audit key was set: record #\\d+ \\(\`audit.unkeyed_adopted\`, chained with the key\\)`,
      ),
    );
    const verified = await keyed.admin('audit --verify');
    expect(verified).toMatch(/^:white_check_mark: The audit trail is intact/);
    expect(verified).toContain(
      `:information_source: Records #1–#${n} were chained without a key, before the audit key was set; an admin adopted them (record #`,
    );
    expect(await keyed.admin(`audit --adopt-unkeyed ${n}`)).toContain('were already adopted');
    await keyed.stop();
    const adoption = readTrail(db).find((r) => r.action === 'audit.unkeyed_adopted');
    expect(adoption).toMatchObject({ actor: 'U0ADMIN', details: { lastUnkeyedSeq: n, records: n } });
    expect(adoption?.keyVersion).toBeDefined();
  });
});
