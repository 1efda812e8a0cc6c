import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/records.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';

const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["gh:*"]
      channels: [C0DEV]
`;

let bot: SandboxBot;

beforeAll(async () => {
  bot = await startSandboxBot({ configYaml: POLICY, pollSeconds: 60 });
});
afterAll(async () => {
  await bot?.stop();
});

const run = async (text: string, userId = 'U0ADMIN', command = '/opsbot') => {
  const delivery = await bot.slack.sendSlashCommand({ command, text, userId, channelId: 'C0DEV' });
  expect(delivery.status).toBe(200);
  const [reply] = await bot.slack.waitForResponse(delivery.responseUrl);
  return reply?.text ?? '';
};
/** The final record of `action` (not its intent), once stored. */
const finalRecordOf = async (action: string): Promise<AuditRecord> => {
  let found: AuditRecord | undefined;
  await expect
    .poll(async () => {
      found = (await bot.state.audit.query({ command: action, limit: 20 })).find(
        (r) => r.action === action && r.outcome !== 'intent',
      );
      return found !== undefined;
    })
    .toBe(true);
  return found as AuditRecord;
};
/** The anchors the bot logged, oldest first. */
const anchors = () =>
  bot.logLines
    .map((line) => JSON.parse(line) as { auditAnchor?: { seq: number; hash: string }; msg?: string })
    .filter((line) => line.auditAnchor !== undefined);

describe('the audit trail, end to end', () => {
  it('chains with the audit secret, logs its head as an anchor at start and after each commit', async () => {
    const [atStart] = anchors();
    expect(atStart).toMatchObject({
      msg: 'audit trail head at start-up (as read from the database)',
      auditAnchor: { seq: 0 },
    });
    await run('whoami');
    await expect.poll(() => anchors().length).toBeGreaterThan(1);
    const head = bot.state.audit.head();
    expect(head?.keyVersion).toMatch(/^[0-9a-f-]{36}$/);
    expect(anchors().at(-1)?.auditAnchor).toEqual({ seq: head?.seq, hash: head?.hash });
    expect(bot.logLines.join('\n')).not.toContain('chained without a key');
  });

  it('verifies against the last anchor from the log, and reports a trail cut short', async () => {
    await run('whoami');
    await expect.poll(() => anchors().at(-1)?.auditAnchor?.seq).toBe(bot.state.audit.head()?.seq);
    const anchor = anchors().at(-1)?.auditAnchor as { seq: number; hash: string };
    const intact = await run(`audit --verify --anchor ${anchor.seq}:${anchor.hash.slice(0, 16)}`);
    expect(intact).toMatch(
      /^:white_check_mark: The audit trail is intact: \d+ records, every hash and link checks out\./,
    );
    expect(intact).toContain('It reaches the anchor you gave, with the same hash there.');
    const wrong = await run(`audit --anchor ${anchor.seq}:${'0'.repeat(16)}`);
    expect(wrong).toContain(
      `:rotating_light: The audit trail is broken at record #${anchor.seq}: its hash differs from the anchor you gave`,
    );
    expect(await run('audit --verify --anchor 12:nothex')).toContain(
      '--anchor must be a record number and its hash (as --verify prints them), like `12:0f3a9c1e5b7d2468`',
    );

    // Someone deletes the newest records: the trail no longer reaches what opsbot stored.
    // The last command's own record is stored just after its answer: wait until the head stops moving.
    let last = -1;
    await expect
      .poll(async () => {
        const before = bot.state.audit.head()?.seq ?? 0;
        await new Promise((resolve) => setTimeout(resolve, 100));
        const after = bot.state.audit.head()?.seq ?? 0;
        last = after;
        return before === after;
      })
      .toBe(true);
    const db = new DatabaseSync(join(bot.dir, 'opsbot.db'));
    db.prepare('DELETE FROM audit WHERE seq > ?').run(last - 2);
    db.close();
    const cut = await run('audit --verify');
    expect(cut).toContain(
      `:rotating_light: The audit trail is broken at record #${last - 1}: the trail ends at #${last - 2}`,
    );
  });
});

describe('an unreadable record', () => {
  it('is shown as such in /opsbot audit and reported as a break by --verify, never as an internal error', async () => {
    const fresh = await startSandboxBot({ configYaml: POLICY, pollSeconds: 60 });
    try {
      const ask = async (text: string) => {
        const delivery = await fresh.slack.sendSlashCommand({
          command: '/opsbot',
          text,
          userId: 'U0ADMIN',
          channelId: 'C0DEV',
        });
        const [reply] = await fresh.slack.waitForResponse(delivery.responseUrl);
        return reply?.text ?? '';
      };
      await ask('whoami');
      await expect.poll(() => (fresh.state.audit.head()?.seq ?? 0) >= 3).toBe(true);
      const db = new DatabaseSync(join(fresh.dir, 'opsbot.db'));
      db.prepare('UPDATE audit SET record = \'{"seq": 2, broken\' WHERE seq = 2').run();
      db.close();
      const list = await ask('audit --limit 50');
      expect(list).toContain('#2 · :warning: this record cannot be read (its record is not valid JSON)');
      expect(list).not.toContain('something went wrong');
      const verified = await ask('audit --verify');
      expect(verified).toContain(
        ':rotating_light: The audit trail is broken at record #2: it cannot be read (its record is not valid JSON). 1 record before it check out.',
      );
    } finally {
      await fresh.stop();
    }
  });
});

describe('buttons', () => {
  it("name their target in the audit record: the Re-run button's repository and run id", async () => {
    const press = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'C0DEV',
      actionId: 'gh:rerun',
      value: 'acme/web:9001',
    });
    await bot.slack.waitForResponse(press.responseUrl);
    const record = await finalRecordOf('gh:rerun');
    expect(record.details).toMatchObject({ kind: 'button', args: 'value=acme/web:9001', result: 'ok' });
    // Its intent was stored before GitHub was called, with the same target.
    const intent = (await bot.state.audit.query({ command: 'gh:rerun', limit: 20 })).find(
      (r) => r.outcome === 'intent',
    );
    expect(intent).toMatchObject({ actor: 'U0DEV', details: { args: 'value=acme/web:9001' } });
    expect(intent?.seq).toBeLessThan(record.seq);
  });
});
