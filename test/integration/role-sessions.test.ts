import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import {
  RoleSessionError,
  RoleSessions,
  type RoleSessionsOptions,
} from '../../src/credentials/role-sessions.js';
import { ErrorCode } from '../../src/errors.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogs } from '../helpers/log-capture.js';
import { type Moto, startMoto } from '../helpers/moto.js';
import { freePort } from '../helpers/process.js';

/**
 * Per-Slack-user STS sessions through the real AWS SDK against moto_server on 127.0.0.1.
 *
 * What moto 5.2 does and does not check (verified by hand, and relied on below):
 * - AssumeRole works for any role ARN (the role need not exist, any account, even a malformed ARN);
 *   it enforces no trust policy, no DurationSeconds range, no RoleSessionName characters (only its
 *   64-character maximum), and ignores SourceIdentity and Tags entirely (the answer has no
 *   SourceIdentity). So those rules are opsbot's to check, and are tested on opsbot's side.
 * - GetCallerIdentity with the minted credentials answers `assumed-role/<role>/<session name>`.
 * - With INITIAL_NO_AUTH_ACTION_COUNT set, moto checks signatures and the CALLER's identity policy
 *   for sts:AssumeRole (AccessDenied, HTTP 403), which is how the AccessDenied mapping is tested.
 */

const ROLE_ARN = 'arn:aws:iam::123456789012:role/opsbot-dev-env';
const ADMIN_CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key-0123' };
const TRANSIENT_MESSAGE = 'AWS STS is not answering right now; try again in a minute';

// Without moto the moto runs are skipped, loudly; on CI (CI=true) they run and fail instead.
const motoRequired = process.env.CI === 'true';
const moto = await startMoto();
const skipMoto = !moto && !motoRequired;
if (skipMoto) {
  console.warn(
    '\n*** moto_server not found: the moto runs of role-sessions are SKIPPED. Install it (pip install "moto[server]"); with CI=true they fail instead. ***\n',
  );
}

