import { generateKeyPairSync } from 'node:crypto';
import { createAppAuth } from '@octokit/auth-app';
import { request } from '@octokit/request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitHubClient, rateLimitWait } from '../../src/integrations/github-client.js';
import { RateLimitedError, RateLimits } from '../../src/integrations/rate-limits.js';
import { SimulatedGitHub } from '../../src/sandbox/github.js';
import { canary } from '../helpers/canary.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogs } from '../helpers/log-capture.js';

const keyPair = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });

const clock = new FakeClock(Date.now());
const github = new SimulatedGitHub({ appId: '11', installationId: '22', now: () => clock.now() });
const { privateKey, publicKey } = keyPair();
let url = '';
const access = { owner: 'acme', repo: 'web', permissions: { pull_requests: 'read' as const } };
const pulls = (c: GitHubClient) =>
  c.request<unknown[]>('GET /repos/{owner}/{repo}/pulls', { owner: 'acme', repo: 'web' }, access);
const app = () =>
  new GitHubClient(
    { appId: '11', installationId: '22', privateKey },
    { apiUrl: url, clock, log: captureLogs().log, rateLimits: new RateLimits({ clock }) },
  );

beforeAll(async () => {
  ({ url } = await github.start());
  github.addAppKey(publicKey);
});
afterAll(() => github.stop());

describe('GitHubClient with a GitHub App (real Octokit and auth-app against the sandbox)', () => {
  it('mints an installation token narrowed to the repository and permissions of the call', async () => {
    const client = app();
    expect((await pulls(client)).status).toBe(200);
    expect(github.issued.at(-1)).toMatchObject({
      repositories: ['web'],
      permissions: { pull_requests: 'read' },
    });
    await client.request(
      'GET /repos/{owner}/{repo}/actions/runs',
      { owner: 'acme', repo: 'web' },
      { owner: 'acme', repo: 'web', permissions: { actions: 'read' } },
    );
    expect(github.issued.at(-1)).toMatchObject({ repositories: ['web'], permissions: { actions: 'read' } });
    // A token narrowed to pull requests cannot read Actions: GitHub (here, the sandbox) refuses it.
    const narrowed = (await createAppAuth({
      appId: '11',
      installationId: '22',
      privateKey,
      request: request.defaults({ baseUrl: url }),
    })({
      type: 'installation',
      repositoryNames: ['web'],
      permissions: { pull_requests: 'read' },
      refresh: true,
    })) as { token: string };
    const refused = await request('GET /repos/{owner}/{repo}/actions/runs', {
      baseUrl: url,
      owner: 'acme',
      repo: 'web',
      headers: { authorization: `token ${narrowed.token}` },
    }).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      status: 403,
      message: expect.stringContaining('Resource not accessible by integration'),
    });
  });

  it('reuses a token until 5 minutes before its expires_at, then mints a new one', async () => {
    const client = app();
    await pulls(client);
    await pulls(client);
    expect(client.mints).toBe(1);
    clock.advance(54 * 60_000);
    await pulls(client);
    expect(client.mints).toBe(1);
    clock.advance(2 * 60_000); // 4 minutes left
    await pulls(client);
    expect(client.mints).toBe(2);
  });

  it('mints once more when GitHub rejects a token before its expiry (revoked), without failing the call', async () => {
    const client = app();
    await pulls(client);
    github.revokeInstallationTokens();
    expect((await pulls(client)).status).toBe(200);
    expect(client.mints).toBe(2);
  });

  it('honours expiry the server enforces: a short-lived token is re-minted, not reused', async () => {
    github.tokenTtlMs = 2 * 60_000; // shorter than opsbot's 5-minute margin
    try {
      const client = app();
      await pulls(client);
      await pulls(client);
      expect(client.mints).toBe(2);
    } finally {
      github.tokenTtlMs = 3_600_000;
    }
  });

  it('fails with 401 when the app key is not GitHub’s any more (the provider then reloads the secret)', async () => {
    const other = keyPair();
    const client = new GitHubClient(
      { appId: '11', installationId: '22', privateKey: other.privateKey },
      { apiUrl: url, clock, log: captureLogs().log, rateLimits: new RateLimits({ clock }) },
    );
    await expect(pulls(client)).rejects.toMatchObject({ status: 401 });
  });

  it('waits out a short secondary rate limit once, and turns a long one into a message with the time', async () => {
    const client = app();
    await pulls(client);
    github.failNext({ kind: 'secondary', retryAfterSeconds: 2 });
    const waiting = pulls(client);
    await expect.poll(() => clock.delays()).toEqual([2_000]);
    clock.advance(2_000);
    expect((await waiting).status).toBe(200);
    github.failNext({ kind: 'primary', resetInSeconds: 900 });
    const error = await pulls(client).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as Error).message).toMatch(
      /^GitHub asks opsbot to wait before calling it again \(rate limit\): try again in 15 minutes, after \d\d:\d\d UTC\.$/,
    );
  });
});

describe('GitHubClient with a fine-grained PAT', () => {
  it('uses the token, and a revoked token is a 401', async () => {
    const token = canary('github_pat');
    github.addPersonalToken(token);
    const client = new GitHubClient(
      { token },
      { apiUrl: url, clock, log: captureLogs().log, rateLimits: new RateLimits({ clock }) },
    );
    expect(client.kind).toBe('token');
    expect((await pulls(client)).status).toBe(200);
    expect(github.calls.at(-1)?.auth).toBe('pat');
    github.revokePersonalToken(token);
    await expect(pulls(client)).rejects.toMatchObject({ status: 401 });
  });
});

describe('rateLimitWait', () => {
  const err = (status: number, headers: Record<string, string>, message = '') => ({
    status,
    message,
    response: { headers },
  });
  it('reads retry-after, x-ratelimit-reset, and the secondary-limit message', () => {
    expect(rateLimitWait(err(429, { 'retry-after': '30' }), 0)).toBe(30_000);
    expect(
      rateLimitWait(err(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '100' }), 40_000),
    ).toBe(60_000);
    expect(rateLimitWait(err(403, {}, 'You have exceeded a secondary rate limit'), 0)).toBe(60_000);
    expect(
      rateLimitWait(err(403, { 'x-ratelimit-remaining': '10' }, 'Resource not accessible by integration'), 0),
    ).toBeUndefined();
    expect(rateLimitWait(err(404, { 'retry-after': '1' }), 0)).toBeUndefined();
  });
});
