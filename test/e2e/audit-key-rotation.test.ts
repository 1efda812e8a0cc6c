import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChainKeys } from '../../src/audit/chain.js';
import { KEY_ROTATED } from '../../src/audit/chain.js';
import type { AuditRecord } from '../../src/audit/records.js';
import { describeCheck } from '../../src/audit/verify-report.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { openSqliteState } from '../../src/store/sqlite.js';
import { assertNoCanary } from '../helpers/canary.js';

let bot: SandboxBot;

beforeAll(async () => {
  bot = await startSandboxBot({ pollSeconds: 60 });
});
afterAll(async () => {
  await bot?.stop();
});

const admin = async (text: string) => {
  const delivery = await bot.slack.sendSlashCommand({
    command: '/opsbot',
    text,
    userId: 'U0ADMIN',
    channelId: 'C0OPS',
  });
  const [reply] = await bot.slack.waitForResponse(delivery.responseUrl);
  return reply?.text ?? '';
};
const auditVersion = () => bot.provider.current('audit').versionId;

describe('rotating the audit chain key', () => {
  it('links old and new keys with a key_rotated record chained with the old key, with no restart', async () => {
    await admin('whoami');
    const v1 = auditVersion();
    const chainKey = randomBytes(32).toString('base64');
    bot.secretsManager.setRotator('opsbot/audit', () => JSON.stringify({ chainKey }));
    bot.secretsManager.rotate('opsbot/audit');
    // The bot checks the source now rather than at its next poll.
    await bot.provider.refreshAfterAuthFailure('audit', v1);
    const v2 = auditVersion();
    expect(v2).not.toBe(v1);
    await admin('whoami');
    await expect.poll(() => bot.state.audit.head()?.keyVersion).toBe(v2);

    const records = await bot.state.audit.query({ limit: 200 });
    const rotation = records.find((r) => r.action === KEY_ROTATED) as AuditRecord;
    expect(rotation).toMatchObject({
      actor: 'opsbot',
      keyVersion: v1,
      details: { from: v1, to: v2, chainedWith: 'from' },
    });
    expect(records.filter((r) => r.seq > rotation.seq).every((r) => r.keyVersion === v2)).toBe(true);
    expect(records.filter((r) => r.seq < rotation.seq).every((r) => r.keyVersion === v1)).toBe(true);
    expect(await admin('audit --verify')).toMatch(
      /^:white_check_mark: The audit trail is intact: \d+ records/,
    );
    assertNoCanary({ logs: bot.logLines.join('\n'), audit: records }, [chainKey]);

    // After a restart that no longer has v1 (the provider keeps only CURRENT, PENDING and PREVIOUS,
    // and loads PREVIOUS only after a change), v1's records are reported as unverifiable, not tampered.
    const key = Buffer.from(chainKey, 'base64');
    const onlyV2: ChainKeys = {
      current: () => ({ version: v2, key }),
      get: (v) => (v === v2 ? key : undefined),
    };
    const restarted = openSqliteState({ path: join(bot.dir, 'opsbot.db') });
    restarted.audit.attach({ keys: onlyV2 });
    const check = await restarted.audit.verify();
    restarted.close();
    expect(check).toMatchObject({ ok: true, unverifiable: [{ keyVersion: v1, from: 1, to: rotation.seq }] });
    expect(describeCheck(check, { keyed: true })).toContain(
      `:warning: The audit trail links up (${check.checked} records), but opsbot cannot verify records chained with key version \`${v1}\` (#1–#${rotation.seq}, ${rotation.seq} records): that key is no longer available to it. Every other record checks out.`,
    );
  });
});
