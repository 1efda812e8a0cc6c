import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/records.js';
import { createSecretAdmin, type SecretStatus } from '../../src/credentials/secret-admin.js';
import { UserFacingError } from '../../src/errors.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { overdueReasons } from '../../src/secret-rotation/inventory.js';
import { assertNoCanary } from '../helpers/canary.js';

const DAY = 86_400_000;
let bot: SandboxBot;
const stored: AuditRecord[] = [];

beforeAll(async () => {
  bot = await startSandboxBot({ pollSeconds: 60, onAuditStored: (r) => stored.push(r) });
});
afterAll(async () => {
  await bot?.stop();
});

async function opsbot(text: string, userId = 'U0ADMIN') {
  const delivery = await bot.slack.sendSlashCommand({ command: '/opsbot', text, userId, channelId: 'C0OPS' });
  const [reply] = await bot.slack.waitForResponse(delivery.responseUrl);
  return { text: reply?.text ?? '', blocks: reply?.blocks ?? [] };
}

describe('/opsbot secrets', () => {
  it('is refused to a non-admin', async () => {
    const { text } = await opsbot('secrets', 'U0DEV');
    expect(text).not.toContain('opsbot/');
    expect(text).toContain('only opsbot admins may run it');
  });

  it('lists every secret with its version, rotation and what is overdue, never a value', async () => {
    const { text, blocks } = await opsbot('secrets');
    const lines = text.split('\n');
    const line = (short: string) => lines.find((l) => l.startsWith(`• *${short}* `)) ?? '';
    for (const short of ['slack', 'github', 'jira', 'datadog', 'audit', 'datadog-rotation'])
      expect(line(short), short).toContain(`\`opsbot/${short}\``);
    const auditVersion = bot.provider.current('audit').versionId.slice(0, 8);
    expect(line('audit')).toContain(`version \`${auditVersion}\``);
    expect(line('audit')).toMatch(/rotation on \(every 90 days, next \d{4}-\d{2}-\d{2}\)/);
    expect(line('datadog')).toMatch(/rotation on \(every 30 days/);
    expect(line('jira')).toMatch(/rotation on \(every 90 days/);
    // Slack token rotation is off in this sandbox: its signing secret is person-made, every 90 days.
    expect(line('slack')).toMatch(/rotation on \(every 90 days/);
    expect(line('datadog-rotation')).toContain('not rotated by opsbot');
    expect(line('audit')).toMatch(/rotated never/);
    expect(text).toMatch(/^opsbot's secrets: 7, nothing overdue/);
    expect(line('events')).toContain('not rotated by opsbot');
    expect(JSON.stringify(blocks)).not.toContain('opsbot:rotate');
    assertNoCanary({ reply: text, blocks, logs: bot.logLines.join('\n'), audit: stored }, bot.secrets());
  });

  it('names a vendor expiry within 14 days and a secret not rotated for 90 days', async () => {
    const jira = JSON.parse(bot.secretsManager.valueOf('opsbot/jira') as string) as Record<string, string>;
    const expiresAt = new Date(bot.clock.now() + 10 * DAY).toISOString();
    const version = bot.secretsManager.put('opsbot/jira', JSON.stringify({ ...jira, expiresAt }));
    await bot.provider.refreshAfterAuthFailure('jira', bot.provider.current('jira').versionId);
    expect(bot.provider.current('jira').versionId).toBe(version);
    const soon = await opsbot('secrets');
    expect(soon.text).toMatch(/• \*jira\*.*\n\s+:warning: the vendor expires it in 10 day\(s\)\n/);
    bot.clock.advance(91 * DAY);
    {
      const { text, blocks } = await opsbot('secrets');
      expect(text).toMatch(
        /• \*jira\*.*vendor expiry \d{4}-\d{2}-\d{2}\n\s+:warning: never rotated in 91 days; the vendor has expired it/,
      );
      expect(text).toMatch(/• \*audit\*.*\n\s+:warning: never rotated in 91 days\n/);
      // Overdue and rotatable: a Rotate button each.
      const buttons = JSON.stringify(blocks);
      expect(buttons).toContain('"action_id":"opsbot:rotate","value":"audit"');
      expect(buttons).toContain('"value":"jira"');
      assertNoCanary({ reply: text, blocks }, bot.secrets());
    }
  });
});

describe('with the vault, file or env source', () => {
  it("says opsbot's rotation runs in Secrets Manager, and how to rotate in the source in use", async () => {
    const how = {
      vault:
        /Write the new value as a new KV version \(vault kv put .*no restart; after a leak, destroy the old versions too/,
      file: /Rotate the value in the secret file \(`npm run secrets`\) and restart\.$/,
      env: /Rotate the value in the environment and restart\.$/,
    };
    for (const source of ['vault', 'file', 'env'] as const) {
      const admin = createSecretAdmin({ source });
      const error = await admin.describe('opsbot/audit').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserFacingError);
      expect((error as Error).message).toMatch(
        new RegExp(
          `^Not available with OPSBOT_SECRET_SOURCE=${source}: opsbot's rotation runs in Secrets Manager \\(OPSBOT_SECRET_SOURCE=aws\\)`,
        ),
      );
      expect((error as Error).message).toMatch(how[source]);
    }
  });
});

describe('what is overdue', () => {
  const status = (over: Partial<SecretStatus>): SecretStatus => ({
    name: 'opsbot/x',
    source: 'aws',
    currentVersion: 'v',
    createdAt: 0,
    currentCreatedAt: undefined,
    lastChangedAt: undefined,
    lastRotatedAt: undefined,
    lastAccessedAt: undefined,
    nextRotationAt: undefined,
    rotationEnabled: true,
    schedule: undefined,
    pendingVersion: undefined,
    emergency: false,
    versions: new Map(),
    failure: undefined,
    ...over,
  });
  const row = (s: SecretStatus, rotatable: boolean, expiresAt?: number) => ({
    short: 'x',
    name: 'opsbot/x',
    status: s,
    rotatable,
    loadedVersion: undefined,
    expiresAt,
  });

  it('nothing while rotated within 90 days, rotation on and no expiry within 14 days', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 90 * DAY }),
        fc.option(fc.integer({ min: 14 * DAY + 1, max: 3650 * DAY }), { nil: undefined }),
        fc.boolean(),
        (age, expiresIn, rotatable) => {
          const now = 10_000 * DAY;
          const r = row(
            status({ lastRotatedAt: now - age }),
            rotatable,
            expiresIn === undefined ? undefined : now + expiresIn,
          );
          expect(overdueReasons(r, now)).toEqual([]);
        },
      ),
    );
  });

  it('each reason on its own: 90 days, an expiry within 14 days, rotation off on a rotatable secret', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 90 * DAY + 1, max: 3650 * DAY }),
        fc.integer({ min: -30 * DAY, max: 14 * DAY }),
        fc.boolean(),
        (age, expiresIn, rotatable) => {
          const now = 10_000 * DAY;
          const reasons = overdueReasons(
            row(status({ lastRotatedAt: now - age, rotationEnabled: false }), rotatable, now + expiresIn),
            now,
          );
          expect(reasons[0]).toMatch(/^not rotated for \d+ days$/);
          expect(reasons[1]).toMatch(
            expiresIn <= 0 ? /^the vendor has expired it$/ : /^the vendor expires it in \d+ day\(s\)$/,
          );
          expect(reasons.includes('rotation is off')).toBe(rotatable);
        },
      ),
    );
  });
});
