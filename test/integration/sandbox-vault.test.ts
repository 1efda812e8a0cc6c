import { randomBytes } from 'node:crypto';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedSts } from '../../src/sandbox/aws-sts.js';
import { SimulatedVault } from '../../src/sandbox/vault.js';
import { canary } from '../helpers/canary.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startMoto, warnMotoMissing } from '../helpers/moto.js';
import { makeTestTls } from '../helpers/tls-cert.js';
import { vaultRoutes, vaultSpecCheck } from '../helpers/vault-spec.js';

/**
 * The simulated Vault over real sockets, every request body held to Vault's OpenAPI description
 * (`vaultSpecCheck` as `checkRequest`): KV v2, the AWS IAM login against moto's and the simulated
 * STS, the Kubernetes login, token TTLs, policies, sealing, faults, namespaces and TLS.
 */

const ACCOUNT = '123456789012';
const TASK_ROLE = `arn:aws:iam::${ACCOUNT}:role/opsbot-task`;
const GET_CALLER_IDENTITY = 'Action=GetCallerIdentity&Version=2011-06-15';
const PERMISSION_DENIED = '1 error occurred:\n\t* permission denied\n\n';

// biome-ignore lint/suspicious/noExplicitAny: Vault's JSON answers, read field by field in assertions
type Json = Record<string, any>;
interface Reply {
  status: number;
  body: Json | undefined;
}

