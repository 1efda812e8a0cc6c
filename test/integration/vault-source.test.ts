import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SecretSourceError } from '../../src/credentials/source.js';
import { readCaFile, VaultHttp } from '../../src/credentials/vault/http.js';
import {
  awsIamLogin,
  kubernetesLogin,
  staticTokenLogin,
  type VaultLogin,
} from '../../src/credentials/vault/login.js';
import { VaultSession } from '../../src/credentials/vault/session.js';
import { createVaultSource } from '../../src/credentials/vault/source.js';
import { SecretValue } from '../../src/log/secret-value.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';
import { makeTestTls } from '../helpers/tls-cert.js';
import { startVaultRig, type VaultRig } from '../helpers/vault-rig.js';

/**
 * The `vault` source over real sockets against the simulated Vault (every request checked against
 * Vault's API description) and a simulated STS that verifies the login's SigV4 signature.
 */

const seen: string[] = [];
let logs: LogCapture;
beforeEach(() => {
  logs = captureLogs();
});
afterEach(() => {
  assertNoCanary({ logs: logs.text() }, seen);
});

function sourceFor(
  rig: VaultRig,
  clock: FakeClock,
  login?: VaultLogin,
  options: { namespace?: string; ca?: string; url?: string } = {},
) {
  const vault = new VaultHttp({
    addr: options.url ?? rig.vault.url,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
  });
  const session = new VaultSession({
    vault,
    login:
      login ??
      awsIamLogin({ role: 'opsbot', mount: 'aws', stsUrl: rig.sts.url, credentials: rig.credentials }),
    clock,
    log: logs.log,
    masker: logs.redactor,
  });
  return { vault, session, source: createVaultSource({ vault, session, kvMount: 'secret' }) };
}

async function failure(work: Promise<unknown>): Promise<SecretSourceError> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(SecretSourceError);
    return error as SecretSourceError;
  }
  throw new Error('expected a failure');
}

