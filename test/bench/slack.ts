import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import bolt from '@slack/bolt';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import type { CommandModule } from '../../src/slack/command-spec.js';
import { signSlackRequest } from '../../src/slack/verify-request.js';
import { fixedRate, type LoadResult, percentile, type RequestFactory, saturate } from './load.js';

/**
 * `npm run bench -- slack`: signed slash commands through opsbot (signature check against the
 * provider's secrets, Bolt, routing, access policy, audit into SQLite, a trivial handler whose ack
 * is its whole answer) side by side with a bare Bolt app that only acks the same requests.
 * 1. fixed rate: 200 requests/s for BENCH_SLACK_SECONDS (30) — ack latency p50/p99;
 * 2. saturation: 50 concurrent senders, 5 s per app, alternating three times (the median run of
 *    each is reported; alternating keeps a slow moment of the machine from favouring one side).
 * The load generator runs in the same process (2 cores); both apps pay for it alike.
 */
const ping: CommandModule = {
  name: 'bench',
  description: 'benchmark probe',
  subcommands: [
    { name: 'ping', summary: 'acks and says nothing more', examples: ['ping'], run: async () => undefined },
  ],
};

const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["bench:*"]
      channels: [C0DEV]
`;

export async function benchSlack(): Promise<void> {
  const seconds = Number(process.env.BENCH_SLACK_SECONDS ?? 30);
  const rate = Number(process.env.BENCH_SLACK_RATE ?? 200);
  const sink = await responseSink();
  const bot = await startSandboxBot({ configYaml: POLICY, extraCommands: [ping] });
  const signingSecret = currentSigningSecret(bot);
  const make = signedCommands(signingSecret, sink.url);
  try {
    const bare = await bareBolt(signingSecret, bot.slack.apiUrl);
    try {
      report('bare_bolt.fixed_rate', await fixedRate(bare.url, make, rate, seconds));
      report('opsbot.fixed_rate', await fixedRate(`${bot.base}/slack/events`, make, rate, seconds));
      const bareRuns: LoadResult[] = [];
      const opsRuns: LoadResult[] = [];
      for (let round = 0; round < 3; round++) {
        bareRuns.push(await saturate(bare.url, make, 50, 5));
        opsRuns.push(await saturate(`${bot.base}/slack/events`, make, 50, 5));
      }
      const bareMax = median(bareRuns);
      const opsMax = median(opsRuns);
      report('bare_bolt.saturated', bareMax);
      report('opsbot.saturated', opsMax);
      const ratio = opsMax.ok / opsMax.seconds / (bareMax.ok / bareMax.seconds);
      console.log(`slack.throughput_ratio: ${(ratio * 100).toFixed(1)} % (opsbot / bare Bolt, goal >= 80 %)`);
      const audited = (await bot.state.verifyAudit()) as { checked: number };
      console.log(`slack.audit_records: ${audited.checked} records, chain verified`);
      console.log(`slack.responses_received: ${sink.count()} posts to response_url`);
    } finally {
      await bare.stop();
    }
  } finally {
    await bot.stop();
    sink.close();
  }
}

function median(runs: LoadResult[]): LoadResult {
  return [...runs].sort((a, b) => a.ok / a.seconds - b.ok / b.seconds)[
    Math.floor(runs.length / 2)
  ] as LoadResult;
}

function report(name: string, result: LoadResult): void {
  const throughput = result.ok / result.seconds;
  console.log(`slack.${name}.sent: ${result.sent} requests (${result.failed} failed)`);
  console.log(`slack.${name}.ack_p50: ${percentile(result.latenciesMs, 50).toFixed(2)} ms`);
  console.log(`slack.${name}.ack_p99: ${percentile(result.latenciesMs, 99).toFixed(2)} ms`);
  console.log(`slack.${name}.throughput: ${throughput.toFixed(0)} requests/s`);
}

function currentSigningSecret(bot: SandboxBot): string {
  return bot.provider.current('slack').value.reveal().signingSecret;
}

function signedCommands(secret: string, responseUrl: string): RequestFactory {
  let n = 0;
  return () => {
    n++;
    const body = new URLSearchParams({
      token: 'x',
      team_id: 'T0SANDBOX',
      team_domain: 'sandbox',
      channel_id: 'C0DEV',
      channel_name: 'dev',
      user_id: 'U0DEV',
      user_name: 'dev',
      command: '/bench',
      text: 'ping',
      api_app_id: 'A0OPSBOT',
      is_enterprise_install: 'false',
      response_url: `${responseUrl}/${n}`,
      trigger_id: `${n}.trigger`,
    }).toString();
    const ts = String(Math.floor(Date.now() / 1_000));
    return {
      body,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': ts,
        'x-slack-signature': signSlackRequest(secret, ts, body),
      },
    };
  };
}

async function bareBolt(
  signingSecret: string,
  apiUrl: string,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const app = new bolt.App({
    signingSecret,
    token: 'xoxb-bench-not-a-secret',
    botId: 'B0OPSBOT',
    botUserId: 'U0OPSBOT',
    clientOptions: { slackApiUrl: apiUrl },
    logLevel: bolt.LogLevel.ERROR,
  });
  app.command('/bench', async ({ ack }) => {
    await ack();
  });
  const server = (await app.start(0)) as unknown as { address(): AddressInfo };
  return {
    url: `http://127.0.0.1:${server.address().port}/slack/events`,
    stop: () => app.stop() as Promise<void>,
  };
}

async function responseSink(): Promise<{ url: string; count: () => number; close: () => void }> {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`,
    count: () => count,
    close: () => server.close(),
  };
}