async function call(
  vault: SimulatedVault,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; ns?: string; raw?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.token) headers['x-vault-token'] = options.token;
  if (options.ns) headers['x-vault-namespace'] = options.ns;
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${vault.url}/v1/${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : undefined };
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** An `auth/aws/login` body: GetCallerIdentity for `stsUrl` signed with `keys`, as a Vault client makes it. */
async function awsLoginBody(
  stsUrl: string,
  keys: Keys,
  options: { role?: string; serverId?: string; signServerId?: boolean; requestBody?: string } = {},
): Promise<Json> {
  const url = new URL(stsUrl);
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
  };
  if (options.serverId !== undefined) headers['x-vault-aws-iam-server-id'] = options.serverId;
  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers,
    body: GET_CALLER_IDENTITY,
  });
  const signer = new SignatureV4({
    service: 'sts',
    region: 'us-east-1',
    credentials: keys,
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign(request, {
    ...(options.signServerId === false ? { unsignableHeaders: new Set(['x-vault-aws-iam-server-id']) } : {}),
  });
  return {
    role: options.role ?? 'opsbot',
    iam_http_request_method: 'POST',
    iam_request_url: b64(`${url.origin}/`),
    iam_request_body: b64(options.requestBody ?? GET_CALLER_IDENTITY),
    iam_request_headers: b64(JSON.stringify(signed.headers)),
  };
}

const newVault = (options: ConstructorParameters<typeof SimulatedVault>[0] = {}) =>
  new SimulatedVault({ checkRequest: vaultSpecCheck, ...options });

// ---------------------------------------------------------------------------------------------

describe("vaultSpecCheck holds requests to Vault's API description", () => {
  it('accepts what opsbot sends', () => {
    expect(vaultSpecCheck('GET', '/secret/metadata/opsbot/slack', undefined)).toBeUndefined();
    expect(vaultSpecCheck('GET', '/secret/data/opsbot/slack?version=3', undefined)).toBeUndefined();
    expect(vaultSpecCheck('POST', '/auth/token/renew-self', { increment: '3600s' })).toBeUndefined();
    expect(vaultSpecCheck('POST', '/auth/token/revoke-self', undefined)).toBeUndefined();
    expect(
      vaultSpecCheck('POST', '/auth/kubernetes/login', { role: 'opsbot', jwt: 'a.b.c' }),
    ).toBeUndefined();
  });

  it('refuses a body of the wrong type, an unknown field, an unknown path and a missing method', () => {
    expect(vaultSpecCheck('POST', '/secret/data/opsbot/slack', { data: 'not an object' })).toMatch(
      /\/data must be object/,
    );
    expect(vaultSpecCheck('POST', '/secret/delete/opsbot/slack', { versions: ['1'] })).toMatch(
      /versions\/0 must be integer/,
    );
    expect(vaultSpecCheck('POST', '/auth/token/renew-self', { increment: 3600 })).toMatch(
      /increment must be string/,
    );
    expect(vaultSpecCheck('POST', '/auth/aws/login', { role: 'opsbot', jwt: 'a.b.c' })).toMatch(
      /unknown field "jwt"/,
    );
    expect(vaultSpecCheck('GET', '/secret/config/opsbot', undefined)).toMatch(/no such path/);
    expect(vaultSpecCheck('GET', '/sys/mounts', undefined)).toMatch(/no such path/);
    expect(vaultSpecCheck('PUT', '/secret/destroy/x', { versions: [1] })).toMatch(/not an operation/);
    expect(vaultSpecCheck('POST', '/auth/token/renew-self', undefined)).toMatch(/needs a JSON body/);
  });

  const segment = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,11}$/);
  const mount = fc
    .array(segment, { minLength: 1, maxLength: 2 })
    .map((s) => s.join('/'))
    .filter((m) => !['auth', 'sys', 'identity', 'cubbyhole'].includes(m.split('/')[0] as string));
  const secretPath = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));

  it('maps any KV mount and secret path to its template and parameters (property)', () => {
    fc.assert(
      fc.property(mount, secretPath, fc.constantFrom('data', 'metadata', 'delete', 'destroy'), (m, p, op) => {
        const routes = vaultRoutes(`/${m}/${op}/${p}`);
        expect(routes[0]).toEqual({
          template: `/{kv_v2_mount_path}/${op}/{path}`,
          params: { kv_v2_mount_path: m, path: p },
        });
      }),
    );
  });

  it('maps an auth method mount of any name to the login template its body fits (property)', () => {
    fc.assert(
      fc.property(mount, fc.boolean(), (m, aws) => {
        const body = aws
          ? {
              role: 'r',
              iam_http_request_method: 'POST',
              iam_request_url: 'u',
              iam_request_body: 'b',
              iam_request_headers: 'h',
            }
          : { role: 'r', jwt: 'j' };
        expect(vaultSpecCheck('POST', `/auth/${m}/login`, body)).toBeUndefined();
        expect(vaultRoutes(`/auth/${m}/login`).map((r) => r.template)).toContain(
          aws ? '/auth/{aws_mount_path}/login' : '/auth/{kubernetes_mount_path}/login',
        );
        expect(vaultSpecCheck('POST', `/auth/${m}/login`, { ...body, role: 7 })).toMatch(
          /role must be string/,
        );
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('KV v2', () => {
  const vault = newVault();
  let token = '';
  beforeAll(async () => {
    await vault.start();
    vault.enableKvV2();
    vault.putPolicy('kv-admin', [
      { path: 'secret/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] },
    ]);
    token = vault.createToken({ policies: ['kv-admin'] });
  });
  afterAll(() => vault.stop());

  it('writes versions, reads each, and checks cas', async () => {
    const first = canary('xoxb');
    const second = canary('xoxb');
    const v1 = await call(vault, 'POST', 'secret/data/opsbot/slack', {
      token,
      body: { data: { botToken: first } },
    });
    expect(v1.status).toBe(200);
    expect(v1.body?.data).toMatchObject({
      version: 1,
      destroyed: false,
      deletion_time: '',
      custom_metadata: null,
    });
    const v2 = await call(vault, 'POST', 'secret/data/opsbot/slack', {
      token,
      body: { data: { botToken: second }, options: { cas: 1 } },
    });
    expect(v2.body?.data.version).toBe(2);
    const stale = await call(vault, 'POST', 'secret/data/opsbot/slack', {
      token,
      body: { data: { botToken: 'x' }, options: { cas: 1 } },
    });
    expect(stale).toEqual({
      status: 400,
      body: { errors: ['check-and-set parameter did not match the current version'] },
    });

    const current = await call(vault, 'GET', 'secret/data/opsbot/slack', { token });
    expect(current.status).toBe(200);
    expect(current.body).toMatchObject({
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      wrap_info: null,
      auth: null,
    });
    expect(current.body?.data).toEqual({
      data: { botToken: second },
      metadata: {
        created_time: expect.any(String),
        custom_metadata: null,
        deletion_time: '',
        destroyed: false,
        version: 2,
      },
    });
    const old = await call(vault, 'GET', 'secret/data/opsbot/slack?version=1', { token });
    expect(old.body?.data.data).toEqual({ botToken: first });

    const metadata = await call(vault, 'GET', 'secret/metadata/opsbot/slack', { token });
    expect(metadata.body?.data).toMatchObject({ current_version: 2, oldest_version: 0, cas_required: false });
    expect(Object.keys(metadata.body?.data.versions)).toEqual(['1', '2']);
    expect(vault.specProblems).toEqual([]);
  });

  it('answers 404 {"errors":[]} for a missing secret, and 404 with its metadata for a deleted or destroyed version', async () => {
    expect(await call(vault, 'GET', 'secret/data/opsbot/none', { token })).toEqual({
      status: 404,
      body: { errors: [] },
    });
    expect(await call(vault, 'GET', 'secret/metadata/opsbot/none', { token })).toEqual({
      status: 404,
      body: { errors: [] },
    });
    await call(vault, 'POST', 'secret/data/opsbot/jira', {
      token,
      body: { data: { apiToken: canary('jira') } },
    });
    await call(vault, 'POST', 'secret/data/opsbot/jira', {
      token,
      body: { data: { apiToken: canary('jira') } },
    });
    expect(
      (await call(vault, 'POST', 'secret/delete/opsbot/jira', { token, body: { versions: [2] } })).status,
    ).toBe(204);
    const deleted = await call(vault, 'GET', 'secret/data/opsbot/jira', { token });
    expect(deleted.status).toBe(404);
    expect(deleted.body?.data.data).toBeNull();
    expect(deleted.body?.data.metadata).toMatchObject({ version: 2, destroyed: false });
    expect(deleted.body?.data.metadata.deletion_time).not.toBe('');

    expect(
      (await call(vault, 'POST', 'secret/destroy/opsbot/jira', { token, body: { versions: [1] } })).status,
    ).toBe(204);
    const destroyed = await call(vault, 'GET', 'secret/data/opsbot/jira?version=1', { token });
    expect(destroyed.status).toBe(404);
    expect(destroyed.body?.data).toMatchObject({ data: null, metadata: { version: 1, destroyed: true } });
    const metadata = await call(vault, 'GET', 'secret/metadata/opsbot/jira', { token });
    expect(metadata.body?.data.versions['1'].destroyed).toBe(true);
    expect(metadata.body?.data.versions['2'].deletion_time).not.toBe('');

    expect((await call(vault, 'DELETE', 'secret/metadata/opsbot/jira', { token })).status).toBe(204);
    expect((await call(vault, 'GET', 'secret/metadata/opsbot/jira', { token })).status).toBe(404);
    expect(vault.specProblems).toEqual([]);
  });

  it('keeps 10 versions: older ones drop out and oldest_version moves', async () => {
    for (let i = 1; i <= 12; i++) {
      await call(vault, 'POST', 'secret/data/opsbot/many', { token, body: { data: { n: i } } });
    }
    const metadata = await call(vault, 'GET', 'secret/metadata/opsbot/many', { token });
    expect(metadata.body?.data.current_version).toBe(12);
    expect(metadata.body?.data.oldest_version).toBe(3);
    expect(Object.keys(metadata.body?.data.versions)).toHaveLength(10);
    expect((await call(vault, 'GET', 'secret/data/opsbot/many?version=2', { token })).status).toBe(404);
    expect(
      (await call(vault, 'GET', 'secret/data/opsbot/many?version=3', { token })).body?.data.data,
    ).toEqual({ n: 3 });
  });

  it('writeSecret / deleteVersions / destroyVersions / deleteMetadata act as the HTTP calls do', async () => {
    expect(vault.writeSecret('secret', 'opsbot/github', { token: canary('ghp') })).toBe(1);
    expect(vault.writeSecret('secret', 'opsbot/github', { token: canary('ghp') })).toBe(2);
    vault.deleteVersions('secret', 'opsbot/github', [2]);
    expect((await call(vault, 'GET', 'secret/data/opsbot/github', { token })).status).toBe(404);
    vault.destroyVersions('secret', 'opsbot/github', [1]);
    expect(
      (await call(vault, 'GET', 'secret/data/opsbot/github?version=1', { token })).body?.data.metadata
        .destroyed,
    ).toBe(true);
    vault.deleteMetadata('secret', 'opsbot/github');
    expect(await call(vault, 'GET', 'secret/metadata/opsbot/github', { token })).toEqual({
      status: 404,
      body: { errors: [] },
    });
  });

  it("refuses what Vault's API description does not allow, and records it", async () => {
    const before = vault.specProblems.length;
    const reply = await call(vault, 'POST', 'secret/data/opsbot/slack', { token, body: { data: 'oops' } });
    expect(reply.status).toBe(400);
    expect(reply.body?.errors[0]).toMatch(/\/data must be object/);
    expect(vault.specProblems.slice(before)).toHaveLength(1);
  });

  it('answers unknown routes, methods, bad JSON and big bodies as Vault does', async () => {
    const plain = new SimulatedVault();
    await plain.start();
    try {
      plain.enableKvV2();
      const root = plain.createToken({ policies: ['root'] });
      expect(await call(plain, 'GET', 'nowhere/data/x', { token: root })).toEqual({
        status: 404,
        body: { errors: ['no handler for route "nowhere/data/x". route entry not found.'] },
      });
      expect(await call(plain, 'GET', 'secret/delete/x', { token: root })).toEqual({
        status: 405,
        body: { errors: ['1 error occurred:\n\t* unsupported operation\n\n'] },
      });
      const badJson = await call(plain, 'POST', 'secret/data/x', { token: root, raw: '{"data":' });
      expect(badJson.status).toBe(400);
      expect(badJson.body?.errors[0]).toMatch(/^failed to parse JSON input/);
      const big = await call(plain, 'POST', 'secret/data/x', {
        token: root,
        body: { data: { v: 'x'.repeat(1_100_000) } },
      });
      expect(big.status).toBe(413);
      expect((await call(plain, 'POST', 'secret/data/x', { token: root, body: {} })).body).toEqual({
        errors: ['no data provided'],
      });
    } finally {
      await plain.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('policies', () => {
  const vault = newVault();
  let token = '';
  beforeAll(async () => {
    await vault.start();
    vault.enableKvV2();
    vault.putPolicy('opsbot-read', [
      { path: 'secret/data/opsbot/*', capabilities: ['read'] },
      { path: 'secret/metadata/opsbot/*', capabilities: ['read'] },
    ]);
    vault.writeSecret('secret', 'opsbot/slack', { botToken: canary('xoxb') });
    vault.writeSecret('secret', 'other/slack', { botToken: canary('xoxb') });
    vault.writeSecret('secret', 'opsbot-evil/slack', { botToken: canary('xoxb') });
    token = vault.createToken({ policies: ['opsbot-read'] });
  });
  afterAll(() => vault.stop());

  it('allows read on data/ and metadata/ of the prefix, and nothing else', async () => {
    expect((await call(vault, 'GET', 'secret/data/opsbot/slack', { token })).status).toBe(200);
    expect((await call(vault, 'GET', 'secret/metadata/opsbot/slack', { token })).status).toBe(200);
    const denied = { status: 403, body: { errors: [PERMISSION_DENIED] } };
    expect(await call(vault, 'GET', 'secret/data/other/slack', { token })).toEqual(denied);
    expect(await call(vault, 'GET', 'secret/data/opsbot-evil/slack', { token })).toEqual(denied);
    expect(
      await call(vault, 'POST', 'secret/data/opsbot/slack', { token, body: { data: { a: '1' } } }),
    ).toEqual(denied);
    expect(
      await call(vault, 'POST', 'secret/delete/opsbot/slack', { token, body: { versions: [1] } }),
    ).toEqual(denied);
    expect(await call(vault, 'DELETE', 'secret/metadata/opsbot/slack', { token })).toEqual(denied);
    expect(await call(vault, 'GET', 'secret/data/opsbot/slack')).toEqual(denied);
    expect(await call(vault, 'GET', 'secret/data/opsbot/slack', { token: 'hvs.unknown' })).toEqual(denied);
  });

  it('lets a more specific deny win, and + match one segment', async () => {
    vault.putPolicy('mixed', [
      { path: 'secret/data/+/slack', capabilities: ['read'] },
      { path: 'secret/data/other/*', capabilities: ['deny'] },
    ]);
    const mixed = vault.createToken({ policies: ['mixed'] });
    expect((await call(vault, 'GET', 'secret/data/opsbot/slack', { token: mixed })).status).toBe(200);
    expect((await call(vault, 'GET', 'secret/data/other/slack', { token: mixed })).status).toBe(403);
  });
});

// ---------------------------------------------------------------------------------------------

describe('tokens: TTL, renew-self, revoke-self, lookup-self', () => {
  const clock = new FakeClock();
  const vault = newVault({ now: () => clock.now() });
  beforeAll(async () => {
    await vault.start();
    vault.enableKvV2();
    vault.putPolicy('opsbot-read', [{ path: 'secret/data/opsbot/*', capabilities: ['read'] }]);
    vault.writeSecret('secret', 'opsbot/slack', { botToken: canary('xoxb') });
  });
  afterAll(() => vault.stop());

  it('renews by the TTL up to the max TTL and no further; an expired token is refused', async () => {
    const token = vault.createToken({ policies: ['opsbot-read'], ttlSeconds: 600, maxTtlSeconds: 1_500 });
    const live = vault.liveTokens().find((t) => t.expiresAt === clock.now() + 600_000);
    expect(live).toMatchObject({ method: 'token', renewals: 0, maxExpiresAt: clock.now() + 1_500_000 });
    expect(live?.policies).toEqual(['default', 'opsbot-read']);

    clock.advance(500_000);
    const renewed = await call(vault, 'POST', 'auth/token/renew-self', { token, body: {} });
    expect(renewed.status).toBe(200);
    expect(renewed.body?.auth).toMatchObject({
      lease_duration: 600,
      renewable: true,
      accessor: live?.accessor,
    });
    expect(renewed.body?.auth.client_token).toBe(token);

    clock.advance(500_000);
    const capped = await call(vault, 'POST', 'auth/token/renew-self', {
      token,
      body: { increment: '3600s' },
    });
    expect(capped.body?.auth.lease_duration).toBe(500);
    expect(capped.body?.warnings?.[0]).toMatch(/exceeded the effective max_ttl/);

    const lookup = await call(vault, 'GET', 'auth/token/lookup-self', { token });
    expect(lookup.body?.data).toMatchObject({
      accessor: live?.accessor,
      ttl: 500,
      policies: ['default', 'opsbot-read'],
    });
    expect(lookup.body?.data.expire_time).toBe(new Date(clock.now() + 500_000).toISOString());

    clock.advance(499_000);
    expect((await call(vault, 'GET', 'secret/data/opsbot/slack', { token })).status).toBe(200);
    clock.advance(1_000);
    expect(await call(vault, 'GET', 'secret/data/opsbot/slack', { token })).toEqual({
      status: 403,
      body: { errors: [PERMISSION_DENIED] },
    });
    expect((await call(vault, 'POST', 'auth/token/renew-self', { token, body: {} })).status).toBe(403);
    expect(vault.liveTokens().some((t) => t.accessor === live?.accessor)).toBe(false);
    expect(vault.specProblems).toEqual([]);
  });

  it('revoke-self ends the token: 204, then 403, and revoked(accessor)', async () => {
    const token = vault.createToken({ policies: ['opsbot-read'], ttlSeconds: 600 });
    const accessor = (await call(vault, 'GET', 'auth/token/lookup-self', { token })).body?.data
      .accessor as string;
    expect(vault.revoked(accessor)).toBe(false);
    expect((await call(vault, 'POST', 'auth/token/revoke-self', { token })).status).toBe(204);
    expect(vault.revoked(accessor)).toBe(true);
    expect((await call(vault, 'GET', 'secret/data/opsbot/slack', { token })).status).toBe(403);
    expect(vault.liveTokens().map((t) => t.accessor)).not.toContain(accessor);
    // Requests are logged by accessor, never with the token.
    const logged = vault.requests
      .filter((r) => r.accessor === accessor)
      .map((r) => `${r.method} ${r.path} ${r.status}`);
    expect(logged).toEqual(['GET /auth/token/lookup-self 200', 'POST /auth/token/revoke-self 204']);
    expect(JSON.stringify(vault.requests)).not.toContain(token);
  });

  it('refuses to renew a token that is not renewable', async () => {
    const token = vault.createToken({ policies: [], renewable: false });
    expect(await call(vault, 'POST', 'auth/token/renew-self', { token, body: {} })).toEqual({
      status: 400,
      body: { errors: ['lease is not renewable'] },
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('Kubernetes login', () => {
  const clock = new FakeClock();
  const vault = newVault({ now: () => clock.now() });
  beforeAll(async () => {
    await vault.start();
    vault.putKubernetesRole('opsbot', {
      serviceAccountNames: ['opsbot'],
      namespaces: ['ops'],
      policies: ['opsbot-read'],
      ttlSeconds: 900,
    });
  });
  afterAll(() => vault.stop());

  const login = (jwt: string, role = 'opsbot') =>
    call(vault, 'POST', 'auth/kubernetes/login', { body: { role, jwt } });

  it("logs a pod's service account in with the role's policies", async () => {
    const reply = await login(vault.mintServiceAccountJwt({ namespace: 'ops', name: 'opsbot' }));
    expect(reply.status).toBe(200);
    expect(reply.body?.auth).toMatchObject({
      policies: ['default', 'opsbot-read'],
      token_policies: ['default', 'opsbot-read'],
      lease_duration: 900,
      renewable: true,
      token_type: 'service',
      orphan: true,
      metadata: { role: 'opsbot', service_account_name: 'opsbot', service_account_namespace: 'ops' },
    });
    expect(reply.body?.auth.client_token).toMatch(/^hvs\.\w{24}$/);
    expect(vault.liveTokens().find((t) => t.accessor === reply.body?.auth.accessor)?.method).toBe(
      'kubernetes',
    );
  });

  it('refuses another service account or namespace, an expired token, a bad signature, an unknown role', async () => {
    expect(await login(vault.mintServiceAccountJwt({ namespace: 'ops', name: 'intruder' }))).toEqual({
      status: 403,
      body: { errors: ['service account name not authorized'] },
    });
    expect(await login(vault.mintServiceAccountJwt({ namespace: 'dev', name: 'opsbot' }))).toEqual({
      status: 403,
      body: { errors: ['namespace not authorized'] },
    });
    const shortLived = vault.mintServiceAccountJwt({
      namespace: 'ops',
      name: 'opsbot',
      expiresInSeconds: 60,
    });
    clock.advance(61_000);
    expect(await login(shortLived)).toEqual({ status: 403, body: { errors: ['token is expired'] } });

    const [h, p] = vault.mintServiceAccountJwt({ namespace: 'ops', name: 'opsbot' }).split('.');
    const forged = `${h}.${p}.${randomBytes(256).toString('base64url')}`;
    expect(await login(forged)).toEqual({ status: 403, body: { errors: [PERMISSION_DENIED] } });
    const other = new SimulatedVault();
    expect((await login(other.mintServiceAccountJwt({ namespace: 'ops', name: 'opsbot' }))).status).toBe(403);
    expect(await login(vault.mintServiceAccountJwt({ namespace: 'ops', name: 'opsbot' }), 'nope')).toEqual({
      status: 400,
      body: { errors: ['invalid role name "nope"'] },
    });
    expect(vault.specProblems).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('AWS IAM login against the simulated STS (which verifies signatures)', () => {
  const sts = new SimulatedSts();
  let vault: SimulatedVault;
  const keys = { accessKeyId: 'AKIDOPSBOTTASK0001', secretAccessKey: randomBytes(20).toString('base64') };
  beforeAll(async () => {
    const { url } = await sts.start();
    sts.addCredentials(keys.accessKeyId, keys.secretAccessKey, {
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/opsbot-task/ecs-task`,
    });
    vault = newVault({ stsEndpoint: url });
    await vault.start();
    vault.putAwsRole('opsbot', {
      boundIamPrincipalArns: [TASK_ROLE],
      policies: ['opsbot-read'],
      ttlSeconds: 1_800,
    });
  });
  afterAll(async () => {
    await vault.stop();
    await sts.stop();
  });

  const login = (body: Json) => call(vault, 'POST', 'auth/aws/login', { body });

  it("logs the task role in with the bound role's policies", async () => {
    const reply = await login(await awsLoginBody(sts.url, keys));
    expect(reply.status).toBe(200);
    expect(reply.body?.auth).toMatchObject({
      policies: ['default', 'opsbot-read'],
      lease_duration: 1_800,
      renewable: true,
      token_type: 'service',
      orphan: true,
      metadata: {
        auth_type: 'iam',
        canonical_arn: TASK_ROLE,
        client_arn: `arn:aws:sts::${ACCOUNT}:assumed-role/opsbot-task/ecs-task`,
        account_id: ACCOUNT,
      },
    });
    expect(sts.callCounts.GetCallerIdentity).toBeGreaterThan(0);
    expect(vault.specProblems).toEqual([]);
  });

  it('refuses a request signed with the wrong secret key, as STS refuses it', async () => {
    const reply = await login(
      await awsLoginBody(sts.url, { ...keys, secretAccessKey: randomBytes(20).toString('base64') }),
    );
    expect(reply.status).toBe(400);
    expect(reply.body?.errors[0]).toMatch(
      /^error making upstream request: received error code 403 from STS: .*SignatureDoesNotMatch/s,
    );
  });

  it('refuses a tampered body, a GET, a host that is not STS, and a missing signature', async () => {
    const good = await awsLoginBody(sts.url, keys);
    const tampered = { ...good, iam_request_body: b64(`${GET_CALLER_IDENTITY}&Foo=1`) };
    expect((await login(tampered)).body?.errors[0]).toMatch(/^invalid iam_request_body/);
    expect((await login({ ...good, iam_http_request_method: 'GET' })).body).toEqual({
      errors: ["invalid iam_http_request_method; currently only 'POST' is supported"],
    });
    expect(
      (await login({ ...good, iam_request_url: b64('https://evil.example.com/') })).body?.errors[0],
    ).toMatch(/is not an STS endpoint/);
    const headers = JSON.parse(Buffer.from(good.iam_request_headers, 'base64').toString('utf8')) as Json;
    delete headers.authorization;
    const unsigned = await login({ ...good, iam_request_headers: b64(JSON.stringify(headers)) });
    expect(unsigned.status).toBe(400);
    expect(unsigned.body?.errors[0]).toMatch(/Authentication Token/);
  });

  it('refuses a caller the role is not bound to, and accepts a trailing * in a bound ARN', async () => {
    vault.putAwsRole('other', {
      boundIamPrincipalArns: [`arn:aws:iam::${ACCOUNT}:role/someone-else`],
      policies: ['x'],
    });
    expect(await login(await awsLoginBody(sts.url, keys, { role: 'other' }))).toEqual({
      status: 400,
      body: {
        errors: [
          `IAM Principal "arn:aws:sts::${ACCOUNT}:assumed-role/opsbot-task/ecs-task" does not belong to the role "other"`,
        ],
      },
    });
    vault.putAwsRole('wild', {
      boundIamPrincipalArns: [`arn:aws:iam::${ACCOUNT}:role/opsbot-*`],
      policies: ['x'],
    });
    expect((await login(await awsLoginBody(sts.url, keys, { role: 'wild' }))).status).toBe(200);
    expect((await login(await awsLoginBody(sts.url, keys, { role: 'missing' }))).body).toEqual({
      errors: ['entry for role missing not found'],
    });
  });

  it('with a server id configured, wants the header present, equal and signed', async () => {
    vault.setAwsIamServerId('vault.example.com');
    try {
      expect((await login(await awsLoginBody(sts.url, keys, { serverId: 'vault.example.com' }))).status).toBe(
        200,
      );
      expect((await login(await awsLoginBody(sts.url, keys))).body).toEqual({
        errors: [
          'error validating X-Vault-AWS-IAM-Server-ID header: missing header "X-Vault-AWS-IAM-Server-ID"',
        ],
      });
      expect(
        (await login(await awsLoginBody(sts.url, keys, { serverId: 'other.example.com' }))).body?.errors[0],
      ).toMatch(/expected "vault.example.com" but got "other.example.com"/);
      const unsignedId = await awsLoginBody(sts.url, keys, {
        serverId: 'vault.example.com',
        signServerId: false,
      });
      expect(JSON.parse(Buffer.from(unsignedId.iam_request_headers, 'base64').toString())).toHaveProperty(
        'x-vault-aws-iam-server-id',
      );
      expect((await login(unsignedId)).body).toEqual({
        errors: ["error validating X-Vault-AWS-IAM-Server-ID header: vault header wasn't signed"],
      });
    } finally {
      vault.setAwsIamServerId(undefined);
    }
  });
});

// Without moto the moto runs are skipped, loudly; with CI=true startMoto throws instead.
const moto = await startMoto();
if (!moto) warnMotoMissing('sandbox-vault');
afterAll(() => moto?.stop());

describe.skipIf(!moto)('AWS IAM login against moto (an independent STS)', () => {
  let vault: SimulatedVault;
  let session: Keys;
  beforeAll(async () => {
    const url = moto?.url as string;
    const assumed = await new STSClient({
      endpoint: url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDMOTOBASE0001', secretAccessKey: randomBytes(20).toString('base64') },
      maxAttempts: 1,
    }).send(new AssumeRoleCommand({ RoleArn: TASK_ROLE, RoleSessionName: 'ecs-task' }));
    expect(assumed.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/opsbot-task/ecs-task`);
    session = {
      accessKeyId: assumed.Credentials?.AccessKeyId as string,
      secretAccessKey: assumed.Credentials?.SecretAccessKey as string,
      sessionToken: assumed.Credentials?.SessionToken as string,
    };
    vault = newVault({ stsEndpoint: url });
    await vault.start();
    vault.putAwsRole('opsbot', { boundIamPrincipalArns: [TASK_ROLE], policies: ['opsbot-read'] });
    vault.putAwsRole('other', {
      boundIamPrincipalArns: [`arn:aws:iam::${ACCOUNT}:role/another`],
      policies: ['x'],
    });
  });
  afterAll(() => vault?.stop());

  const login = (body: Json) => call(vault, 'POST', 'auth/aws/login', { body });

  it("gets a token with the bound role's policies for the assumed role", async () => {
    const reply = await login(await awsLoginBody(moto?.url as string, session));
    expect(reply.status).toBe(200);
    expect(reply.body?.auth.policies).toEqual(['default', 'opsbot-read']);
    expect(reply.body?.auth.metadata.client_arn).toBe(
      `arn:aws:sts::${ACCOUNT}:assumed-role/opsbot-task/ecs-task`,
    );
    expect(vault.liveTokens().find((t) => t.accessor === reply.body?.auth.accessor)?.method).toBe('aws');
  });

  it('refuses a role bound to another ARN, an unsigned server id and a tampered body', async () => {
    expect(
      (await login(await awsLoginBody(moto?.url as string, session, { role: 'other' }))).body?.errors[0],
    ).toMatch(/does not belong to the role "other"/);
    vault.setAwsIamServerId('vault.example.com');
    try {
      const unsigned = await awsLoginBody(moto?.url as string, session, {
        serverId: 'vault.example.com',
        signServerId: false,
      });
      expect((await login(unsigned)).body?.errors[0]).toMatch(/vault header wasn't signed/);
    } finally {
      vault.setAwsIamServerId(undefined);
    }
    const good = await awsLoginBody(moto?.url as string, session);
    expect(
      (await login({ ...good, iam_request_body: b64('Action=AssumeRole&Version=2011-06-15') })).status,
    ).toBe(400);
    expect(vault.specProblems).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('sealing, faults and namespaces', () => {
  const vault = newVault({ namespaces: ['team-a'] });
  let token = '';
  beforeAll(async () => {
    await vault.start();
    vault.enableKvV2();
    vault.putPolicy('opsbot-read', [{ path: 'secret/data/opsbot/*', capabilities: ['read'] }]);
    vault.writeSecret('secret', 'opsbot/slack', { botToken: canary('xoxb') });
    token = vault.createToken({ policies: ['opsbot-read'] });
  });
  afterAll(() => vault.stop());

  it('sealed: 503 "Vault is sealed" and health says so; seal-status still answers', async () => {
    vault.seal();
    try {
      expect(await call(vault, 'GET', 'secret/data/opsbot/slack', { token })).toEqual({
        status: 503,
        body: { errors: ['Vault is sealed'] },
      });
      const health = await call(vault, 'GET', 'sys/health');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ initialized: true, sealed: true, version: '1.15.0' });
      const status = await call(vault, 'GET', 'sys/seal-status');
      expect(status.status).toBe(200);
      expect(status.body).toMatchObject({ sealed: true, type: 'shamir' });
    } finally {
      vault.unseal();
    }
    const health = await call(vault, 'GET', 'sys/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ sealed: false, standby: false });
    expect((await call(vault, 'GET', 'secret/data/opsbot/slack', { token })).status).toBe(200);
  });

  it('failNext: a status with its error body, a dropped connection, a delay; by path prefix', async () => {
    vault.failNext(2, { status: 503 }, 'secret/metadata/');
    // Another path is not affected.
    expect((await call(vault, 'GET', 'secret/data/opsbot/slack', { token })).status).toBe(200);
    expect(await call(vault, 'GET', 'secret/metadata/opsbot/slack', { token })).toEqual({
      status: 503,
      body: { errors: ['Vault is sealed'] },
    });
    expect((await call(vault, 'GET', 'secret/metadata/opsbot/slack', { token })).status).toBe(503);
    expect((await call(vault, 'GET', 'secret/metadata/opsbot/slack', { token })).status).toBe(403);

    vault.failNext(1, { status: 500 });
    expect(await call(vault, 'GET', 'secret/data/opsbot/slack', { token })).toEqual({
      status: 500,
      body: { errors: ['internal error'] },
    });

    vault.failNext(1, { drop: true });
    await expect(call(vault, 'GET', 'secret/data/opsbot/slack', { token })).rejects.toThrow();
    expect((await call(vault, 'GET', 'secret/data/opsbot/slack', { token })).status).toBe(200);

    vault.failNext(1, { delayMs: 20 });
    expect((await call(vault, 'GET', 'secret/data/opsbot/slack', { token })).status).toBe(200);
    expect(vault.requests.at(-1)).toMatchObject({
      method: 'GET',
      path: '/secret/data/opsbot/slack',
      namespace: '',
      status: 200,
    });
  });

  it("isolates namespaces: team-a's token cannot read root's secrets; no header means root", async () => {
    vault.enableKvV2('secret', 'team-a');
    vault.putPolicy('opsbot-read', [{ path: 'secret/data/opsbot/*', capabilities: ['read'] }], 'team-a');
    const teamSecret = canary('xoxb');
    vault.writeSecret('secret', 'opsbot/slack', { botToken: teamSecret }, 'team-a');
    const teamToken = vault.createToken({ policies: ['opsbot-read'], ns: 'team-a' });

    const inTeam = await call(vault, 'GET', 'secret/data/opsbot/slack', { token: teamToken, ns: 'team-a' });
    expect(inTeam.body?.data.data).toEqual({ botToken: teamSecret });
    expect(vault.requests.at(-1)?.namespace).toBe('team-a');
    expect((await call(vault, 'GET', 'secret/data/opsbot/slack', { token: teamToken })).status).toBe(403);
    expect((await call(vault, 'GET', 'secret/data/opsbot/slack', { token, ns: 'team-a' })).status).toBe(403);
    const root = await call(vault, 'GET', 'secret/data/opsbot/slack', { token });
    expect(root.body?.data.data.botToken).not.toBe(teamSecret);
    expect((await call(vault, 'GET', 'secret/data/opsbot/slack', { token, ns: 'nope' })).status).toBe(404);
  });
});

// ---------------------------------------------------------------------------------------------

describe('TLS', () => {
  const tls = makeTestTls();
  const vault = new SimulatedVault({ tls: { key: tls.key, cert: tls.cert } });
  beforeAll(() => vault.start());
  afterAll(() => vault.stop());

  // undici's own fetch: the Agent comes from the installed undici, which Node's built-in fetch may not match.
  it('serves HTTPS that a client trusting the CA accepts and one without it refuses', async () => {
    expect(vault.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const trusting = new Agent({ connect: { ca: tls.ca } });
    try {
      const res = await undiciFetch(`${vault.url}/v1/sys/health`, { dispatcher: trusting });
      expect(res.status).toBe(200);
      expect(((await res.json()) as Json).sealed).toBe(false);
    } finally {
      await trusting.close();
    }
    const untrusting = new Agent();
    try {
      const failure = await undiciFetch(`${vault.url}/v1/sys/health`, { dispatcher: untrusting }).catch(
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(Error);
      expect(String((failure as Error & { cause?: unknown }).cause)).toMatch(
        /self[- ]signed|unable to verify|certificate/i,
      );
    } finally {
      await untrusting.close();
    }
  });
});