describe('the vault source, logged in with the task role (AWS IAM auth)', () => {
  let rig: VaultRig;
  const clock = new FakeClock(Date.UTC(2026, 11, 6, 12));
  beforeAll(async () => {
    rig = await startVaultRig({ now: () => clock.now(), ttlSeconds: 60, maxTtlSeconds: 150 });
  });
  afterAll(() => rig.stop());

  it('reads a secret by KV versions: current and previous from metadata, values from data', async () => {
    const first = { botToken: canary('xoxb'), signingSecret: canary('sign') };
    const second = { botToken: canary('xoxb'), signingSecret: canary('sign') };
    seen.push(...Object.values(first), ...Object.values(second));
    rig.vault.writeSecret('secret', 'opsbot/slack', first);
    rig.vault.writeSecret('secret', 'opsbot/slack', second);
    const { source, session } = sourceFor(rig, clock);
    const described = await source.describe('opsbot/slack');
    expect([...described.versions]).toEqual([
      ['2', ['AWSCURRENT']],
      ['1', ['AWSPREVIOUS']],
    ]);
    expect(described.revoked?.size).toBe(0);
    const current = await source.getVersion('opsbot/slack', '2');
    expect(JSON.parse(current.secretString.reveal())).toEqual(second);
    expect(String(current.secretString)).not.toContain(second.botToken);
    expect(JSON.parse((await source.getVersion('opsbot/slack', '1')).secretString.reveal())).toEqual(first);
    // One login served all three calls; every request the client sent is in Vault's API.
    expect(session.stats.logins).toBe(1);
    expect(rig.vault.specProblems).toEqual([]);
    const token = await session.token();
    seen.push(token);
    await source.close?.();
  });

  it('never honours a deleted or destroyed version; a deleted current version is an error saying what to do', async () => {
    const value = () => ({ botToken: canary('xoxb'), signingSecret: canary('sign') });
    for (let i = 0; i < 3; i++) {
      const v = value();
      seen.push(...Object.values(v));
      rig.vault.writeSecret('secret', 'opsbot/github', v);
    }
    const { source } = sourceFor(rig, clock);
    rig.vault.destroyVersions('secret', 'opsbot/github', [2]);
    const described = await source.describe('opsbot/github');
    // Version 2 is destroyed: the previous one offered is 1, and 2 is listed as revoked.
    expect([...described.versions]).toEqual([
      ['3', ['AWSCURRENT']],
      ['1', ['AWSPREVIOUS']],
    ]);
    expect([...(described.revoked ?? [])]).toEqual(['2']);
    expect((await failure(source.getVersion('opsbot/github', '2'))).kind).toBe('not_found');
    rig.vault.deleteVersions('secret', 'opsbot/github', [3]);
    const deleted = await failure(source.describe('opsbot/github'));
    expect(deleted.kind).toBe('invalid');
    expect(deleted.message).toMatch(
      /current version \(3\) of opsbot\/github is deleted or destroyed in Vault; undelete it or write a new version/,
    );
    await source.close?.();
  });

  it('renews the token before its lease ends, logs in again when the maximum TTL nears, and never sends an expired token', async () => {
    rig.vault.writeSecret('secret', 'opsbot/jira', { apiToken: canary('jira') });
    const { source, session } = sourceFor(rig, clock);
    await source.describe('opsbot/jira');
    const start = rig.vault.requests.length;
    // Ten minutes in 5-second steps, a read at each: leases of 60 s, at most 150 s per token.
    for (let t = 0; t < 600; t += 5) {
      clock.advance(5_000);
      // A renewal or a new login the step started finishes before the clock moves on.
      await source.settled?.();
      await source.describe('opsbot/jira');
    }
    const during = rig.vault.requests.slice(start);
    expect(during.filter((r) => r.status === 403)).toEqual([]);
    expect(session.stats.renewals).toBeGreaterThanOrEqual(4);
    // 600 s of tokens that live at most 150 s: at least four logins, and no more than one per token.
    expect(session.stats.logins).toBeGreaterThanOrEqual(5);
    expect(session.stats.logins).toBeLessThanOrEqual(8);
    expect(during.some((r) => r.path === '/auth/token/renew-self' && r.status === 200)).toBe(true);
    // At most two tokens of opsbot's are alive at any time (the one in use and the one it replaced).
    expect(rig.vault.liveTokens().filter((t) => t.method === 'aws').length).toBeLessThanOrEqual(3);
    expect(rig.vault.specProblems).toEqual([]);
    await source.close?.();
  });

  it('a request abandoned at its deadline (before or while it is sent) rejects; nothing is left to crash the process', async () => {
    const vault = new VaultHttp({ addr: rig.vault.url });
    const gone = new AbortController();
    gone.abort();
    await expect(vault.request({ method: 'GET', path: 'sys/health', signal: gone.signal })).rejects.toThrow(
      /abandoned at its deadline/,
    );
    rig.vault.failNext(1, { delayMs: 300 }, '/sys/health');
    const late = new AbortController();
    const pending = vault.request({ method: 'GET', path: 'sys/health', signal: late.signal });
    setTimeout(() => late.abort(), 20);
    await expect(pending).rejects.toThrow(/abandoned at its deadline/);
    // An unheard 'error' event would have ended this process by now; give it the chance.
    await new Promise((r) => setTimeout(r, 50));
    vault.close();
  });

  it('revokes its token on shutdown', async () => {
    const { source, session } = sourceFor(rig, clock);
    rig.vault.writeSecret('secret', 'opsbot/datadog', { apiKey: canary('dd') });
    await source.describe('opsbot/datadog');
    const accessor = rig.vault.requests.at(-1)?.accessor ?? '';
    expect(accessor).not.toBe('');
    seen.push(await session.token());
    await source.close?.();
    expect(rig.vault.revoked(accessor)).toBe(true);
    expect(logs.text()).toContain('Vault token revoked');
  });

  it('a 403 drops the token and the call is tried once more after a new login', async () => {
    rig.vault.writeSecret('secret', 'opsbot/audit', { chainKey: canary('key') });
    const { source, session } = sourceFor(rig, clock);
    await source.describe('opsbot/audit');
    rig.vault.failNext(1, { status: 403 }, '/secret/metadata');
    await source.describe('opsbot/audit');
    expect(session.stats.logins).toBe(2);
    await source.close?.();
  });

  it('names the path and the capability the policy lacks when Vault keeps refusing', async () => {
    const { source, session } = sourceFor(rig, clock);
    const denied = await failure(source.describe('other/slack'));
    expect(denied.kind).toBe('access_denied');
    expect(denied.message).toMatch(
      /^other\/slack: Vault denied secret\/metadata\/other\/slack \(permission denied\): opsbot's policy needs the "read" capability on secret\/metadata\/other\/slack/,
    );
    // One retry after a new login, then the refusal stands.
    expect(session.stats.logins).toBe(2);
    await source.close?.();
  });

  it('a missing secret is "not configured"; sealed or unreachable is transient', async () => {
    const { source } = sourceFor(rig, clock);
    const missing = await failure(source.describe('opsbot/statuspage'));
    expect(missing.kind).toBe('not_found');
    expect(missing.message).toMatch(
      /secret\/metadata\/opsbot\/statuspage does not exist in Vault \(the integration is not configured\)/,
    );
    rig.vault.seal();
    try {
      const sealed = await failure(source.describe('opsbot/jira'));
      expect(sealed.kind).toBe('transient');
      expect(sealed.message).toMatch(
        /is sealed or in standby \(Vault is sealed\); serving the last good value/,
      );
    } finally {
      rig.vault.unseal();
    }
    rig.vault.failNext(1, { drop: true }, '/secret/metadata');
    expect((await failure(source.describe('opsbot/jira'))).kind).toBe('transient');
    await source.close?.();
    const nowhere = sourceFor(rig, clock, undefined, { url: 'http://127.0.0.1:9' });
    const refused = await failure(nowhere.source.describe('opsbot/jira'));
    expect(refused.kind).toBe('transient');
    expect(refused.message).toMatch(
      /Vault at http:\/\/127\.0\.0\.1:9 did not answer on login .*ECONNREFUSED/,
    );
    await nowhere.source.close?.();
  });

  it("a login over Vault's rate-limit quota (429) is transient: retried with backoff, never a configuration error", async () => {
    rig.vault.setRateLimitQuota('auth/aws/login', 1);
    try {
      const first = sourceFor(rig, clock);
      await first.source.describe('opsbot/jira'); // the quota's one login this second
      const second = sourceFor(rig, clock);
      const limited = await failure(second.source.describe('opsbot/jira'));
      expect(limited.kind).toBe('transient');
      expect(limited.message).toMatch(
        /answered 429 on login .*rate limit quota exceeded.*serving the last good value/,
      );
      clock.advance(1_000); // the quota refills
      expect((await second.source.describe('opsbot/jira')).versions.size).toBeGreaterThan(0);
      await first.source.close?.();
      await second.source.close?.();
    } finally {
      rig.vault.setRateLimitQuota('auth/aws/login', undefined);
    }
  });

  it('a login the role does not accept is refused with what to check; the signature is verified by STS', async () => {
    const wrongKey = sourceFor(
      rig,
      clock,
      awsIamLogin({
        role: 'opsbot',
        mount: 'aws',
        stsUrl: rig.sts.url,
        credentials: async () => ({ accessKeyId: rig.accessKeyId, secretAccessKey: canary('wrong') }),
      }),
    );
    const refused = await failure(wrongKey.source.describe('opsbot/jira'));
    expect(refused.kind).toBe('access_denied');
    expect(refused.message).toMatch(
      /refused opsbot's aws auth \(mount aws, role opsbot\): .*upstream.*Check that the role exists and is bound to opsbot's identity/,
    );
    await wrongKey.source.close?.();

    const otherRole = sourceFor(
      rig,
      clock,
      awsIamLogin({ role: 'deploy', mount: 'aws', stsUrl: rig.sts.url, credentials: rig.credentials }),
    );
    expect((await failure(otherRole.source.describe('opsbot/jira'))).kind).toBe('access_denied');
    await otherRole.source.close?.();
  });

  it('signs the server id header in when Vault requires it', async () => {
    rig.vault.setAwsIamServerId('vault.internal');
    try {
      const without = sourceFor(rig, clock);
      expect((await failure(without.source.describe('opsbot/jira'))).kind).toBe('access_denied');
      await without.source.close?.();
      const withId = sourceFor(
        rig,
        clock,
        awsIamLogin({
          role: 'opsbot',
          mount: 'aws',
          serverId: 'vault.internal',
          stsUrl: rig.sts.url,
          credentials: rig.credentials,
        }),
      );
      expect((await withId.source.describe('opsbot/jira')).versions.size).toBeGreaterThan(0);
      await withId.source.close?.();
    } finally {
      rig.vault.setAwsIamServerId(undefined);
    }
  });
});

