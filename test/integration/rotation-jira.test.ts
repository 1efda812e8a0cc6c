import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RotationStepError } from '../../src/rotation/errors.js';
import { RotationNeedsPersonError, RotationTestError } from '../../src/rotation/kind.js';
import { SimulatedJira } from '../../src/sandbox/jira.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';
import { freePort } from '../helpers/process.js';
import { RotationRig, thrown } from './rotation-rig.js';

/**
 * The `jira` secret is made by a person: the rotation function proves the new API token with
 * `GET /rest/api/3/myself` against the simulated Jira before it becomes AWSCURRENT.
 */
const EMAIL = 'sam@example.com';
const jira = new SimulatedJira();
let moto: Moto | undefined;
let rig: RotationRig;
let env: Record<string, string>;
beforeAll(async () => {
  moto = await startMoto();
  if (!moto) warnMotoMissing('rotation-jira');
  env = { OPSBOT_JIRA_URL: (await jira.start()).url };
});
afterAll(async () => {
  await jira.stop();
  await moto?.stop();
});
beforeEach(() => {
  if (moto) rig = new RotationRig(moto);
});
afterEach(() => rig?.destroy());

describe('the jira kind', () => {
  it('promotes a new API token once Jira answers myself with 200', async (ctx) => {
    if (!moto) return ctx.skip();
    const old = canary('jira');
    jira.addToken(EMAIL, old);
    const id = await rig.putSecret('jira', { email: EMAIL, apiToken: old });
    const fresh = canary('jira');
    jira.addToken(EMAIL, fresh);
    const token = await rig.putPending(id, { email: EMAIL, apiToken: fresh });

    expect(await rig.rotate(rig.handler(env), id, token)).toEqual([
      'pending-kept',
      'set',
      'tested',
      'promoted',
    ]);
    expect((await rig.value(id, 'AWSCURRENT')).apiToken).toBe(fresh);
    expect(jira.calls.at(-1)).toMatchObject({ method: 'GET', path: '/rest/api/3/myself', status: 200 });
    assertNoCanary({ logs: rig.logs.text() });
  });

  it('a token Jira refuses fails testSecret with Jira’s 401 and leaves AWSCURRENT serving', async (ctx) => {
    if (!moto) return ctx.skip();
    const old = canary('jira');
    const id = await rig.putSecret('jira', { email: EMAIL, apiToken: old });
    const current = await rig.versionWith(id, 'AWSCURRENT');
    const token = await rig.putPending(id, { email: EMAIL, apiToken: canary('jira') });
    const error = await thrown(() => rig.rotate(rig.handler(env), id, token));
    expect(error).toBeInstanceOf(RotationTestError);
    expect(error.message).toMatch(/^Jira refused the new API token \(401\): Client must be authenticated/);
    expect(await rig.versionWith(id, 'AWSCURRENT')).toBe(current);
    expect((await rig.value(id, 'AWSCURRENT')).apiToken).toBe(old);
    // Why it stopped is left on the secret, where /opsbot rotate reads it (DescribeSecret has no reason).
    const tags = new Map(
      ((await rig.admin.send(new DescribeSecretCommand({ SecretId: id }))).Tags ?? []).map((t) => [
        t.Key,
        t.Value,
      ]),
    );
    // As AWS tag values allow: parentheses become spaces.
    expect(tags.get('opsbot:rotation-failure')).toMatch(
      /^testSecret: Jira refused the new API token {2}401 : /,
    );
    expect(tags.get('opsbot:rotation-failure-token')).toBe(token);
    expect(Number(tags.get('opsbot:rotation-failure-at'))).toBeGreaterThan(Date.now() - 60_000);
    assertNoCanary({ error, logs: rig.logs.text(), tags: [...tags.values()] });
  });

  it('Jira unreachable, or OPSBOT_JIRA_URL unset: testSecret says so and AWSCURRENT stays', async (ctx) => {
    if (!moto) return ctx.skip();
    const id = await rig.putSecret('jira', { email: EMAIL, apiToken: canary('jira') });
    const current = await rig.versionWith(id, 'AWSCURRENT');
    const token = await rig.putPending(id, { email: EMAIL, apiToken: canary('jira') });
    const closed = `http://127.0.0.1:${await freePort()}`;
    const down = await thrown(() => rig.rotate(rig.handler({ OPSBOT_JIRA_URL: closed }), id, token));
    expect(down).toBeInstanceOf(RotationStepError);
    expect(down.message).toMatch(/^Jira could not be reached at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    const unset = await thrown(() => rig.rotate(rig.handler({}), id, token));
    expect(unset.message).toContain('OPSBOT_JIRA_URL is not set for the rotation function');
    expect(await rig.versionWith(id, 'AWSCURRENT')).toBe(current);
    assertNoCanary({ down, unset, logs: rig.logs.text() });
  });

  it('with no AWSPENDING value, or a malformed one, createSecret says what to put, never the value', async (ctx) => {
    if (!moto) return ctx.skip();
    const id = await rig.putSecret('jira', { email: EMAIL, apiToken: canary('jira') });
    const started = rig.startRotation(id);
    const none = await thrown(() =>
      rig.handler(env)({ SecretId: id, ClientRequestToken: started, Step: 'createSecret' }),
    );
    expect(none).toBeInstanceOf(RotationNeedsPersonError);
    expect(none.message).toContain(
      `put the new Jira API token (with the account email) as its AWSPENDING version`,
    );

    const short = 'jx9q';
    const token = await rig.putPending(id, { email: EMAIL, apiToken: short });
    const malformed = await thrown(() =>
      rig.handler(env)({ SecretId: id, ClientRequestToken: token, Step: 'createSecret' }),
    );
    expect(malformed.message).toContain(
      `the AWSPENDING version of ${id} is not a valid jira secret (apiToken: too short to be real)`,
    );
    assertNoCanary({ none, malformed, logs: rig.logs.text() }, [short]);
  });
});
