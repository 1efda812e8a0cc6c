import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditRotation } from '../../src/rotation/audit.js';
import { RotationRefusedError, RotationStepError } from '../../src/rotation/errors.js';
import { createRotationHandler, handler } from '../../src/rotation/lambda.js';
import { ROTATION_STEPS } from '../../src/rotation/steps.js';
import { assertNoCanary } from '../helpers/canary.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';
import { RotationRig, thrown } from './rotation-rig.js';

/**
 * The audit chain key rotates with no person: the rotation function, step by step, against moto's
 * Secrets Manager (see rotation-rig.ts for where moto differs from AWS and how the rig models AWS).
 */
let moto: Moto | undefined;
let rig: RotationRig;
beforeAll(async () => {
  moto = await startMoto();
  if (!moto) warnMotoMissing('rotation-audit');
});
afterAll(async () => {
  await moto?.stop();
});
// A rig per test: its own secret prefix, logs and clients.
beforeEach(() => {
  if (moto) rig = new RotationRig(moto);
});
afterEach(() => rig?.destroy());

const chainKey = () => randomBytes(32).toString('base64');

describe('the audit kind', () => {
  it('rotates the chain key: a new 32-byte key becomes AWSCURRENT, the old one AWSPREVIOUS, and no key is logged', async (ctx) => {
    if (!moto) return ctx.skip();
    const old = chainKey();
    const id = await rig.putSecret('audit', { chainKey: old });
    const before = await rig.versionWith(id, 'AWSCURRENT');
    const token = rig.startRotation(id);

    const outcomes = await rig.rotate(rig.handler(), id, token);

    expect(outcomes).toEqual(['created', 'set', 'tested', 'promoted']);
    const stages = await rig.stages(id);
    expect(stages[token]).toEqual(['AWSCURRENT']);
    expect(before && stages[before]).toEqual(['AWSPREVIOUS']);
    const fresh = String((await rig.value(id, 'AWSCURRENT')).chainKey);
    expect(fresh).not.toBe(old);
    expect(Buffer.from(fresh, 'base64')).toHaveLength(32);
    expect((await rig.value(id, 'AWSPREVIOUS')).chainKey).toBe(old);
    assertNoCanary({ logs: rig.logs.text() }, [old, fresh]);
    expect(rig.logs.text()).toContain('rotation step finishSecret: promoted');
  });

  it('every step run again gives the same result and no second version', async (ctx) => {
    if (!moto) return ctx.skip();
    const id = await rig.putSecret('audit', { chainKey: chainKey() });
    const token = rig.startRotation(id);
    const handle = rig.handler();
    const event = (Step: string) => ({ SecretId: id, ClientRequestToken: token, Step });

    expect(await handle(event('createSecret'))).toBe('created');
    const made = (await rig.value(id, 'AWSPENDING')).chainKey;
    const versions = Object.keys(await rig.stages(id)).length;
    // moto would let a second PutSecretValue overwrite AWSPENDING (AWS refuses a different value
    // under the same token): the step must not try.
    expect(await handle(event('createSecret'))).toBe('pending-kept');
    expect((await rig.value(id, 'AWSPENDING')).chainKey).toBe(made);
    expect(Object.keys(await rig.stages(id))).toHaveLength(versions);
    expect(await handle(event('setSecret'))).toBe('set');
    expect(await handle(event('setSecret'))).toBe('set');
    expect(await handle(event('testSecret'))).toBe('tested');
    expect(await handle(event('testSecret'))).toBe('tested');
    expect(await handle(event('finishSecret'))).toBe('promoted');
    const after = await rig.stages(id);
    for (const step of ROTATION_STEPS) expect(await handle(event(step))).toBe('already-current');
    expect(await rig.stages(id)).toEqual(after);
    expect((await rig.value(id, 'AWSCURRENT')).chainKey).toBe(made);
  });

  it('an emergency rotation (the tag names its token) puts OPSBOT_EMERGENCY on the new current', async (ctx) => {
    if (!moto) return ctx.skip();
    const id = await rig.putSecret('audit', { chainKey: chainKey() });
    const token = rig.startRotation(id);
    await rig.tagEmergency(id, token);
    await rig.rotate(rig.handler(), id, token);
    expect((await rig.stages(id))[token]?.sort()).toEqual(['AWSCURRENT', 'OPSBOT_EMERGENCY']);

    // The next emergency moves the label (AWS requires naming the version it leaves).
    const next = rig.startRotation(id);
    await rig.tagEmergency(id, next);
    await rig.rotate(rig.handler(), id, next);
    const stages = await rig.stages(id);
    expect(stages[next]?.sort()).toEqual(['AWSCURRENT', 'OPSBOT_EMERGENCY']);
    expect(stages[token]).toEqual(['AWSPREVIOUS']);
  });

  it('an ordinary rotation (no tag, or a tag naming another token) adds no OPSBOT_EMERGENCY', async (ctx) => {
    if (!moto) return ctx.skip();
    const id = await rig.putSecret('audit', { chainKey: chainKey() });
    await rig.tagEmergency(id, randomUUID());
    const token = rig.startRotation(id);
    await rig.rotate(rig.handler(), id, token);
    expect((await rig.stages(id))[token]).toEqual(['AWSCURRENT']);
  });

  it('refuses what AWS’s template refuses, leaving AWSCURRENT as it was', async (ctx) => {
    if (!moto) return ctx.skip();
    const handle = rig.handler();
    const other = new RotationRig(moto);
    try {
      const off = await other.putSecret('audit', { chainKey: chainKey() }, { rotation: false });
      const offToken = other.startRotation(off);
      const notEnabled = await thrown(() =>
        other.handler()({ SecretId: off, ClientRequestToken: offToken, Step: 'createSecret' }),
      );
      expect(notEnabled).toBeInstanceOf(RotationRefusedError);
      expect(notEnabled.message).toContain(`rotation is not enabled for ${off}`);
      expect(await other.versionWith(off, 'AWSPENDING')).toBeUndefined();
    } finally {
      other.destroy();
    }

    const id = await rig.putSecret('audit', { chainKey: chainKey() });
    const current = await rig.versionWith(id, 'AWSCURRENT');
    const unknown = await thrown(() =>
      handle({ SecretId: id, ClientRequestToken: randomUUID(), Step: 'createSecret' }),
    );
    expect(unknown.message).toMatch(/has no stage for rotation of/);

    const token = rig.startRotation(id);
    await rig.rotate(handle, id, token);
    const previous = await thrown(() =>
      handle({ SecretId: id, ClientRequestToken: String(current), Step: 'setSecret' }),
    );
    expect(previous.message).toContain('is not AWSPENDING (it is AWSPREVIOUS)');

    const stranger = `${rig.prefix}nobody`;
    await rig.putSecret('nobody', { chainKey: chainKey() });
    const noKind = await thrown(() =>
      handle({ SecretId: stranger, ClientRequestToken: randomUUID(), Step: 'createSecret' }),
    );
    expect(noKind.message).toContain(`opsbot has no rotation for ${stranger}: it rotates`);
    expect(noKind.message).toContain(`${rig.prefix}audit`);
  });

  it('a failed createSecret (a value that is not a chain key under the token) leaves AWSCURRENT serving and says why, not what', async (ctx) => {
    if (!moto) return ctx.skip();
    const id = await rig.putSecret('audit', { chainKey: chainKey() });
    const current = await rig.versionWith(id, 'AWSCURRENT');
    const bad = randomBytes(16).toString('base64');
    const token = await rig.putPending(id, { chainKey: bad });
    const error = await thrown(() => rig.rotate(rig.handler(), id, token));
    expect(error).toBeInstanceOf(RotationStepError);
    expect(error.message).toContain(`the AWSPENDING version of ${id} is not a valid audit secret (chainKey:`);
    expect(await rig.versionWith(id, 'AWSCURRENT')).toBe(current);
    assertNoCanary({ error, logs: rig.logs.text() }, [bad]);
  });

  it('a failed testSecret stops the rotation there: AWSCURRENT is unchanged', async (ctx) => {
    if (!moto) return ctx.skip();
    const refusing = {
      ...auditRotation,
      test: async () => {
        throw new Error('refused by the test');
      },
    };
    const id = await rig.putSecret('audit', { chainKey: chainKey() });
    const current = await rig.versionWith(id, 'AWSCURRENT');
    const token = rig.startRotation(id);
    const handle = createHandlerWith(refusing);
    await rig.rotate(handle, id, token, ['createSecret', 'setSecret']);
    const error = await thrown(() => handle({ SecretId: id, ClientRequestToken: token, Step: 'testSecret' }));
    expect(error).toBeInstanceOf(RotationStepError);
    expect(error.message).toBe(`testSecret for ${id} failed: Error: refused by the test`);
    expect(await rig.versionWith(id, 'AWSCURRENT')).toBe(current);
  });

  it('the Lambda entry point reads its settings from the environment and rotates against AWS_ENDPOINT_URL_SECRETS_MANAGER', async (ctx) => {
    if (!moto) return ctx.skip();
    const id = await rig.putSecret('audit', { chainKey: chainKey() });
    const token = await rig.putPending(id, { chainKey: chainKey() });
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDTEST',
      AWS_SECRET_ACCESS_KEY: 'test-secret-key',
      OPSBOT_SECRET_PREFIX: rig.prefix,
      LOG_LEVEL: 'silent',
    });
    for (const Step of ROTATION_STEPS) {
      await handler({ SecretId: id, ClientRequestToken: token, Step });
    }
    expect((await rig.stages(id))[token]).toEqual(['AWSCURRENT']);
  });
});

function createHandlerWith(kind: typeof auditRotation) {
  return createRotationHandler({
    client: rig.client,
    env: { OPSBOT_SECRET_PREFIX: rig.prefix },
    integrations: [],
    own: [kind],
    log: rig.logs.log,
    redactor: rig.logs.redactor,
  });
}
