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
import { startVaultRig, type VaultRig } from '../helpers/vault-rig.js';

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

describe('the opsbot process with the vault source', () => {
  let rig: VaultRig;
  beforeAll(async () => {
    rig = await startVaultRig({ ttlSeconds: 3_600, maxTtlSeconds: 7_200 });
  });
  afterAll(async () => {
    await rig.stop();
  });

  it('logs into Vault with the task role (AWS IAM auth), follows a new KV version, says when Vault is sealed, and revokes its token on exit', async () => {
    const slack = { botToken: canary('xoxb'), signingSecret: canary('sign') };
    rig.vault.writeSecret('secret', 'opsbot/slack', slack);
    const port = await freePort();
    const config = configFile();
    const { child, output } = startMain(
      cleanEnv({
        OPSBOT_SECRET_SOURCE: 'vault',
        OPSBOT_VAULT_ADDR: rig.vault.url,
        OPSBOT_VAULT_ROLE: 'opsbot',
        OPSBOT_SECRET_POLL_SECONDS: '5',
        OPSBOT_CONFIG: config,
        OPSBOT_STATE: stateIn(config),
        PORT: String(port),
        // The login is signed for this STS (on ECS: the global endpoint) with what the default
        // chain finds first (on ECS: the task role).
        AWS_ENDPOINT_URL_STS: rig.sts.url,
        AWS_ACCESS_KEY_ID: rig.accessKeyId,
        AWS_SECRET_ACCESS_KEY: rig.secretAccessKey,
      }),
    );
    await waitFor(`http://127.0.0.1:${port}/healthz`);
    const ready = await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200);
    expect(ready.status).toBe(200);
    const [token] = rig.vault.liveTokens().filter((t) => t.method === 'aws');
    expect(token?.policies).toContain('opsbot');

    const next = { botToken: canary('xoxb'), signingSecret: canary('sign') };
    rig.vault.writeSecret('secret', 'opsbot/slack', next);
    await waitForLog(output, 'secret version changed', 15_000);

    // Sealed: still ready (last good values serve), and /readyz says what is degraded.
    rig.vault.seal();
    const degraded = await waitForDegraded(`http://127.0.0.1:${port}/readyz`);
    expect(degraded.status).toBe(200);
    expect(JSON.stringify(degraded.body)).toMatch(
      /the vault secret source is failing; serving the last good value/,
    );
    rig.vault.unseal();

    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    expect(rig.vault.revoked(token?.accessor ?? '')).toBe(true);
    // Every request the process sent is in Vault's API.
    expect(rig.vault.specProblems).toEqual([]);
    assertNoCanary({ stdout: output().stdout, stderr: output().stderr }, [
      ...Object.values(slack),
      ...Object.values(next),
      rig.secretAccessKey,
    ]);
  });
});

/** Polls /readyz until it lists something degraded (the next poll after Vault sealed). */
async function waitForDegraded(url: string): Promise<{ status: number; body: unknown }> {
  const end = Date.now() + 20_000;
  for (;;) {
    const res = await fetch(url);
    const body = (await res.json()) as { degraded?: unknown };
    if (body.degraded) return { status: res.status, body };
    if (Date.now() > end) throw new Error('/readyz never reported the sealed Vault');
    await new Promise((r) => setTimeout(r, 200));
  }
}

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
