import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { cleanEnv, exitWithin, freePort, startMain } from '../helpers/process.js';

/**
 * With the `env` secret source a secret cannot change while opsbot runs (it is an environment
 * variable), so a secret that is unusable at start will never become usable: opsbot exits 2 with the
 * problem in one line (never the value) instead of answering 503 forever.
 */
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  // A child that did not exit (the bug) must not outlive the test.
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Starts the server with `env`; the child is killed after the test if it is still running. */
function start(env: NodeJS.ProcessEnv): ReturnType<typeof startMain> {
  const started = startMain(env);
  children.push(started.child);
  return started;
}

async function envFor(slackSecret: string, extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-env-start-'));
  dirs.push(dir);
  const config = join(dir, 'opsbot.yaml');
  writeFileSync(config, 'access:\n  admins: [U0ADMIN]\n');
  return cleanEnv({
    OPSBOT_SECRET_SOURCE: 'env',
    OPSBOT_SECRET_SLACK: slackSecret,
    OPSBOT_CONFIG: config,
    OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
    // Nothing listens here: opsbot must not need Slack to decide its secret is unusable.
    OPSBOT_SLACK_API_URL: 'http://127.0.0.1:9/api/',
    PORT: String(await freePort()),
    ...extra,
  });
}

describe('the opsbot process with the env source', () => {
  it('exits 2 with one line naming the problem when OPSBOT_SECRET_SLACK is not valid JSON', async () => {
    const token = canary('xoxb');
    const { child, output } = start(await envFor(`{"botToken": "${token}", signingSecret`));
    expect(await exitWithin(child, 15_000)).toBe(2);
    const { stderr } = output();
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^opsbot cannot start: OPSBOT_SECRET_SLACK: .*not valid JSON/);
    expect(stderr).not.toMatch(/\n\s+at /);
    assertNoCanary({ stdout: output().stdout, stderr }, [token]);
  }, 30_000);

  it('exits 2 naming each field that is wrong when the slack secret has the wrong shape', async () => {
    const token = canary('xoxp');
    const { child, output } = start(await envFor(JSON.stringify({ botToken: token })));
    expect(await exitWithin(child, 15_000)).toBe(2);
    const { stderr } = output();
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('botToken: expected a value starting with xoxb-');
    expect(stderr).toContain('signingSecret: required');
    assertNoCanary({ stdout: output().stdout, stderr }, [token]);
  }, 30_000);

  it('exits 2 saying what to add when Socket Mode has no appToken in OPSBOT_SECRET_SLACK', async () => {
    const slack = { botToken: canary('xoxb'), signingSecret: canary('sign') };
    const { child, output } = start(await envFor(JSON.stringify(slack), { OPSBOT_SLACK_MODE: 'socket' }));
    expect(await exitWithin(child, 15_000)).toBe(2);
    const { stderr } = output();
    expect(stderr).toBe(
      'opsbot cannot start: Socket Mode needs an appToken in OPSBOT_SECRET_SLACK: add "appToken": "xapp-…" (connections:write) and start opsbot again\n',
    );
    assertNoCanary({ stdout: output().stdout, stderr }, Object.values(slack));
  }, 30_000);
});
