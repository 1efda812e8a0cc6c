import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedSecretsManager } from '../../src/sandbox/secrets-manager.js';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import { canary } from '../helpers/canary.js';
import { cleanEnv, exitOf, freePort, ROOT, waitFor, waitForStatus } from '../helpers/process.js';
import { head, openRaw, type RawClient } from '../helpers/raw-http.js';

/**
 * The red-team's memory attack, scaled down, against the BUILT production server (what `npm start`
 * runs) reading its Slack secret from a simulated Secrets Manager: 200 connections with a bogus
 * signature, each trickling 1 MiB − 1 byte, reconnecting when closed. The process's resident
 * memory stays bounded, and signed commands from Slack are still acknowledged within 3 s.
 */
const ATTACKERS = 200;
const ATTACK_MS = 10_000;
const RSS_BOUND_MB = 150;

const out = join(ROOT, 'node_modules/.cache', `opsbot-build-attack-${process.pid}`);
const sm = new SimulatedSecretsManager();
const workspace = new SimulatedSlack();
let child: ChildProcess;
let port = 0;
let stdout = '';

beforeAll(async () => {
  // Inside node_modules so that the build resolves the installed dependencies, as dist/ does.
  const tsc = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--outDir', out],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (!existsSync(join(out, 'src/main.js'))) throw new Error(`the build failed:\n${tsc.stdout}${tsc.stderr}`);
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');

  const { url: endpoint } = await sm.start();
  await workspace.start();
  const slack = { botToken: canary('xoxb'), signingSecret: canary('sign') };
  sm.create('attack/slack', JSON.stringify(slack));
  workspace.addBotToken(slack.botToken);
  workspace.addUser({ id: 'U0ADMIN', name: 'ada', isAdmin: true });
  workspace.addChannel({ id: 'C0DEV', name: 'dev' });
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-attack-'));
  writeFileSync(join(dir, 'opsbot.yaml'), 'access:\n  admins: [U0ADMIN]\n');
  port = await freePort();
  // The real path: main.js runs only when it is the script Node was given (ROOT may be a symlink).
  child = spawn(process.execPath, [realpathSync(join(out, 'src/main.js'))], {
    cwd: dir,
    env: cleanEnv({
      OPSBOT_SECRET_PREFIX: 'attack/',
      OPSBOT_CONFIG: join(dir, 'opsbot.yaml'),
      OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
      OPSBOT_SLACK_API_URL: workspace.apiUrl,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
      AWS_ACCESS_KEY_ID: 'SANDBOX-NOT-A-KEY',
      AWS_SECRET_ACCESS_KEY: canary('aws'),
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => {
    if (stdout.length < 1_000_000) stdout += d;
  });
  child.stderr?.on('data', (d) => {
    if (stdout.length < 1_000_000) stdout += d;
  });
  await waitFor(`http://127.0.0.1:${port}/healthz`, 20_000);
  expect((await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 20_000)).status).toBe(200);
  workspace.configureApp({
    requestUrl: `http://127.0.0.1:${port}/slack/events`,
    signingSecret: slack.signingSecret,
  });
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await exitOf(child);
  }
  await workspace.stop();
  await sm.stop();
  rmSync(out, { recursive: true, force: true });
});

/** The process's resident set, from /proc (what the kernel, and so an OOM kill, counts). */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  return kb / 1024;
}

/** A signed `/opsbot whoami` through the simulated Slack: its status and how long the ack took. */
async function signedCommand(): Promise<{ status: number; ackMs: number }> {
  const delivery = await workspace.sendSlashCommand({
    command: '/opsbot',
    text: 'whoami',
    userId: 'U0ADMIN',
    channelId: 'C0DEV',
  });
  return { status: delivery.status, ackMs: delivery.ackMs };
}

/**
 * Keeps `count` attacking connections for `ms`: each announces 1 MiB − 1 byte (or nothing, chunked)
 * with a bogus signature and trickles 32 KiB every 100 ms; reconnects 200 ms after being closed.
 * Bounded: at most 50 connections per slot, and every socket is destroyed at the end.
 */
function attack(count: number, ms: number): { done: Promise<void>; opened: () => number } {
  const end = performance.now() + ms;
  const open = new Set<RawClient>();
  let opened = 0;
  const connection = (index: number) =>
    new Promise<void>((resolve) => {
      opened++;
      const chunked = index % 2 === 1;
      const client = openRaw(
        port,
        head('POST', '/slack/events', {
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': Math.floor(Date.now() / 1_000),
          'x-slack-signature': `v0=${'0f'.repeat(32)}`,
          ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': 1024 * 1024 - 1 }),
        }),
      );
      open.add(client);
      let sent = 0;
      const timer = setInterval(() => {
        const n = Math.min(32 * 1024, 1024 * 1024 - 1 - sent);
        if (n <= 0 || performance.now() > end) return clearInterval(timer);
        const bytes = 'x'.repeat(n);
        if (client.write(chunked ? `${n.toString(16)}\r\n${bytes}\r\n` : bytes)) sent += n;
      }, 100);
      client.closed.then(() => {
        clearInterval(timer);
        open.delete(client);
        resolve();
      });
    });
  const slot = async (index: number) => {
    for (let i = 0; i < 50 && performance.now() < end; i++) {
      await connection(index);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const stop = new Promise<void>((r) => setTimeout(r, ms)).then(() => {
    for (const client of open) client.destroy();
  });
  return {
    done: Promise.all([...Array.from({ length: count }, (_, i) => slot(i)), stop]).then(() => {}),
    opened: () => opened,
  };
}

describe('the built opsbot process under a slow-body attack', () => {
  it('keeps its memory bounded and still acks signed commands within 3 s', async () => {
    const pid = child.pid as number;
    for (let i = 0; i < 5; i++) expect((await signedCommand()).status).toBe(200);
    const before = rssMb(pid);
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(pid));
    }, 100);
    const attackers = attack(ATTACKERS, ATTACK_MS);
    const acks: { status: number; ackMs: number }[] = [];
    const health: number[] = [];
    const endAt = performance.now() + ATTACK_MS - 1_000;
    await new Promise((r) => setTimeout(r, 1_000));
    while (performance.now() < endAt) {
      const [ack, healthz] = await Promise.all([
        signedCommand(),
        fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status),
      ]);
      acks.push(ack);
      health.push(healthz);
      await new Promise((r) => setTimeout(r, 250));
    }
    await attackers.done;
    clearInterval(sampler);
    peak = Math.max(peak, rssMb(pid));

    expect(attackers.opened()).toBeGreaterThanOrEqual(ATTACKERS);
    expect(peak - before, `RSS ${before.toFixed(0)} MB → peak ${peak.toFixed(0)} MB`).toBeLessThan(
      RSS_BOUND_MB,
    );
    expect(acks.length).toBeGreaterThan(10);
    expect(acks.filter((a) => a.status !== 200)).toEqual([]);
    expect(Math.max(...acks.map((a) => a.ackMs))).toBeLessThan(3_000);
    expect(health.every((s) => s === 200)).toBe(true);

    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  }, 120_000);
});
