import { randomUUID } from 'node:crypto';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STAGE } from '../credentials/source.js';
import type { SandboxBot } from '../sandbox/sandbox-bot.js';

/** How long `:rotate` waits for the new value, then for the bot to use it. */
const WAIT_MS = 30_000;

/**
 * `:rotate <name>` on the `vault` source: the new value is made where the sandbox makes values (a
 * person-made one at the simulated vendor, an automatic one by opsbot's real rotation function run
 * in the sandbox) and written to Vault as a new KV version, as an operator's `vault kv put` would;
 * the bot picks it up by polling KV metadata (asked to check at once here, as after a rotation it
 * started itself) and the console says which KV version it uses.
 */
export async function rotateInVault(
  bot: SandboxBot,
  integration: string,
  mode: string,
  say: (line: string) => void,
): Promise<void> {
  const vault = bot.vault;
  if (!vault) throw new Error('rotateInVault: the bot does not run on the vault source');
  const name = bot.provider.secretName(integration);
  if (mode !== '') {
    say(
      `${name}: on Vault a new KV version is current as soon as it is written: \`:rotate ${integration}\` (no hold or finish)`,
    );
    return;
  }
  const before = vault.mirror.kvVersionOf(name) ?? 0;
  const personMade = ['github', 'jira', 'slack'].includes(integration) && !hasRefreshToken(bot, name);
  if (personMade) {
    const issued = bot.issueSecret(integration as 'jira' | 'github' | 'slack');
    bot.secretsManager.put(name, issued.value, [STAGE.pending]);
    bot.secretsManager.finishRotation(name);
    issued.promoted();
  } else {
    // What opsbot's rotation function makes (and sets at the vendor): run it, then write the result.
    const client = new SecretsManagerClient({
      endpoint: bot.secretsManagerUrl,
      region: 'us-east-1',
      credentials: { accessKeyId: 'SANDBOX', secretAccessKey: 'sandbox' },
    });
    try {
      await client.send(
        new RotateSecretCommand({
          SecretId: name,
          ClientRequestToken: randomUUID(),
          RotateImmediately: true,
        }),
      );
    } finally {
      client.destroy();
    }
  }
  const written = await until(() => {
    vault.mirror.sync();
    const now = vault.mirror.kvVersionOf(name) ?? 0;
    return now > before ? now : undefined;
  });
  if (written === undefined) {
    say(`${name}: no new value within ${WAIT_MS / 1_000} s (the rotation function's log: :logs)`);
    return;
  }
  say(
    `${name}: written to Vault as KV version ${written} (secret/data/${name}); the bot polls metadata and reads it`,
  );
  const served = await until(async () => {
    await bot.provider.checkNow(integration);
    return bot.provider.current(integration).versionId === String(written) ? true : undefined;
  });
  say(
    served
      ? `${name}: the bot uses KV version ${written}; version ${before} is still accepted on inbound checks for the grace`
      : `${name}: the bot does not use KV version ${written} yet (try :secrets)`,
  );
}

function hasRefreshToken(bot: SandboxBot, name: string): boolean {
  const value = bot.secretsManager.valueOf(name);
  return value !== undefined && (JSON.parse(value) as Record<string, unknown>).refreshToken !== undefined;
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>): Promise<T | undefined> {
  const end = Date.now() + WAIT_MS;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > end) return undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
}