function motoUrl(): string {
  if (!moto)
    throw new Error(
      'moto_server is not installed, and CI=true requires the moto runs: pip install "moto[server]"',
    );
  return moto.url;
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(async () => {
  // moto loads its STS backend on the first call (seconds); keep that out of the tests' timings.
  if (!moto) return;
  const warm = new STSClient({ region: 'us-east-1', endpoint: moto.url, credentials: ADMIN_CREDENTIALS });
  await warm.send(new GetCallerIdentityCommand({}));
  warm.destroy();
});
afterAll(async () => {
  await moto?.stop();
});

function sessions(overrides: Partial<RoleSessionsOptions> & { endpoint?: string } = {}): {
  sessions: RoleSessions;
  clock: Clock;
  logs: ReturnType<typeof captureLogs>;
} {
  const { endpoint, ...rest } = overrides;
  const logs = captureLogs();
  const clock = overrides.clock ?? new FakeClock(Date.now());
  const s = new RoleSessions({
    roleArn: ROLE_ARN,
    region: 'us-east-1',
    clock,
    log: logs.log,
    onSecret: (value) => logs.redactor.register(value),
    ...rest,
    clientConfig: rest.clientConfig ?? { endpoint: endpoint ?? motoUrl(), credentials: ADMIN_CREDENTIALS },
  });
  cleanups.push(() => s.close());
  return { sessions: s, clock, logs };
}

/** An HTTP server on 127.0.0.1 that counts requests and answers none usefully. */
async function countingServer(): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server: Server = createHttpServer((_req, res) => {
    requests += 1;
    res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests: () => requests };
}

describe('RoleSessions against moto STS', () => {
  it.skipIf(skipMoto)(
    'returns credentials for ~15 minutes, acting as the Slack user with the session name sent',
    async () => {
      const { sessions: s } = sessions();
      const before = Date.now();
      const session = await s.forUser('U0DEV');

      expect(session).toMatchObject({
        userId: 'U0DEV',
        roleArn: ROLE_ARN,
        sourceIdentity: 'slack.U0DEV',
        sessionName: 'opsbot-U0DEV',
      });
      const { credentials } = session;
      expect(credentials.accessKeyId).toMatch(/^ASIA/);
      expect(credentials.secretAccessKey.length).toBeGreaterThan(20);
      expect(credentials.sessionToken.length).toBeGreaterThan(20);
      expect(credentials.expiration).toBeInstanceOf(Date);
      // moto stamps Expiration from its own (real) clock.
      const ahead = credentials.expiration.getTime() - before;
      expect(ahead).toBeGreaterThan(900_000 - 5_000);
      expect(ahead).toBeLessThan(900_000 + 5_000);

      const asUser = new STSClient({ region: 'us-east-1', endpoint: motoUrl(), credentials });
      cleanups.push(() => asUser.destroy());
      const me = await asUser.send(new GetCallerIdentityCommand({}));
      expect(me.Arn).toBe('arn:aws:sts::123456789012:assumed-role/opsbot-dev-env/opsbot-U0DEV');
      expect(me.UserId).toMatch(/:opsbot-U0DEV$/);
      expect(s.assumeCalls).toBe(1);
    },
  );

  it.skipIf(skipMoto)(
    'names the team in SourceIdentity, keeps a session per action, and has one for opsbot itself',
    async () => {
      const { sessions: s } = sessions();
      const up = await s.forUser('U0DEV', { teamId: 'T0SANDBOX', action: 'devenv:up' });
      expect(up.sourceIdentity).toBe('slack.T0SANDBOX.U0DEV');
      expect(await s.forUser('U0DEV', { teamId: 'T0SANDBOX', action: 'devenv:up' })).toBe(up);
      const down = await s.forUser('U0DEV', { teamId: 'T0SANDBOX', action: 'devenv:down' });
      expect(down).not.toBe(up);
      expect(s.assumeCalls).toBe(2);
      const reaper = await s.forService('reaper');
      expect(reaper).toMatchObject({ sourceIdentity: 'opsbot.reaper', sessionName: 'opsbot-reaper' });
      // A team id that is not one is left out rather than sent to AWS.
      expect((await s.forUser('U0DEV', { teamId: 'not a team' })).sourceIdentity).toBe('slack.U0DEV');
      await expect(s.forService('Reaper!')).rejects.toThrow(RangeError);
      s.forget('U0DEV');
      expect(await s.forUser('U0DEV', { teamId: 'T0SANDBOX', action: 'devenv:up' })).not.toBe(up);
    },
  );

  it.skipIf(skipMoto)('caches per user: the same user costs no new call, another user does', async () => {
    const { sessions: s } = sessions();
    const first = await s.forUser('U0DEV');
    const again = await s.forUser('U0DEV');
    expect(again).toBe(first);
    expect(s.assumeCalls).toBe(1);

    const other = await s.forUser('W0OTHER');
    expect(s.assumeCalls).toBe(2);
    expect(other.sessionName).toBe('opsbot-W0OTHER');
    expect(other.credentials.accessKeyId).not.toBe(first.credentials.accessKeyId);
  });

  it.skipIf(skipMoto)('re-assumes once the clock reaches expiration minus the refresh margin', async () => {
    const clock = new FakeClock(Date.now());
    const { sessions: s } = sessions({ clock });
    const first = await s.forUser('U0DEV');

    clock.advance(900_000 - 120_000 - 1);
    expect(await s.forUser('U0DEV')).toBe(first);
    expect(s.assumeCalls).toBe(1);

    clock.advance(1);
    const second = await s.forUser('U0DEV');
    expect(s.assumeCalls).toBe(2);
    expect(second.credentials.accessKeyId).not.toBe(first.credentials.accessKeyId);
    expect(await s.forUser('U0DEV')).toBe(second);
    expect(s.assumeCalls).toBe(2);
  });

  it.skipIf(skipMoto)('honours refreshMarginMs and durationSeconds', async () => {
    const clock = new FakeClock(Date.now());
    const { sessions: s } = sessions({ clock, durationSeconds: 3_600, refreshMarginMs: 600_000 });
    const first = await s.forUser('U0DEV');
    expect(first.credentials.expiration.getTime() - Date.now()).toBeGreaterThan(3_600_000 - 5_000);

    clock.advance(3_000_000 - 1);
    await s.forUser('U0DEV');
    expect(s.assumeCalls).toBe(1);
    clock.advance(1);
    await s.forUser('U0DEV');
    expect(s.assumeCalls).toBe(2);
  });

  it.skipIf(skipMoto)('20 concurrent callers for one user share one AssumeRole call', async () => {
    const { sessions: s } = sessions();
    const all = await Promise.all(Array.from({ length: 20 }, () => s.forUser('U0DEV')));
    expect(s.assumeCalls).toBe(1);
    for (const session of all) expect(session).toBe(all[0]);
  });

  it.skipIf(skipMoto)('forget() drops the cached session', async () => {
    const { sessions: s } = sessions();
    const first = await s.forUser('U0DEV');
    s.forget('U0DEV');
    const second = await s.forUser('U0DEV');
    expect(s.assumeCalls).toBe(2);
    expect(second.credentials.accessKeyId).not.toBe(first.credentials.accessKeyId);
  });

  it.skipIf(skipMoto)('keeps at most maxSessions users, dropping the least recently used', async () => {
    const { sessions: s } = sessions({ maxSessions: 2 });
    await s.forUser('U0AAA');
    await s.forUser('U0BBB');
    await s.forUser('U0AAA'); // U0BBB is now the least recently used
    await s.forUser('U0CCC');
    expect(s.assumeCalls).toBe(3);

    await s.forUser('U0AAA');
    await s.forUser('U0CCC');
    expect(s.assumeCalls).toBe(3);
    await s.forUser('U0BBB');
    expect(s.assumeCalls).toBe(4);
  });

  it.skipIf(skipMoto)('hands every secret value to onSecret, so the log never shows them', async () => {
    const seen: string[] = [];
    const logs = captureLogs();
    const { sessions: s } = sessions({
      log: logs.log,
      onSecret: (value) => {
        seen.push(value);
        logs.redactor.register(value);
      },
    });
    const { credentials } = await s.forUser('U0DEV');
    expect(seen).toEqual([credentials.secretAccessKey, credentials.sessionToken]);

    logs.log.info({ leaked: credentials }, 'a careless log line');
    const text = logs.text();
    expect(text).toContain('assumed the dev-env role for a Slack user');
    expect(text).not.toContain(credentials.secretAccessKey);
    expect(text).not.toContain(credentials.sessionToken);
  });

  it.skipIf(skipMoto)('retires the secret values only after the credentials have expired', async () => {
    const clock = new FakeClock(Date.now());
    const retired: string[] = [];
    const { sessions: s } = sessions({ clock, onRetire: (value) => retired.push(value) });
    const { credentials } = await s.forUser('U0DEV');

    clock.advance(900_000);
    expect(retired).toEqual([]);
    clock.advance(70_000);
    expect(retired).toEqual([credentials.secretAccessKey, credentials.sessionToken]);
  });

  it.skipIf(skipMoto)('maps AccessDenied to a message naming the role and its trust policy', async () => {
    // A second moto that checks signatures and IAM policies after two setup calls.
    const previous = process.env.INITIAL_NO_AUTH_ACTION_COUNT;
    process.env.INITIAL_NO_AUTH_ACTION_COUNT = '2';
    let strict: Moto | undefined;
    try {
      strict = await startMoto();
    } finally {
      if (previous === undefined) delete process.env.INITIAL_NO_AUTH_ACTION_COUNT;
      else process.env.INITIAL_NO_AUTH_ACTION_COUNT = previous;
    }
    if (!strict) throw new Error('moto_server could not be started a second time');
    const strictMoto = strict;
    cleanups.push(() => strictMoto.stop());

    // An IAM user with no policies: opsbot's task role in a deployment nobody finished.
    await iam(strictMoto.url, { Action: 'CreateUser', UserName: 'opsbot-task' });
    const created = await iam(strictMoto.url, { Action: 'CreateAccessKey', UserName: 'opsbot-task' });
    const accessKeyId = /<AccessKeyId>([^<]+)</.exec(created)?.[1];
    const secretAccessKey = /<SecretAccessKey>([^<]+)</.exec(created)?.[1];
    if (!accessKeyId || !secretAccessKey) throw new Error(`CreateAccessKey answered ${created}`);

    const seen: string[] = [];
    const s = new RoleSessions({
      roleArn: ROLE_ARN,
      region: 'us-east-1',
      clientConfig: { endpoint: strictMoto.url, credentials: { accessKeyId, secretAccessKey } },
      clock: new FakeClock(Date.now()),
      log: captureLogs().log,
      onSecret: (value) => seen.push(value),
    });
    cleanups.push(() => s.close());

    const error = await s.forUser('U0DEV').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RoleSessionError);
    const failure = error as RoleSessionError;
    expect(failure.kind).toBe('access_denied');
    expect(failure.code).toBe(ErrorCode.CredentialRejected);
    expect(failure.message).toContain(`the role ${ROLE_ARN} does not trust opsbot's task role`);
    expect(failure.message).toContain('sts:SetSourceIdentity');
    expect(failure.message).toContain("Ask an opsbot admin to check the dev-env role's trust policy.");
    expect(failure.message).not.toContain(secretAccessKey);
    expect((failure.cause as Error).name).toBe('AccessDenied');
    expect(seen).toEqual([]);

    // A failure is not cached: the next call asks again.
    await expect(s.forUser('U0DEV')).rejects.toBeInstanceOf(RoleSessionError);
    expect(s.assumeCalls).toBe(2);
  });
});

