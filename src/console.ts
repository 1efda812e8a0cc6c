import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { COMMANDS } from '../commands/index.js';
import { startOpsbot } from './app.js';
import { TrailAuditSink } from './audit/sink.js';
import { systemClock } from './clock.js';
import { INTEGRATIONS, type IntegrationName, loadConfig } from './config.js';
import { createCredentials } from './credentials/from-config.js';
import type { CredentialProvider } from './credentials/provider.js';
import { createLogger, SecretRedactor } from './log.js';
import { createMetrics } from './metrics.js';
import { SimulatedSecretsManager } from './sandbox/secrets-manager.js';
import { openState } from './store/open.js';

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
  :secrets         each secret's state: loaded version, pending version (never a value)
  :rotate github   rotate a secret in the simulated Secrets Manager (:rotate github hold stops at AWSPENDING)
  :audit           the audit events so far
  :quit            stop the bot and leave (Ctrl-D works too)
Slash commands (/gh, /jira, /dd, /devenv, /opsbot) arrive with the Slack core issue.`;

export async function runConsole(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-console-'));
  const configPath = join(dir, 'opsbot.yaml');
  writeFileSync(configPath, SAMPLE_CONFIG);
  const secretsManager = new SimulatedSecretsManager();
  const { url: secretsUrl } = await secretsManager.start();
  seedSecrets(secretsManager);
  const loaded = loadConfig({
    OPSBOT_SECRET_SOURCE: 'aws',
    OPSBOT_SECRET_POLL_SECONDS: '5',
    AWS_REGION: 'us-east-1',
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
  const state = openState(config.state);
  const audit = new TrailAuditSink(state, log);
  const { provider, metrics: credentialMetrics } = createCredentials({
    config,
    env: {},
    log,
    redactor,
    registry: metrics,
    audit,
    clock: systemClock,
    // The simulated Secrets Manager takes any signature; these are not credentials.
    aws: { endpoint: secretsUrl, credentials: { accessKeyId: 'CONSOLE', secretAccessKey: 'console' } },
  });
  const app = await startOpsbot({
    config,
    log,
    metrics,
    credentials: provider,
    credentialMetrics,
    state,
    audit,
    clock: systemClock,
    commands: COMMANDS,
    host: '127.0.0.1',
  });
  await app.loading;
  const base = `http://127.0.0.1:${app.address.port}`;
  let user = 'U0DEV';
  let channel = 'C0DEV';
  const say = (text: string) => output.write(`${text}\n`);

  say(`opsbot console: the bot is running at ${base} with simulated secrets (config in ${dir}).`);
  say(`Secrets come from a simulated Secrets Manager at ${secretsUrl}, polled every 5 s.`);
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
    else if (word === ':secrets') say(describeSecrets(provider, secretsManager));
    else if (word === ':audit') {
      const records = (await state.queryAudit({ limit: 20 })).reverse();
      const lines = records.map((r) => `#${r.seq} ${r.at} ${r.action} ${JSON.stringify(r.details)}`);
      const check = await state.verifyAudit();
      lines.push(
        check.ok
          ? `chain intact (${check.checked} records)`
          : `chain BROKEN at #${check.brokenAt}: ${check.why}`,
      );
      say(lines.join('\n'));
    } else if (word === ':rotate') say(rotate(secretsManager, provider.secretName.bind(provider), line));
    else if (line.startsWith('/'))
      say(`${word} is not available yet: slash commands arrive with the Slack core.`);
    else say(`I don't know "${line.slice(0, 60)}". Type :help for the list.`);
    prompt();
  }
  rl.close();
  await app.stop(2_000);
  await secretsManager.stop();
  say('\nbye');
}

/** Canary secrets for every integration: obviously fake, and never printed. */
function seedSecrets(sm: SimulatedSecretsManager): void {
  const hex = (n: number) => randomBytes(n).toString('hex');
  sm.create(
    'opsbot/slack',
    JSON.stringify({ botToken: `xoxb-test-canary-${hex(8)}`, signingSecret: `test-canary-${hex(16)}` }),
  );
  sm.create('opsbot/github', JSON.stringify({ token: `github_pat_test-canary-${hex(12)}` }));
  sm.create(
    'opsbot/jira',
    JSON.stringify({ email: 'opsbot@example.com', apiToken: `jira-test-canary-${hex(12)}` }),
  );
  sm.create(
    'opsbot/datadog',
    JSON.stringify({
      apiKey: `dd-test-canary-${hex(16)}`,
      appKey: `dd-test-canary-${hex(20)}`,
      webhookSecret: `test-canary-${hex(16)}`,
    }),
  );
}

function describeSecrets(provider: CredentialProvider, sm: SimulatedSecretsManager): string {
  return INTEGRATIONS.map((integration) => {
    const name = provider.secretName(integration);
    if (!provider.isLoaded(integration)) return `${name}: not loaded`;
    const current = provider.current(integration).versionId;
    const pending = provider.pending(integration)?.versionId;
    const store = Object.entries(sm.stagesOf(name))
      .map(([id, stages]) => `${id.slice(0, 8)}=${stages.join('+')}`)
      .join(' ');
    return `${name}: using ${current.slice(0, 8)}${pending ? `, pending ${pending.slice(0, 8)} prefetched` : ''} · store: ${store}`;
  }).join('\n');
}

function rotate(
  sm: SimulatedSecretsManager,
  secretName: (i: IntegrationName) => string,
  line: string,
): string {
  const [, which, mode] = line.split(/\s+/);
  const integration = INTEGRATIONS.find((i) => i === which);
  if (!integration) return `usage: :rotate <${INTEGRATIONS.join('|')}> [hold|finish]`;
  const name = secretName(integration);
  try {
    if (mode === 'finish') {
      sm.finishRotation(name);
      return `${name}: rotation finished; the bot picks it up within 5 s (try :secrets)`;
    }
    const version = sm.rotate(name, { hold: mode === 'hold' });
    return mode === 'hold'
      ? `${name}: version ${version.slice(0, 8)} staged as AWSPENDING; \`:rotate ${integration} finish\` completes it`
      : `${name}: rotated to version ${version.slice(0, 8)}; the bot picks it up within 5 s (try :secrets)`;
  } catch (error) {
    return `${name}: ${error instanceof Error ? error.message : 'rotation failed'}`;
  }
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
