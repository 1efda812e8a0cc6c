import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { cleanEnv, exitOf, freePort, ROOT, startMain, waitFor, waitForStatus } from '../helpers/process.js';

describe('the opsbot process', () => {
  it('exits 2 with the full list of what is missing when given no configuration', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'opsbot-noconf-'));
    const { child, output } = startMain(cleanEnv({ OPSBOT_CONFIG: join(cwd, 'opsbot.yaml') }));
    expect(await exitOf(child)).toBe(2);
    const { stderr, stdout } = output();
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^opsbot cannot start: 2 configuration problems:\n/);
    expect(stderr).toContain('  - AWS_REGION: required when OPSBOT_SECRET_SOURCE=aws');
    expect(stderr).toContain('  - OPSBOT_CONFIG: cannot read');
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace for configuration errors
  });

  it('builds production code only, and the built server (what npm start runs) exits 2 without configuration', async () => {
    // inside node_modules so the build resolves the installed dependencies, as dist/ does
    const out = join(ROOT, 'node_modules/.cache', `opsbot-build-${process.pid}`);
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--outDir', out],
      {
        cwd: ROOT,
      },
    );
    // The production build carries only production code: no simulated services, console or tests.
    const built = readdirSync(out, { recursive: true }).map(String);
    expect(built).toContain(join('src', 'main.js'));
    expect(built.filter((f) => /(^|\/)(sandbox|test)\/|console(\.js|\/)/.test(f))).toEqual([]);
    writeFileSync(join(out, 'package.json'), '{"type":"module"}');
    const child = spawn(process.execPath, [join(out, 'src/main.js')], {
      cwd: mkdtempSync(join(tmpdir(), 'opsbot-start-')),
      env: cleanEnv({}),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += d));
    expect(await exitOf(child)).toBe(2);
    rmSync(out, { recursive: true, force: true });
    expect(stderr).toContain('OPSBOT_CONFIG: cannot read ./opsbot.yaml (file not found)');
  });

  it('exits 2 with a one-line explanation for each bad setting', async () => {
    const { child, output } = startMain(
      cleanEnv({
        OPSBOT_SECRET_SOURCE: 'consul',
        PORT: '0x50',
        OPSBOT_SECRET_POLL_SECONDS: '-1',
        OPSBOT_CONFIG: '/nope.yaml',
      }),
    );
    expect(await exitOf(child)).toBe(2);
    const lines = output().stderr.trim().split('\n');
    expect(lines[0]).toBe('opsbot cannot start: 4 configuration problems:');
    expect(lines.slice(1).map((l) => l.replace(/^ {2}- /, '').split(':')[0])).toEqual([
      'OPSBOT_SECRET_SOURCE',
      'OPSBOT_SECRET_POLL_SECONDS',
      'PORT',
      'OPSBOT_CONFIG',
    ]);
  });

  it('serves /healthz and /readyz, then stops gracefully on SIGTERM with exit 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-run-'));
    const configPath = join(dir, 'opsbot.yaml');
    writeFileSync(configPath, 'access:\n  admins: [U0ADMIN]\n');
    const port = await freePort();
    const slack = { botToken: canary('xoxb'), signingSecret: canary('sign') };
    const workspace = new SimulatedSlack();
    await workspace.start();
    workspace.addBotToken(slack.botToken);
    workspace.addUser({ id: 'U0ADMIN', name: 'ada' });
    workspace.addChannel({ id: 'C0DEV', name: 'dev' });
    const { child, output } = startMain(
      cleanEnv({
        OPSBOT_SECRET_SOURCE: 'env',
        OPSBOT_SECRET_SLACK: JSON.stringify(slack),
        OPSBOT_CONFIG: configPath,
        OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
        OPSBOT_SLACK_API_URL: workspace.apiUrl,
        PORT: String(port),
      }),
    );
    const health = await waitFor(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const ready = await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200);
    expect(await ready.json()).toEqual({
      ready: true,
      checks: { integrations: true, secrets: true, state: true },
    });
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(await metrics.text()).toContain('opsbot_process_cpu_seconds_total');
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);

    // The production wiring answers a signed slash command from Slack.
    workspace.configureApp({
      requestUrl: `http://127.0.0.1:${port}/slack/events`,
      signingSecret: slack.signingSecret,
    });
    const delivery = await workspace.sendSlashCommand({
      command: '/opsbot',
      text: 'access',
      userId: 'U0ADMIN',
      channelId: 'C0DEV',
    });
    expect(delivery.status).toBe(200);
    const [reply] = await workspace.waitForResponse(delivery.responseUrl);
    expect(reply?.text).toContain(
      '*Admins* (everything, including `opsbot:access` and `opsbot:audit`): <@U0ADMIN>',
    );
    expect(reply?.text).toContain('*Rules:* none, so nothing else is allowed.');
    await workspace.stop();

    const started = Date.now();
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    const logs = output()
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    expect(logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        'opsbot listening',
        'secret loaded',
        'opsbot:access',
        'stopping',
        'opsbot stopped',
      ]),
    );
    assertNoCanary({ stdout: output().stdout, stderr: output().stderr }, Object.values(slack));
  });
});
