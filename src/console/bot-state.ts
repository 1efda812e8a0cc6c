import { describeCheck } from '../audit/verify-report.js';
import type { SandboxBot } from '../sandbox/sandbox-bot.js';

/**
 * The console's views of the running bot's state (`:status`, `:secrets`, `:audit`; `:rotate` is
 * rotate.ts). None of them ever prints a secret value: versions are shown by id.
 */

/** `:status`: the bot's health and readiness endpoints. */
export async function status(bot: SandboxBot): Promise<string> {
  const health = await fetch(`${bot.base}/healthz`);
  const ready = (await (await fetch(`${bot.base}/readyz`)).json()) as { ready: boolean };
  return `health: ${health.status === 200 ? 'ok' : health.status} · ready: ${ready.ready ? 'yes' : 'no'}`;
}

/** `:audit`: the last 20 audit records, oldest first, and whether the hash chain is intact. */
export async function auditSummary(bot: SandboxBot): Promise<string> {
  const records = (await bot.state.audit.query({ limit: 20 })).reverse();
  const lines = records.map(
    (r) => `#${r.seq} ${r.at} ${r.actor} ${r.action} ${r.outcome} ${JSON.stringify(r.details)}`,
  );
  const check = await bot.state.audit.verify();
  lines.push(describeCheck(check, { keyed: true }));
  return lines.join('\n');
}

/** `:secrets`: each secret's loaded version, a prefetched pending one, and the store's labels. */
export function describeSecrets(bot: SandboxBot): string {
  const { provider, secretsManager } = bot;
  return provider
    .names()
    .map((integration) => {
      const name = provider.secretName(integration);
      if (!provider.isLoaded(integration)) return `${name}: not loaded`;
      const current = provider.current(integration).versionId;
      const pending = provider.pending(integration)?.versionId;
      const kv = bot.vault?.mirror.kvVersionOf(name);
      const store = bot.vault
        ? `vault: KV version ${kv ?? '?'} current`
        : Object.entries(secretsManager.stagesOf(name))
            .map(([id, stages]) => `${id.slice(0, 8)}=${stages.join('+')}`)
            .join(' ');
      return `${name}: using ${current.slice(0, 8)}${pending ? `, pending ${pending.slice(0, 8)} prefetched` : ''} · store: ${store}`;
    })
    .join('\n');
}