describe('the vault source with the other logins, a namespace and a custom CA', () => {
  const clock = new FakeClock(Date.UTC(2026, 11, 6, 12));
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-vault-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('kubernetes: reads the service-account token from its file at every login (it rotates)', async () => {
    const rig = await startVaultRig({ now: () => clock.now() });
    try {
      rig.vault.writeSecret('secret', 'opsbot/jira', { apiToken: canary('jira') });
      const file = join(dir, 'token');
      writeFileSync(file, rig.vault.mintServiceAccountJwt({ namespace: 'ops', name: 'intruder' }));
      const { source } = sourceFor(
        rig,
        clock,
        kubernetesLogin({ role: 'opsbot', mount: 'kubernetes', tokenFile: file }),
      );
      const refused = await failure(source.describe('opsbot/jira'));
      expect(refused.kind).toBe('access_denied');
      expect(refused.message).toMatch(/kubernetes auth \(mount kubernetes, role opsbot\)/);
      // The kubelet wrote the right token: the next login reads it, no restart.
      writeFileSync(file, rig.vault.mintServiceAccountJwt({ namespace: 'ops', name: 'opsbot' }));
      expect((await source.describe('opsbot/jira')).versions.get('1')).toEqual(['AWSCURRENT']);
      await source.close?.();
      const missing = sourceFor(
        rig,
        clock,
        kubernetesLogin({ role: 'opsbot', mount: 'kubernetes', tokenFile: join(dir, 'nope') }),
      );
      expect((await failure(missing.source.describe('opsbot/jira'))).message).toMatch(
        /cannot read the service-account token .*nope \(ENOENT\); mount it/,
      );
      await missing.source.close?.();
    } finally {
      await rig.stop();
    }
  });

  it('token (development): looks the token up, renews nothing it cannot, and does not revoke it on shutdown', async () => {
    const rig = await startVaultRig({ now: () => clock.now() });
    try {
      rig.vault.writeSecret('secret', 'opsbot/jira', { apiToken: canary('jira') });
      const token = rig.vault.createToken({ policies: ['opsbot'], ttlSeconds: 3600 });
      seen.push(token);
      const { source } = sourceFor(rig, clock, staticTokenLogin(new SecretValue(token)));
      expect((await source.describe('opsbot/jira')).versions.size).toBe(1);
      const accessor = rig.vault.requests.at(-1)?.accessor ?? '';
      await source.close?.();
      expect(rig.vault.revoked(accessor)).toBe(false);
      const bad = sourceFor(rig, clock, staticTokenLogin(new SecretValue(canary('hvs'))));
      expect((await failure(bad.source.describe('opsbot/jira'))).kind).toBe('access_denied');
      await bad.source.close?.();
    } finally {
      await rig.stop();
    }
  });

  it('sends the namespace header: the secrets and the login live in the namespace', async () => {
    const rig = await startVaultRig({ now: () => clock.now(), namespaces: ['team-a'], namespace: 'team-a' });
    try {
      rig.vault.writeSecret('secret', 'opsbot/jira', { apiToken: canary('jira') }, 'team-a');
      const inNamespace = sourceFor(rig, clock, undefined, { namespace: 'team-a' });
      expect((await inNamespace.source.describe('opsbot/jira')).versions.size).toBe(1);
      expect(rig.vault.requests.at(-1)?.namespace).toBe('team-a');
      await inNamespace.source.close?.();
      // Without the header: the root namespace, where no AWS auth is mounted.
      const root = sourceFor(rig, clock);
      const refused = await failure(root.source.describe('opsbot/jira'));
      expect(refused.kind).toBe('access_denied');
      expect(refused.message).toMatch(
        /has no auth method where opsbot logs in .*check OPSBOT_VAULT_AUTH_MOUNT and OPSBOT_VAULT_NAMESPACE/,
      );
      await root.source.close?.();
    } finally {
      await rig.stop();
    }
  });

  it('trusts the CA named by OPSBOT_VAULT_CACERT, and nothing else', async () => {
    const tls = makeTestTls();
    const rig = await startVaultRig({ now: () => clock.now(), tls: { key: tls.key, cert: tls.cert } });
    try {
      rig.vault.writeSecret('secret', 'opsbot/jira', { apiToken: canary('jira') });
      const caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, tls.ca);
      const trusted = sourceFor(rig, clock, undefined, { ca: readCaFile(caFile) });
      expect(rig.vault.url).toMatch(/^https:/);
      expect((await trusted.source.describe('opsbot/jira')).versions.size).toBe(1);
      await trusted.source.close?.();
      const untrusted = sourceFor(rig, clock);
      const refused = await failure(untrusted.source.describe('opsbot/jira'));
      expect(refused.kind).toBe('transient');
      expect(refused.message).toMatch(/SELF_SIGNED|UNABLE_TO|CERT/);
      await untrusted.source.close?.();
      expect(() => readCaFile(join(dir, 'missing.pem'))).toThrow(
        /OPSBOT_VAULT_CACERT: cannot read .*missing\.pem \(ENOENT\)/,
      );
    } finally {
      await rig.stop();
    }
  });
});
