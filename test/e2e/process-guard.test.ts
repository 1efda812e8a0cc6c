import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import {
  cleanEnv,
  exitWithin,
  freePort,
  startMain,
  waitFor,
  waitForLog,
  waitForStatus,
} from '../helpers/process.js';

/**
 * A preload that, on SIGUSR2, leaves a promise rejected with nobody to catch it: an operational
 * error (a reset connection) the first time, a programming error (a TypeError) the second time.
 */
const UNHANDLED_ON_SIGUSR2 = `data:text/javascript,${encodeURIComponent(`
let n = 0;
process.on('SIGUSR2', () => {
  n += 1;
  const error = n === 1
    ? Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
    : new TypeError("Cannot read properties of undefined (reading 'ts')");
  Promise.reject(error);
});
`)}`;

describe('the opsbot process on an error nobody handled', () => {
  it('logs an operational one and keeps serving; drains and exits 1 on a programming error; never prints a raw stack', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-guard-'));
    const config = join(dir, 'opsbot.yaml');
    writeFileSync(config, 'access:\n  admins: [U0ADMIN]\n');
    const port = await freePort();
    const slackSecret = { botToken: canary('xoxb'), signingSecret: canary('sign') };
    const slack = new SimulatedSlack();
    await slack.start();
    slack.addBotToken(slackSecret.botToken);
    const { child, output } = startMain(
      cleanEnv({
        OPSBOT_SECRET_SOURCE: 'env',
        OPSBOT_SECRET_SLACK: JSON.stringify(slackSecret),
        OPSBOT_CONFIG: config,
        OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
        OPSBOT_SLACK_API_URL: slack.apiUrl,
        PORT: String(port),
      }),
      { nodeArgs: ['--import', UNHANDLED_ON_SIGUSR2] },
    );
    try {
      await waitFor(`http://127.0.0.1:${port}/healthz`, 15_000);
      expect((await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 15_000)).status).toBe(200);

      child.kill('SIGUSR2');
      await waitForLog(output, 'an unhandled promise rejection (an operational error); opsbot keeps running');
      expect(child.exitCode).toBeNull();
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

      child.kill('SIGUSR2');
      expect(await exitWithin(child, 15_000)).toBe(1);
      const logs = output()
        .stdout.trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { msg: string; level: string });
      expect(logs.find((l) => l.level === 'fatal')?.msg).toBe(
        'an unexpected error (a bug in opsbot): stopping; the orchestrator restarts it',
      );
      expect(logs.map((l) => l.msg)).toContain('opsbot stopped');
      expect(output().stderr).toBe('');
      assertNoCanary({ stdout: output().stdout }, Object.values(slackSecret));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await slack.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