describe('RoleSessions without STS', () => {
  it.each([
    '',
    'u0dev',
    'U0',
    'C0123ABCD',
    'U0DEV; rm -rf /',
    'U0DEV\n',
    'opsbot-U0DEV',
    `U${'A'.repeat(21)}`,
    'arn:aws:iam::123456789012:root',
  ])('rejects the user id %j without calling STS', async (userId) => {
    const server = await countingServer();
    const { sessions: s } = sessions({ endpoint: server.url });
    await expect(s.forUser(userId)).rejects.toThrow(RangeError);
    await expect(s.forUser(userId)).rejects.toThrow('is not a Slack user id');
    expect(s.assumeCalls).toBe(0);
    expect(server.requests()).toBe(0);
  });

  it('accepts U and W ids up to 21 characters', async () => {
    const server = await countingServer();
    const { sessions: s } = sessions({
      clientConfig: { endpoint: server.url, credentials: ADMIN_CREDENTIALS, maxAttempts: 1 },
    });
    for (const userId of ['U0DEV', 'W0123ABCD', `U${'A'.repeat(20)}`]) {
      // They pass validation and reach (a failing) STS.
      await expect(s.forUser(userId)).rejects.toBeInstanceOf(RoleSessionError);
    }
    expect(s.assumeCalls).toBe(3);
    expect(server.requests()).toBe(3);
  });

  it('validates its options in the constructor', () => {
    const base = { clock: new FakeClock(), log: captureLogs().log };
    for (const roleArn of [
      '',
      'opsbot-dev-env',
      'arn:aws:iam::12345678901:role/x',
      'arn:aws:iam::123456789012:user/x',
      'arn:aws:sts::123456789012:assumed-role/x/y',
    ]) {
      expect(() => new RoleSessions({ ...base, roleArn })).toThrow(/roleArn must be an IAM role ARN/);
    }
    for (const roleArn of [ROLE_ARN, 'arn:aws-cn:iam::123456789012:role/path/to/dev-env']) {
      new RoleSessions({ ...base, roleArn }).close();
    }
    expect(() => new RoleSessions({ ...base, roleArn: ROLE_ARN, durationSeconds: 899 })).toThrow(RangeError);
    expect(() => new RoleSessions({ ...base, roleArn: ROLE_ARN, durationSeconds: 3_601 })).toThrow(
      RangeError,
    );
    expect(() => new RoleSessions({ ...base, roleArn: ROLE_ARN, refreshMarginMs: 900_000 })).toThrow(
      RangeError,
    );
    expect(() => new RoleSessions({ ...base, roleArn: ROLE_ARN, maxSessions: 0 })).toThrow(RangeError);
  });

  it('an unreachable endpoint gives a transient RoleSessionError with no secret in it', async () => {
    const port = await freePort(); // closed again by the time it is used
    const { sessions: s, logs } = sessions({ endpoint: `http://127.0.0.1:${port}` });
    const error = await s.forUser('U0DEV').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RoleSessionError);
    const failure = error as RoleSessionError;
    expect(failure.kind).toBe('transient');
    expect(failure.code).toBe(ErrorCode.UpstreamUnavailable);
    expect(failure.message).toBe(`opsbot could not act as you in AWS: ${TRANSIENT_MESSAGE}.`);
    expect(failure.message).not.toContain(ADMIN_CREDENTIALS.secretAccessKey);
    expect(failure.message).not.toContain(ADMIN_CREDENTIALS.accessKeyId);
    expect(failure.cause).toBeDefined();
    expect(logs.text()).not.toContain(ADMIN_CREDENTIALS.secretAccessKey);
    expect(logs.records().some((r) => r.msg === 'AssumeRole for a Slack user failed')).toBe(true);
  });

  it('abandons an AssumeRole call that hangs past its 5 s deadline (on the injected clock)', async () => {
    const sockets = new Set<Socket>();
    let connected: () => void = () => {};
    const connection = new Promise<void>((resolve) => {
      connected = resolve;
    });
    const server = createTcpServer((socket) => {
      sockets.add(socket); // accepted, never answered
      connected();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    );
    const { port } = server.address() as { port: number };
    const clock = new FakeClock(Date.now());
    const { sessions: s } = sessions({ clock, endpoint: `http://127.0.0.1:${port}` });

    let settled = false;
    const result = s.forUser('U0DEV').then(
      () => undefined,
      (e: unknown) => e,
    );
    void result.finally(() => {
      settled = true;
    });
    await connection;
    clock.advance(4_999);
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    clock.advance(1);
    const error = await result;
    expect(error).toBeInstanceOf(RoleSessionError);
    expect((error as RoleSessionError).kind).toBe('transient');
    expect((error as Error).message).toContain(TRANSIENT_MESSAGE);
    expect(s.assumeCalls).toBe(1);
  });
});

/** One IAM Query API call during moto's unauthenticated setup window (moto routes by the credential scope). */
async function iam(url: string, params: Record<string, string>): Promise<string> {
  const res = await fetch(`${url}/`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: new URLSearchParams({ ...params, Version: '2010-05-08' }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`IAM ${params.Action} answered HTTP ${res.status}: ${text}`);
  return text;
}
