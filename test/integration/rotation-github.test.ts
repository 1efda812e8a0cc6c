import { generateKeyPairSync } from 'node:crypto';
import { createAppAuth } from '@octokit/auth-app';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RotationStepError } from '../../src/rotation/errors.js';
import { RotationNeedsPersonError, RotationTestError } from '../../src/rotation/kind.js';
import { ROTATION_STEPS } from '../../src/rotation/steps.js';
import { SimulatedGitHub } from '../../src/sandbox/github.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';
import { freePort } from '../helpers/process.js';
import { RotationRig, thrown } from './rotation-rig.js';

/**
 * The `github` secret is made by a person: the rotation function keeps the AWSPENDING value they
 * put, proves it against the simulated GitHub (GET /app with a JWT from the new key; GET /user with
 * a token) and promotes it. Against moto (see rotation-rig.ts for where moto differs from AWS).
 */
const keyPair = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });

const APP = { appId: '314', installationId: '2718' };
const gh = new SimulatedGitHub(APP);
let moto: Moto | undefined;
let rig: RotationRig;
let env: Record<string, string>;
beforeAll(async () => {
  moto = await startMoto();
  if (!moto) warnMotoMissing('rotation-github');
  env = { OPSBOT_GITHUB_API_URL: (await gh.start()).url };
});
afterAll(async () => {
  await gh.stop();
  await moto?.stop();
});
beforeEach(() => {
  if (moto) rig = new RotationRig(moto);
});
afterEach(() => rig?.destroy());

describe('the simulated GitHub, for the rotation test', () => {
  it('GET /app answers the App (Octokit`s integration shape) to its JWT, 401 to a JWT of a key it lacks', async () => {
    const key = keyPair();
    const keyId = gh.addAppKey(key.publicKey);
    const jwt = async (privateKey: string) =>
      (await createAppAuth({ appId: APP.appId, privateKey })({ type: 'app' })).token;
    const app = await fetch(`${gh.url}/app`, {
      headers: { authorization: `Bearer ${await jwt(key.privateKey)}` },
    });
    expect(app.status).toBe(200);
    expect(await app.json()).toMatchObject({
      id: Number(APP.appId),
      slug: 'opsbot',
      owner: { login: 'opsbot-bot' },
    });
    gh.removeAppKey(keyId);
    const refused = await fetch(`${gh.url}/app`, {
      headers: { authorization: `Bearer ${await jwt(key.privateKey)}` },
    });
    expect(refused.status).toBe(401);
  });

  it('GET /user answers a personal token`s user; 401 to an unknown token', async () => {
    const pat = canary('github_pat');
    gh.addPersonalToken(pat);
    const user = await fetch(`${gh.url}/user`, { headers: { authorization: `token ${pat}` } });
    expect(user.status).toBe(200);
    expect(await user.json()).toMatchObject({ login: 'opsbot-bot', type: 'User' });
    const unknown = await fetch(`${gh.url}/user`, {
      headers: { authorization: `token ${canary('github_pat')}` },
    });
    expect(unknown.status).toBe(401);
  });
});

