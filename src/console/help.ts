import type { SandboxBot } from '../sandbox/sandbox-bot.js';

/** What the console prints when it starts: where the bot runs and where its state is. */
export function banner(bot: SandboxBot): string {
  return [
    `opsbot console: the bot runs at ${bot.base} against a simulated Slack (${bot.slack.url})`,
    bot.vault
      ? `and a simulated Vault (${bot.vault.server.url}) holding canary secrets in KV v2, logged into with the task role; state is SQLite in ${bot.dir} (removed when you leave).`
      : `and a simulated Secrets Manager holding canary secrets; state is SQLite in ${bot.dir} (removed when you leave).`,
    modeLine(bot),
    'Type :help for what you can do here, or try /opsbot help.',
  ].join('\n');
}

/** Which mode runs, and what `:alert` and `:event` go through in it. */
function modeLine(bot: SandboxBot): string {
  if (!bot.socketMode)
    return 'HTTP mode: Slack posts to /slack/events, :alert to /webhooks/datadog, :event to /webhooks/aws-events (npm run console -- --socket-mode runs it with no inbound path).';
  const queue = bot.sqs ? ` (${bot.sqs.server.url})` : '';
  return [
    'Socket Mode, no inbound path: Slack over a Socket Mode connection; :alert and :storm go through the intake function',
    `(its handler in-process, fed a function URL's event) and the bot's intake router; :event goes on the SQS events queue opsbot-events${queue},`,
    'with a dead-letter queue after 5 receives, which the bot long-polls.',
  ].join('\n');
}

/** `:help`: how to type commands, and every console command, with the workspace's users and channels. */
export function helpText(bot: SandboxBot): string {
  const ws = bot.slack.workspace;
  const users = [...ws.users.values()].map((u) => {
    const groups = [...ws.usergroups.values()].filter((g) => g.users.includes(u.id));
    const about = [u.id, ...(u.isAdmin ? ['an admin'] : []), ...groups.map((g) => `in @${g.handle}`)];
    return `${u.name} (${about.join(', ')})`;
  });
  const channels = [...ws.channels.values()].map((c) => `#${c.name} (${c.id})`);
  return [
    'Type a slash command as in Slack, e.g.',
    '  /opsbot help        /opsbot whoami        /gh help        /gh issue create',
    '@user, #channel and @group are sent as Slack sends them: /opsbot audit --user @dev',
    'A command that opens a form asks for each field in turn (a choice by number or name); :cancel closes it.',
    'Console commands:',
    '  :help               this list',
    `  :as <user>          act as someone else: ${users.join(', ')}`,
    `  :in <channel>       act in a channel: ${channels.join(', ')}`,
    '  :click <n|name>     press button n (or an option of a menu) of the latest reply that has buttons,',
    '                      or the newest button you can see by that name (:click Approve)',
    '                      (a button with a confirmation dialog asks first: y presses it)',
    "  :home               open opsbot's App Home tab (your dev environments, what you may run); :click its buttons",
    "  :say <text>         post a message as you in this channel (a person's message, not a command; the leak watch reads it)",
    '  :shortcut [n]       use the message shortcut "Create Jira issue" on the latest message in this channel:',
    "                      yours from :say or opsbot's last one shown here (n: the nth latest)",
    '  :status             health and readiness of the bot',
    "  :secrets            each secret's loaded and pending version (never a value)",
    `  :rotate <name> [hold|finish]   rotate a secret as /opsbot rotate does (${bot.provider.names().join(', ')}): RotateSecret runs`,
    "                      opsbot's rotation function against the simulated vendors; a person-made value (jira, github, slack)",
    '                      is made and put as AWSPENDING first (hold stops there, finish rotates what is held)',
    '  /opsbot secrets     every secret: version, rotation schedule, what is overdue; /opsbot rotate <secret> [--emergency]',
    '  :audit              the last audit records, and whether the hash chain is intact',
    "  :logs [warn|error|audit|all] [n]   the bot's log lines: warnings and errors first, then recent ones",
    '  :alert [transition] [title]   Datadog sends an alert webhook for a monitor it has (Triggered by default;',
    '                      Recovered, Re-Triggered…, and Warn or No Data alone, continue the last alert); :click its buttons',
    bot.socketMode
      ? "                      Socket Mode: to the intake function (the bot's intake router routes what it stored, within a second here)"
      : '                      HTTP mode: to the bot, POST /webhooks/datadog',
    '  (alerts, DMs and late replies are printed when they arrive, above the prompt)',
    `  :storm [n]          Datadog sends n alerts at once (20 by default), ${bot.socketMode ? 'through the intake function' : 'to the bot'}: watch them fold into a digest`,
    '  :event <GetSecretValue|PutSecretValue|…> [principal-arn] [secret]   EventBridge sends a CloudTrail call on',
    '                      an opsbot secret (by default a user outside security.expectedPrincipals): see #security',
    bot.socketMode
      ? '                      Socket Mode: SendMessage on the events queue, which the bot long-polls'
      : '                      HTTP mode: to the bot, POST /webhooks/aws-events with the events key',
    '  :time +25m          move the sandbox clock forward (dev-env expiry warnings, the reaper)',
    '  :quit               stop the bot, remove its temp dir and leave (Ctrl-D and Ctrl-C work too)',
  ].join('\n');
}
