import { describeCheck } from '../audit/verify-report.js';
import type { SandboxBot } from '../sandbox/sandbox-bot.js';

/**
 * The console's views of the running bot's state (`:status`, `:secrets`, `:audit`) and `:rotate`,
 * which rotates a secret in the simulated Secrets Manager the way a rotation Lambda does. None of
 * them ever prints a secret value: versions are shown by id.
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
      const store = Object.entries(secretsManager.stagesOf(name))
        .map(([id, stages]) => `${id.slice(0, 8)}=${stages.join('+')}`)
        .join(' ');
      return `${name}: using ${current.slice(0, 8)}${pending ? `, pending ${pending.slice(0, 8)} prefetched` : ''} · store: ${store}`;
    })
    .join('\n');
}

/** `:rotate <name> [hold|finish]`: rotates, stages (hold) or completes (finish) a rotation. */
export function rotate(bot: SandboxBot, args: string): string {
  const [which, mode] = args.split(/\s+/);
  const names = bot.provider.names();
  const integration = names.find((i) => i === which);
  if (!integration || (mode !== undefined && mode !== 'hold' && mode !== 'finish'))
    return `usage: :rotate <${names.join('|')}> [hold|finish]`;
  const name = bot.provider.secretName(integration);
  try {
    if (mode === 'finish') {
      const pending = Object.values(bot.secretsManager.stagesOf(name)).some((s) => s.includes('AWSPENDING'));
      if (!pending)
        return `nothing to finish: ${name} has no pending version; \`:rotate ${integration} hold\` stages one`;
      bot.secretsManager.finishRotation(name);
      return `${name}: rotation finished; the bot picks it up within 5 s (try :secrets)`;
    }
    if (integration === 'slack') {
      bot.rotateSlack({ finish: mode !== 'hold' });
      return `${name}: new bot token and signing secret ${mode === 'hold' ? 'staged as AWSPENDING' : 'rotated'}; Slack already uses them, and so does the bot (try /opsbot whoami)`;
    }
    const version = bot.secretsManager.rotate(name, { hold: mode === 'hold' });
    return mode === 'hold'
      ? `${name}: version ${version.slice(0, 8)} staged as AWSPENDING; \`:rotate ${integration} finish\` completes it`
      : `${name}: rotated to version ${version.slice(0, 8)}; the bot picks it up within 5 s (try :secrets)`;
  } catch (error) {
    return `${name}: ${error instanceof Error ? error.message : 'rotation failed'}`;
  }
}