describe('the github kind', () => {
  it('promotes a new App private key once GitHub accepts a JWT it signed (GET /app, same app id)', async (ctx) => {
    if (!moto) return ctx.skip();
    const old = keyPair();
    gh.addAppKey(old.publicKey);
    const id = await rig.putSecret('github', { ...APP, privateKey: old.privateKey });
    const fresh = keyPair();
    gh.addAppKey(fresh.publicKey);
    const token = await rig.putPending(id, { ...APP, privateKey: fresh.privateKey });
    const calls = gh.calls.length;

    expect(await rig.rotate(rig.handler(env), id, token)).toEqual([
      'pending-kept',
      'set',
      'tested',
      'promoted',
    ]);

    expect((await rig.stages(id))[token]).toEqual(['AWSCURRENT']);
    expect((await rig.value(id, 'AWSCURRENT')).privateKey).toBe(fresh.privateKey);
    expect(gh.calls.slice(calls)).toEqual([{ method: 'GET', path: '/app', status: 200, auth: 'jwt' }]);
    assertNoCanary({ logs: rig.logs.text() }, [old.privateKey, fresh.privateKey]);
  });

  it('a key GitHub does not know fails testSecret, says why, and leaves AWSCURRENT serving', async (ctx) => {
    if (!moto) return ctx.skip();
    const old = keyPair();
    gh.addAppKey(old.publicKey);
    const id = await rig.putSecret('github', { ...APP, privateKey: old.privateKey });
    const current = await rig.versionWith(id, 'AWSCURRENT');
    const stranger = keyPair(); // never added to the App
    const token = await rig.putPending(id, { ...APP, privateKey: stranger.privateKey });

    const error = await thrown(() => rig.rotate(rig.handler(env), id, token));

    expect(error).toBeInstanceOf(RotationTestError);
    expect(error.message).toContain(
      `GitHub refused a JWT signed by the new private key for App ${APP.appId} (401): Integration must generate a public key`,
    );
    expect(await rig.versionWith(id, 'AWSCURRENT')).toBe(current);
    expect((await rig.value(id, 'AWSCURRENT')).privateKey).toBe(old.privateKey);
    assertNoCanary({ error, logs: rig.logs.text() }, [old.privateKey, stranger.privateKey]);
  });

  it('promotes a new fine-grained token once GET /user answers 200; a revoked one fails testSecret', async (ctx) => {
    if (!moto) return ctx.skip();
    const oldToken = canary('github_pat');
    const id = await rig.putSecret('github', { token: oldToken });
    const revoked = canary('github_pat');
    const refused = await rig.putPending(id, { token: revoked });
    const error = await thrown(() => rig.rotate(rig.handler(env), id, refused));
    expect(error).toBeInstanceOf(RotationTestError);
    expect(error.message).toContain('GitHub refused the new token (401): Bad credentials');
    expect((await rig.value(id, 'AWSCURRENT')).token).toBe(oldToken);

    const good = canary('github_pat');
    gh.addPersonalToken(good);
    const token = await rig.putPending(id, { token: good });
    await rig.rotate(rig.handler(env), id, token);
    expect((await rig.value(id, 'AWSCURRENT')).token).toBe(good);
    assertNoCanary({ error, logs: rig.logs.text() });
  });

  it('with no AWSPENDING value, createSecret says exactly what the person must put where', async (ctx) => {
    if (!moto) return ctx.skip();
    const id = await rig.putSecret('github', { token: canary('github_pat') });
    const current = await rig.versionWith(id, 'AWSCURRENT');
    const token = rig.startRotation(id);
    const error = await thrown(() =>
      rig.handler(env)({ SecretId: id, ClientRequestToken: token, Step: 'createSecret' }),
    );
    expect(error).toBeInstanceOf(RotationNeedsPersonError);
    expect(error.message).toBe(
      `${id} is rotated by a person: put the new GitHub App private key (with appId and installationId) or fine-grained token as its AWSPENDING version (aws secretsmanager put-secret-value --secret-id ${id} --version-stages AWSPENDING --secret-string file://new.json), then run /opsbot rotate again`,
    );
    expect(await rig.versionWith(id, 'AWSCURRENT')).toBe(current);
    assertNoCanary({ error, logs: rig.logs.text() });
  });

  it('GitHub unreachable at testSecret: the error names GitHub and the network error, AWSCURRENT stays', async (ctx) => {
    if (!moto) return ctx.skip();
    const id = await rig.putSecret('github', { token: canary('github_pat') });
    const current = await rig.versionWith(id, 'AWSCURRENT');
    const token = await rig.putPending(id, { token: canary('github_pat') });
    const down = { OPSBOT_GITHUB_API_URL: `http://127.0.0.1:${await freePort()}` };
    const error = await thrown(() => rig.rotate(rig.handler(down), id, token));
    expect(error).toBeInstanceOf(RotationStepError);
    expect(error.message).toMatch(
      /^GitHub could not be reached at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
    expect(await rig.versionWith(id, 'AWSCURRENT')).toBe(current);
    assertNoCanary({ error, logs: rig.logs.text() });
  });

  it('every step run again gives the same result; a finished rotation is left alone', async (ctx) => {
    if (!moto) return ctx.skip();
    const id = await rig.putSecret('github', { token: canary('github_pat') });
    const good = canary('github_pat');
    gh.addPersonalToken(good);
    const token = await rig.putPending(id, { token: good });
    const handle = rig.handler(env);
    for (const Step of ROTATION_STEPS) {
      const first = await handle({ SecretId: id, ClientRequestToken: token, Step });
      expect(await handle({ SecretId: id, ClientRequestToken: token, Step })).toBe(
        Step === 'finishSecret' ? 'already-current' : first,
      );
    }
    const versions = await rig.stages(id);
    expect(Object.keys(versions)).toHaveLength(3); // created, enabled (moto's copy), the person's
    for (const Step of ROTATION_STEPS) {
      expect(await handle({ SecretId: id, ClientRequestToken: token, Step })).toBe('already-current');
    }
    expect(await rig.stages(id)).toEqual(versions);
  });
});
