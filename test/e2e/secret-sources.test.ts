import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedSecretsManager } from '../../src/sandbox/secrets-manager.js';
import { runSecretsCli } from '../../src/secrets-cli.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import {
  cleanEnv,
  exitOf,
  freePort,
  startMain,
  waitFor,
  waitForLog,
  waitForStatus,
} from '../helpers/process.js';

/** The production server with each secret source, as an operator would run it. */
function configFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-sources-'));
  const path = join(dir, 'opsbot.yaml');
  writeFileSync(path, 'access:\n  admins: [U0ADMIN]\n');
  return path;
}

const stateIn = (configPath: string) => `sqlite:${join(configPath, '..', 'opsbot.db')}`;

describe('the opsbot process with the aws source', () => {
  const sm = new SimulatedSecretsManager();
  let endpoint = '';
  beforeAll(async () => {
    ({ url: endpoint } = await sm.start());
  });
  afterAll(async () => {
    await sm.stop();
  });

  it('reads Secrets Manager through the default credential chain and AWS_ENDPOINT_URL_SECRETS_MANAGER, and follows a rotation', async () => {
    const slack = { botToken: canary('xoxb'), signingSecret: canary('sign') };
    sm.create('e2e/slack', JSON.stringify(slack));
    const port = await freePort();
    const config = configFile();
    const accessKey = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const { child, output } = startMain(
      cleanEnv({
        OPSBOT_SECRET_PREFIX: 'e2e/',
        OPSBOT_SECRET_POLL_SECONDS: '5',
        OPSBOT_CONFIG: config,
        OPSBOT_STATE: stateIn(config),
        PORT: String(port),
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
        // what the default chain finds first; on ECS it is the task role instead
        AWS_ACCESS_KEY_ID: accessKey,
        AWS_SECRET_ACCESS_KEY: canary('aws'),
      }),
    );
    await waitFor(`http://127.0.0.1:${port}/healthz`);
    const ready = await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200);
    expect(ready.status).toBe(200);
    sm.rotate('e2e/slack');
    await waitForLog(output, 'secret version changed', 15_000);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/opsbot_secret_version_changes_total\{integration="slack"\} 1/);
    expect(metrics).toMatch(/opsbot_secret_refresh_total\{integration="github",outcome="not_found"\} [1-9]/);
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    const rotated = JSON.parse(sm.valueOf('e2e/slack') as string) as Record<string, string>;
    assertNoCanary({ stdout: output().stdout, stderr: output().stderr, metrics }, [
      ...Object.values(slack),
      ...Object.values(rotated),
    ]);
  });
});

describe('the opsbot process with the file source', () => {
  it('reads the file written by npm run secrets, and never prints the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-file-'));
    const key = randomBytes(32).toString('base64');
    const fileEnv = { OPSBOT_SECRET_FILE: join(dir, 'secrets.enc'), OPSBOT_SECRET_FILE_KEY: key };
    const slack = { botToken: canary('xoxb'), signingSecret: canary('sign') };
    let said = '';
    const io = {
      env: fileEnv,
      stdin: (async function* () {
        yield Buffer.from(JSON.stringify(slack));
      })(),
      stdout: { write: (t: string) => (said += t) },
      stderr: { write: (t: string) => (said += t) },
    };
    expect(await runSecretsCli(['set', 'slack'], io)).toBe(0);

    const port = await freePort();
    const { child, output } = startMain(
      cleanEnv({
        ...fileEnv,
        OPSBOT_SECRET_SOURCE: 'file',
        OPSBOT_CONFIG: configFile(),
        OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
        PORT: String(port),
      }),
    );
    await waitFor(`http://127.0.0.1:${port}/healthz`);
    expect((await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    expect(output().stdout).toContain('"msg":"secret loaded"');
    assertNoCanary({ stdout: output().stdout, stderr: output().stderr, cli: said }, [
      ...Object.values(slack),
      key,
    ]);
  });
});
