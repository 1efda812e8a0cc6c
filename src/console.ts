import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { type RenderedButton, renderMessage } from './console/render-blocks.js';
import type { CredentialProvider } from './credentials/provider.js';
import { quietSqliteWarning } from './quiet-warnings.js';
import { type SandboxBot, startSandboxBot } from './sandbox/sandbox-bot.js';
import type { SimulatedSecretsManager } from './sandbox/secrets-manager.js';

/**
 * `npm run console`: the whole bot in a terminal against simulated Slack and Secrets Manager, no
 * account needed. Type slash commands as a chosen user in a chosen channel and see the replies
 * rendered from Block Kit; press buttons by number.
 */
const HELP = `Type a slash command as in Slack, e.g.
  /opsbot help        /opsbot whoami        /gh help        /devenv up small --ttl 4h
Console commands:
  :help               this list
  :as <user>          act as someone else: ${'U0ADMIN (ada, an admin), U0DEV (dev, in @platform), U0GUEST'}
  :in <channel>       act in a channel: C0DEV (#dev), C0OPS (#ops), C0RANDOM (#random); names work too
  :click <n>          press button n of the replies above
  :status             health and readiness of the bot
  :secrets            each secret's loaded and pending version (never a value)
  :rotate <name> [hold|finish]   rotate a secret in the simulated Secrets Manager (slack, github, jira, datadog)
  :audit              the last audit records, and whether the hash chain is intact
  :logs               the bot's recent log lines
  :alert              fire a sample Datadog alert (arrives with the alerts feature)
  :quit               stop the bot and leave (Ctrl-D works too)`;

const USERS: Record<string, string> = { U0ADMIN: 'ada', U0DEV: 'dev', U0GUEST: 'guest' };
const CHANNELS: Record<string, string> = { C0DEV: 'dev', C0OPS: 'ops', C0RANDOM: 'random' };
const NAMES = { users: USERS, channels: CHANNELS };

