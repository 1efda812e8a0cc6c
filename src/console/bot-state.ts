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

/** How long `:rotate` waits for the bot to notice a version (it polls Secrets Manager every 5 s). */
const NOTICE_TIMEOUT_MS = 15_000;

/**
 * `:rotate <name> [hold|finish]`: rotates a secret the way README's "Rotating each secret" says,
 * against the simulated vendors, saying each step as it happens: `hold` stops at AWSPENDING,
 * `finish` completes a held rotation, neither does both. Jira and Datadog issue the new
 * credentials and revoke the old ones once the bot uses the new version; Datadog sends the new
 * `webhookSecret` once the bot accepts it; the audit key is 32 random bytes in base64.
 */
export async function rotate(
  bot: SandboxBot,
  args: string,
  say: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const [which, mode] = args.split(/\s+/);
  const names = bot.provider.names();
  const integration = names.find((i) => i === which);
  if (!integration || (mode !== undefined && mode !== 'hold' && mode !== 'finish')) {
    say(`usage: :rotate <${names.join('|')}> [hold|finish]`);
    return;
  }
  const name = bot.provider.secretName(integration);
  const short = (id: string) => id.slice(0, 8);
  try {
    if (integration === 'slack' && mode !== 'finish') {
      bot.rotateSlack({ finish: mode !== 'hold' });
      say(
        `${name}: new bot token and signing secret ${mode === 'hold' ? 'staged as AWSPENDING' : 'rotated'}; Slack already uses them, and so does the bot (try /opsbot whoami)`,
      );
      return;
    }
    const held = pendingVersion(bot, name);
    if (mode === 'finish' && !held) {
      say(`nothing to finish: ${name} has no pending version; \`:rotate ${integration} hold\` stages one`);
      return;
    }
    const version = held && mode === 'finish' ? held : bot.secretsManager.rotate(name, { hold: true });
    if (mode !== 'finish')
      say(`${name}: ${ISSUED[integration] ?? 'a new value'}: version ${short(version)} staged as AWSPENDING`);
    if (mode === 'hold') {
      say(
        `\`:rotate ${integration} finish\` completes it${integration === 'datadog' ? '; until then the bot accepts both webhook secrets once it has prefetched the pending one' : ''}`,
      );
      return;
    }
    const noticed = (what: 'pending' | 'current') => () =>
      bot.provider.current(integration).versionId === version ||
      (what === 'pending' && bot.provider.pending(integration)?.versionId === version);
    if (integration === 'datadog') {
      // The webhook secret: the bot must accept the new one before Datadog sends it.
      say('waiting for the bot to prefetch it (it polls Secrets Manager every 5 s)…');
      if (!(await until(noticed('pending'), signal))) {
        say(
          `${name}: the bot has not prefetched ${short(version)} yet; Datadog keeps the old header. \`:rotate datadog finish\` tries again.`,
        );
        return;
      }
      say('the bot accepts the new webhookSecret as well as the old one; Datadog now sends the new one');
      bot.switchWebhookSecret();
    }
    bot.secretsManager.finishRotation(name);
    say(
      `${name}: rotation finished: version ${short(version)} is AWSCURRENT; waiting for the bot to use it…`,
    );
    if (!(await until(noticed('current'), signal))) {
      say(
        `${name}: the bot does not use ${short(version)} yet; the old credentials stay valid (try :secrets)`,
      );
      return;
    }
    const retired =
      (integration === 'jira' || integration === 'datadog') && bot.retireRotated(integration)
        ? `; ${RETIRED[integration]}`
        : '';
    say(`${name}: the bot uses version ${short(version)}${retired}${AFTER[integration] ?? ''}`);
  } catch (error) {
    say(`${name}: ${error instanceof Error ? error.message : 'rotation failed'}`);
  }
}

/** What the vendor (or the operator) makes for a new version. */
const ISSUED: Record<string, string> = {
  github: 'a new App private key, added to the App',
  jira: 'Jira issued a new API token',
  datadog: 'Datadog issued new API and application keys, with a new webhookSecret',
  audit: 'a new chainKey (32 random bytes, base64)',
};
const RETIRED: Record<string, string> = {
  jira: 'the old API token is revoked at Jira',
  datadog: 'the old API and application keys are revoked at Datadog',
};
const AFTER: Record<string, string> = {
  datadog: ' (the old webhookSecret is still accepted for a grace period)',
  audit:
    ': the next audit record is `audit.key_rotated`, chained with the old key (try /opsbot audit --verify)',
};

function pendingVersion(bot: SandboxBot, name: string): string | undefined {
  return Object.entries(bot.secretsManager.stagesOf(name)).find(([, stages]) =>
    stages.includes('AWSPENDING'),
  )?.[0];
}

/** Polls `done` until it holds (true), `NOTICE_TIMEOUT_MS` passes or `signal` aborts (false). */
async function until(done: () => boolean, signal?: AbortSignal): Promise<boolean> {
  const end = Date.now() + NOTICE_TIMEOUT_MS;
  while (!signal?.aborted && Date.now() < end) {
    if (done()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return done();
}
