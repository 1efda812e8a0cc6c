import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { startOpsbot } from './app.js';
import { MemoryAuditSink } from './audit/sink.js';
import { systemClock } from './clock.js';
import { loadConfig } from './config.js';
import { createCredentials } from './credentials/from-config.js';
import { createLogger, SecretRedactor } from './log.js';
import { createMetrics } from './metrics.js';

/**
 * `npm run console`: the bot in a terminal against simulated services, no account needed.
 * Foundation stage: starts the HTTP app with canary secrets and a sample policy in a temp dir and
 * answers console commands; slash commands arrive with the Slack core.
 */
const SAMPLE_CONFIG = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["gh:*", "jira:*", "dd:*", "devenv:*"]
      channels: [C0DEV]
`;

const HELP = `Console commands:
  :help            this list
  :status          health and readiness of the running bot
  :as U0ADMIN      act as a Slack user (default U0DEV)
  :in C0DEV        act in a channel (default C0DEV)
  :logs            show the bot's recent log lines
  :quit            stop the bot and leave (Ctrl-D works too)
Slash commands (/gh, /jira, /dd, /devenv, /opsbot) arrive with the Slack core issue.`;

export async function runConsole(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-console-'));
  const configPath = join(dir, 'opsbot.yaml');
  writeFileSync(configPath, SAMPLE_CONFIG);
  const slackSecret = JSON.stringify({
    botToken: `xoxb-test-canary-${randomBytes(8).toString('hex')}`,
    signingSecret: `test-canary-${randomBytes(16).toString('hex')}`,
  });
  const loaded = loadConfig({
    OPSBOT_SECRET_SOURCE: 'env',
    OPSBOT_SECRET_SLACK: slackSecret,
    OPSBOT_CONFIG: configPath,
    OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
    LOG_LEVEL: 'info',
  });
  const config = { ...loaded, port: 0 }; // any free port on 127.0.0.1
  const redactor = new SecretRedactor();
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(...chunk.toString().trim().split('\n'));
      if (logLines.length > 200) logLines.splice(0, logLines.length - 200);
      cb();
    },
  });
  const log = createLogger({ level: config.logLevel, redactor, destination });
  const metrics = createMetrics({ defaultMetrics: false });
  const env = { OPSBOT_SECRET_SLACK: slackSecret };
  const audit = new MemoryAuditSink();
  const { provider } = createCredentials({
    config,
    env,
    log,
    redactor,
    registry: metrics,
    audit,
    clock: systemClock,
  });
  const app = await startOpsbot({ config, log, metrics, credentials: provider, host: '127.0.0.1' });
  await app.loading;
  const base = `http://127.0.0.1:${app.address.port}`;
  let user = 'U0DEV';
  let channel = 'C0DEV';
  const say = (text: string) => output.write(`${text}\n`);

  say(`opsbot console: the bot is running at ${base} with simulated secrets (config in ${dir}).`);
  say('Type :help for what you can do here.');
  const rl = createInterface({ input, terminal: false });
  const prompt = () => output.write(`${user}@${channel}> `);
  prompt();
  for await (const raw of rl) {
    const line = raw.trim();
    const [word, arg] = line.split(/\s+/, 2);
    if (line === '') {
      // nothing
    } else if (word === ':help') say(HELP);
    else if (word === ':quit' || word === ':q') break;
    else if (word === ':status') {
      const health = await fetch(`${base}/healthz`);
      const ready = (await (await fetch(`${base}/readyz`)).json()) as { ready: boolean };
      say(`health: ${health.status === 200 ? 'ok' : health.status} · ready: ${ready.ready ? 'yes' : 'no'}`);
    } else if (word === ':as' && arg && /^[UW][A-Z0-9]{2,20}$/.test(arg)) {
      user = arg;
      say(`now acting as ${user}`);
    } else if (word === ':in' && arg && /^#?[CGD][A-Z0-9]{2,20}$/.test(arg)) {
      channel = arg.replace(/^#/, '');
      say(`now in ${channel}`);
    } else if (word === ':logs') say(logLines.slice(-20).join('\n') || '(no log lines yet)');
    else if (line.startsWith('/'))
      say(`${word} is not available yet: slash commands arrive with the Slack core.`);
    else say(`I don't know "${line.slice(0, 60)}". Type :help for the list.`);
    prompt();
  }
  rl.close();
  await app.stop(2_000);
  say('\nbye');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runConsole(process.stdin, process.stdout).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`console failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