export async function runConsole(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  const bot = await startSandboxBot();
  const say = (text: string) => output.write(`${text}\n`);
  let user = 'U0DEV';
  let channel = 'C0DEV';
  let buttons: RenderedButton[] = [];
  let nextButton = 1;

  const show = async (responseUrl: string, count: number, label: string) => {
    try {
      const replies = await bot.slack.waitForResponse(responseUrl, { count, timeoutMs: 5_000 });
      for (const reply of replies.slice(count - 1)) {
        const rendered = renderMessage(reply, { names: NAMES, firstButton: nextButton });
        nextButton += rendered.buttons.length;
        buttons = [...buttons, ...rendered.buttons].slice(-50);
        const where =
          reply.responseType === 'in_channel'
            ? `in #${CHANNELS[channel] ?? channel}`
            : 'only you can see this';
        say(`opsbot (${where}):\n${indent(rendered.text)}`);
      }
    } catch {
      say(`(no reply to ${label} within 5 s; :logs may say why)`);
    }
  };

  say(`opsbot console: the bot runs at ${bot.base} against a simulated Slack (${bot.slack.url})`);
  say('and a simulated Secrets Manager holding canary secrets; state is SQLite in a temp dir.');
  say('Type :help for what you can do here, or try /opsbot help.');
  const rl = createInterface({ input, terminal: false });
  const prompt = () => output.write(`${USERS[user] ?? user}@#${CHANNELS[channel] ?? channel}> `);
  prompt();
  for await (const raw of rl) {
    const line = raw.trim();
    const [word = '', ...rest] = line.split(/\s+/);
    const arg = rest.join(' ');
    if (line === '') {
      // nothing
    } else if (word === ':help') say(HELP);
    else if (word === ':quit' || word === ':q') break;
    else if (line.startsWith('/')) {
      const delivery = await bot.slack.sendSlashCommand({
        command: word,
        text: arg,
        userId: user,
        channelId: channel,
      });
      if (delivery.status === 200) {
        await show(delivery.responseUrl, 1, word);
      } else say(`Slack got HTTP ${delivery.status} from the bot: ${delivery.body.slice(0, 200)}`);
    } else if (word === ':click') {
      const button = buttons.find((b) => String(b.n) === arg);
      if (!button)
        say(
          buttons.length
            ? `no button ${arg.slice(0, 10)}; the buttons shown are ${buttons.map((b) => b.n).join(', ')}`
            : 'no buttons yet',
        );
      else {
        const delivery = await bot.slack.sendBlockAction({
          userId: user,
          channelId: channel,
          actionId: button.actionId,
          ...(button.value ? { value: button.value } : {}),
        });
        await show(delivery.responseUrl, 1, `button ${button.n}`);
      }
    } else if (word === ':as') {
      const id = resolve(arg, USERS, '@');
      if (id) {
        user = id;
        say(`now acting as ${USERS[id] ?? id} (${id})`);
      } else
        say(
          `unknown user ${arg.slice(0, 20)}; choose from ${Object.entries(USERS)
            .map(([id, n]) => `${id} (${n})`)
            .join(', ')}`,
        );
    } else if (word === ':in') {
      const id = resolve(arg, CHANNELS, '#');
      if (id) {
        channel = id;
        say(`now in #${CHANNELS[id] ?? id} (${id})`);
      } else
        say(
          `unknown channel ${arg.slice(0, 20)}; choose from ${Object.entries(CHANNELS)
            .map(([id, n]) => `${id} (#${n})`)
            .join(', ')}`,
        );
    } else if (word === ':status') {
      const health = await fetch(`${bot.base}/healthz`);
      const ready = (await (await fetch(`${bot.base}/readyz`)).json()) as { ready: boolean };
      say(`health: ${health.status === 200 ? 'ok' : health.status} · ready: ${ready.ready ? 'yes' : 'no'}`);
    } else if (word === ':logs') say(bot.logLines.slice(-20).join('\n') || '(no log lines yet)');
    else if (word === ':secrets') say(describeSecrets(bot.provider, bot.secretsManager));
    else if (word === ':audit') say(await auditSummary(bot));
    else if (word === ':rotate') say(rotate(bot, line));
    else if (word === ':alert')
      say('Datadog alerts are not in this version yet; :alert will fire a sample webhook once they are.');
    else say(`I don't know "${line.slice(0, 60)}". Type :help for the list.`);
    prompt();
  }
  rl.close();
  await bot.stop();
  say('\nbye');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function resolve(arg: string, names: Record<string, string>, sigil: string): string | undefined {
  const wanted = arg.replace(new RegExp(`^\\${sigil}`), '').trim();
  if (wanted in names) return wanted;
  return Object.entries(names).find(([, name]) => name === wanted.toLowerCase())?.[0];
}

async function auditSummary(bot: SandboxBot): Promise<string> {
  const records = (await bot.state.audit.query({ limit: 20 })).reverse();
  const lines = records.map(
    (r) => `#${r.seq} ${r.at} ${r.actor} ${r.action} ${r.outcome} ${JSON.stringify(r.details)}`,
  );
  const check = await bot.state.audit.verify();
  lines.push(
    check.ok ? `chain intact (${check.checked} records)` : `chain BROKEN at #${check.brokenAt}: ${check.why}`,
  );
  return lines.join('\n');
}

function describeSecrets(provider: CredentialProvider, sm: SimulatedSecretsManager): string {
  return provider
    .names()
    .map((integration) => {
      const name = provider.secretName(integration);
      if (!provider.isLoaded(integration)) return `${name}: not loaded`;
      const current = provider.current(integration).versionId;
      const pending = provider.pending(integration)?.versionId;
      const store = Object.entries(sm.stagesOf(name))
        .map(([id, stages]) => `${id.slice(0, 8)}=${stages.join('+')}`)
        .join(' ');
      return `${name}: using ${current.slice(0, 8)}${pending ? `, pending ${pending.slice(0, 8)} prefetched` : ''} · store: ${store}`;
    })
    .join('\n');
}

function rotate(bot: SandboxBot, line: string): string {
  const [, which, mode] = line.split(/\s+/);
  const names = bot.provider.names();
  const integration = names.find((i) => i === which);
  if (!integration) return `usage: :rotate <${names.join('|')}> [hold|finish]`;
  const name = bot.provider.secretName(integration);
  try {
    if (mode === 'finish') {
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

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  quietSqliteWarning();
  runConsole(process.stdin, process.stdout).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`console failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
