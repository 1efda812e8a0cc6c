import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LeakWatch } from '../../src/leak-watch/watch.js';
import { DatadogWebhookSender, datadogWebhookBody } from '../../src/sandbox/datadog-webhook-sender.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';
import { vaultSpecCheck } from '../helpers/vault-spec.js';

/**
 * The whole bot on the `vault` source (every integration's secret in the simulated Vault's KV v2,
 * logged into with the task role through the simulated STS), on the production wiring. Every
 * request the bot sends Vault is held to Vault's API description.
 */
let bot: SandboxBot;
let watch: LeakWatch | undefined;

beforeAll(async () => {
  bot = await startSandboxBot({
    secretSource: 'vault',
    vaultCheckRequest: vaultSpecCheck,
    pollSeconds: 60,
    leakWatch: { onBuilt: (built) => (watch = built) },
  });
});
afterAll(async () => {
  await bot?.stop();
});

async function ask(command: string, text: string, userId = 'U0ADMIN', channelId = 'C0OPS'): Promise<string> {
  const delivery = await bot.slack.sendSlashCommand({ command, text, userId, channelId });
  expect(delivery.status).toBe(200);
  const [reply] = await bot.slack.waitForResponse(delivery.responseUrl);
  return reply?.text ?? '';
}

const datadogSecret = (stage: 'AWSCURRENT' | 'AWSPREVIOUS' = 'AWSCURRENT') =>
  JSON.parse(bot.secretsManager.valueOf('opsbot/datadog', stage) ?? '{}') as { webhookSecret: string };

describe('opsbot on the vault source', () => {
  it('loads every secret from Vault and every integration answers', async () => {
    for (const integration of ['slack', 'github', 'jira', 'datadog', 'audit']) {
      expect(bot.provider.isLoaded(integration), integration).toBe(true);
      expect(bot.provider.current(integration).versionId, integration).toBe('1');
    }
    expect(await ask('/opsbot', 'whoami')).toContain('*You are* <@U0ADMIN> (`U0ADMIN`)');
    expect(await ask('/gh', 'pr list acme/web', 'U0DEV', 'C0DEV')).toContain(
      'acme/web: 2 open pull requests',
    );
    expect(await ask('/jira', 'issue OPS-1', 'U0DEV', 'C0DEV')).toContain('OPS-1');
    expect(await ask('/dd', 'monitor 1001', 'U0DEV', 'C0DEV')).toContain('High error rate on web');
    expect((await bot.webhooks.send(datadogWebhookBody())).status).toBe(202);
    expect(await ask('/opsbot', 'audit --verify')).toMatch(/The audit trail is intact/);
    const tokens = bot.vault?.server.liveTokens() ?? [];
    expect(tokens.map((t) => [t.method, t.policies.includes('opsbot')])).toEqual([['aws', true]]);
    expect(bot.vault?.server.specProblems).toEqual([]);
  });

  it('a new KV version is used without a restart; the previous is accepted in its grace until an operator destroys it', async () => {
    const old = datadogSecret().webhookSecret;
    bot.secretsManager.rotate('opsbot/datadog'); // a new value, written to Vault as KV version 2
    await vi.waitFor(() => expect(bot.vault?.mirror.kvVersionOf('opsbot/datadog')).toBe(2), {
      timeout: 5_000,
    });
    await bot.provider.checkNow('datadog');
    expect(bot.provider.current('datadog').versionId).toBe('2');
    const stale = new DatadogWebhookSender({ url: `${bot.base}/webhooks/datadog`, secret: old });
    expect((await stale.send(datadogWebhookBody())).status).toBe(202); // the grace
    bot.vault?.server.destroyVersions('secret', 'opsbot/datadog', [1]);
    // The next check (a poll, or as here one asked for at once a little later): version 1 is gone.
    await bot.clock.advance(2_000);
    await bot.provider.checkNow('datadog');
    expect((await stale.send(datadogWebhookBody())).status).toBe(401);
    const fresh = new DatadogWebhookSender({
      url: `${bot.base}/webhooks/datadog`,
      secret: datadogSecret().webhookSecret,
    });
    expect((await fresh.send(datadogWebhookBody())).status).toBe(202);
    const audit = await bot.state.audit.query({ limit: 100 });
    expect(audit.find((r) => r.action === 'secret.previous_revoked')?.details).toMatchObject({
      integration: 'datadog',
      versionId: '1',
    });
  });

  it('/opsbot rotate says how to rotate in Vault; a leaked own secret gets the same advice', async () => {
    expect(await ask('/opsbot', 'rotate slack')).toMatch(
      /Not available with OPSBOT_SECRET_SOURCE=vault: .*new KV version \(vault kv put/,
    );
    const leaked = datadogSecret().webhookSecret;
    await bot.slack.sendUserMessage({ userId: 'U0DEV', channelId: 'C0DEV', text: `header: ${leaked}` });
    await vi.waitFor(
      () => expect(bot.slack.messages('C0SECURITY').filter((m) => m.threadTs !== undefined)).not.toEqual([]),
      { timeout: 30_000, interval: 50 },
    );
    await watch?.idle();
    const followUp = bot.slack
      .messages('C0SECURITY')
      .filter((m) => m.threadTs !== undefined && m.ts !== m.threadTs)
      .at(-1);
    expect(followUp?.text).toMatch(/was not rotated: opsbot does not rotate secrets in Vault/);
    expect(followUp?.text).toMatch(/vault kv destroy -versions=/);
    const audit = await bot.state.audit.query({ limit: 200 });
    assertNoCanary({ slack: bot.slack.calls, logs: bot.logLines, audit }, [...bot.secrets(), leaked]);
    expect(bot.vault?.server.specProblems).toEqual([]);
  });
});
