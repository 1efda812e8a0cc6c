import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeVersionProblem } from '../../src/node-version.js';
import { SimulatedSecretsManager } from '../../src/sandbox/secrets-manager.js';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import {
  buildProduction,
  cleanEnv,
  exitOf,
  exitWithin,
  FAKE_NODE_20,
  freePort,
  startMain,
  waitFor,
  waitForStatus,
} from '../helpers/process.js';

/**
 * The BUILT server (what `npm start` runs) in Socket Mode against a simulated Slack and a simulated
 * Secrets Manager: a revoked app token must not crash it, readiness must follow the real
 * connection, and a new app token in the secret must bring it back without a restart.
 */
let out = '';
beforeAll(() => {
  out = buildProduction();
}, 120_000);
afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

/** Parsed JSON log lines of the child's stdout. */
function logsOf(stdout: string): Array<{ msg: string; level: string } & Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; level: string });
}

async function readyz(port: number): Promise<{ status: number; checks: Record<string, boolean> }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, boolean> }).checks };
}

/** The built server in Socket Mode, reading secrets under `prefix` from the simulated Secrets Manager. */
async function startBuilt(
  services: { slack: SimulatedSlack; endpoint: string },
  tempPrefix: string,
  prefix: string,
) {
  const { slack, endpoint } = services;
  const dir = mkdtempSync(join(tmpdir(), tempPrefix));
  const config = join(dir, 'opsbot.yaml');
  writeFileSync(config, 'access:\n  admins: [U0ADMIN]\n');
  const port = await freePort();
  const started = startMain(
    cleanEnv({
      OPSBOT_SLACK_MODE: 'socket',
      OPSBOT_SLACK_API_URL: slack.apiUrl,
      OPSBOT_SECRET_PREFIX: prefix,
      OPSBOT_SECRET_POLL_SECONDS: '5',
      OPSBOT_CONFIG: config,
      OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
      PORT: String(port),
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
      AWS_ACCESS_KEY_ID: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
      AWS_SECRET_ACCESS_KEY: canary('aws'),
    }),
    { entry: join(out, 'src/main.js'), cwd: dir },
  );
  return { ...started, port, dir };
}

describe('the built opsbot process in Socket Mode', () => {
  const sm = new SimulatedSecretsManager();
  const slack = new SimulatedSlack();
  let endpoint = '';
  beforeAll(async () => {
    ({ url: endpoint } = await sm.start());
    await slack.start();
    slack.addUser({ id: 'U0ADMIN', name: 'ada' });
    slack.addChannel({ id: 'C0DEV', name: 'dev' });
    slack.useSocketMode();
  });
  afterAll(async () => {
    await slack.stop();
    await sm.stop();
  });

  it('survives a revoked app token (503, slack:false), and reconnects once the secret has a new one', async () => {
    const first = { botToken: canary('xoxb'), signingSecret: canary('sign'), appToken: canary('xapp') };
    slack.addBotToken(first.botToken);
    slack.addAppToken(first.appToken);
    sm.create('e2e/slack', JSON.stringify(first));
    const { child, output, port, dir } = await startBuilt({ slack, endpoint }, 'opsbot-socket-', 'e2e/');
    try {
      await waitFor(`http://127.0.0.1:${port}/healthz`, 20_000);
      expect((await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 20_000)).status).toBe(200);
      expect(slack.socketConnections).toBe(1);

      // Slack revokes the app token and drops its connection.
      slack.revokeAppToken(first.appToken);
      expect((await waitForStatus(`http://127.0.0.1:${port}/readyz`, 503, 20_000)).status).toBe(503);
      expect((await readyz(port)).checks).toMatchObject({ slack: false, secrets: true });
      // The reconnect that used to crash the process (socket-mode's own, ~5 s later) is ours now: it is
      // refused, retried with backoff, and the process stays up.
      const until = Date.now() + 20_000;
      while (!logsOf(output().stdout).some((l) => l.msg === 'Socket Mode still cannot connect')) {
        expect(child.exitCode, `exited; stderr: ${output().stderr}`).toBeNull();
        if (Date.now() > until) throw new Error('no second connection attempt within 20 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(child.exitCode).toBeNull();
      expect((await readyz(port)).status).toBe(503);

      // The operator rotates the app token in the secret: opsbot reconnects without a restart.
      const second = { ...first, appToken: canary('xapp') };
      slack.addAppToken(second.appToken);
      sm.put('e2e/slack', JSON.stringify(second));
      expect((await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 20_000)).status).toBe(200);
      expect((await readyz(port)).checks).toMatchObject({ slack: true });
      expect(slack.socketConnections).toBe(1);
      const delivery = await slack.sendSlashCommand({
        command: '/opsbot',
        text: 'whoami',
        userId: 'U0ADMIN',
        channelId: 'C0DEV',
      });
      const [reply] = await slack.waitForResponse(delivery.responseUrl, { timeoutMs: 10_000 });
      expect(reply?.text).toContain('*You are* <@U0ADMIN>');

      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
      const { stdout, stderr } = output();
      expect(stderr).toBe(''); // nothing printed outside the redacting logger, no stack trace
      const rejected = logsOf(stdout).find((l) => l.msg === 'Slack rejected the Socket Mode app token');
      expect(rejected).toMatchObject({ level: 'error', secret: 'e2e/slack' });
      assertNoCanary({ stdout, stderr }, [...Object.values(first), second.appToken]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('connects once the slack secret arrives, even when its first read missed the deadline', async () => {
    const secret = { botToken: canary('xoxb'), signingSecret: canary('sign'), appToken: canary('xapp') };
    slack.addBotToken(secret.botToken);
    slack.addAppToken(secret.appToken);
    sm.create('late/slack', JSON.stringify(secret));
    // The first DescribeSecret answers after the 3 s first-read deadline: the first load "fails".
    sm.faults.set({
      kind: 'latency',
      latencyMs: 4_000,
      api: 'DescribeSecret',
      secret: 'late/slack',
      count: 1,
    });
    const { child, output, port, dir } = await startBuilt(
      { slack, endpoint },
      'opsbot-socket-late-',
      'late/',
    );
    try {
      await waitFor(`http://127.0.0.1:${port}/healthz`, 20_000);
      const ready = await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 25_000);
      expect({ status: ready.status, stderr: output().stderr }).toEqual({ status: 200, stderr: '' });
      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
      assertNoCanary(output(), Object.values(secret));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('checks the Node.js version before it imports anything that needs Node 22', async () => {
    const { child, output } = startMain(cleanEnv({}), {
      entry: join(out, 'src/main.js'),
      nodeArgs: ['--import', FAKE_NODE_20],
      cwd: tmpdir(),
    });
    const code = await exitWithin(child, 15_000);
    if (code === 'running') child.kill('SIGKILL');
    expect(code).toBe(2);
    expect(output()).toEqual({ stdout: '', stderr: `${nodeVersionProblem('20.11.1')}\n` });
  });
});
