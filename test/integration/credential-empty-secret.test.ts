import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canary } from '../helpers/canary.js';
import { awsProviderRig } from '../helpers/credentials.js';
import { elapse, FakeClock } from '../helpers/fake-clock.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';

/**
 * A secret created empty (the CDK app creates the integration secrets so, for the operator to fill
 * in): the integration is simply not configured, quietly, until a value is put; then it loads at the
 * next poll, with no restart. Against moto, which models a secret with no version as AWS does.
 */
let moto: Moto | undefined;
beforeAll(async () => {
  moto = await startMoto();
  if (!moto) warnMotoMissing('credential-empty-secret');
});
afterAll(async () => {
  await moto?.stop();
});

describe('an integration secret created without a value', () => {
  it('is "not configured" (no error, no retry storm) until a value is put, then loads at the next poll', async (ctx) => {
    if (!moto) return ctx.skip();
    const admin = new SecretsManagerClient({
      endpoint: moto.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' },
    });
    const prefix = `e-${randomUUID().slice(0, 8)}/`;
    await admin.send(new CreateSecretCommand({ Name: `${prefix}github` }));
    const clock = new FakeClock();
    const rig = awsProviderRig({ endpoint: moto.url, clock, prefix, pollSeconds: 60 });
    try {
      await rig.provider.start(['github']);
      expect(rig.provider.isConfigured('github')).toBe(false);
      expect(rig.logs.records().filter((l) => Number(l.level) >= 50)).toEqual([]);
      expect(rig.logs.text()).toContain('integration not configured');

      const token = canary('github_pat');
      await admin.send(
        new PutSecretValueCommand({ SecretId: `${prefix}github`, SecretString: JSON.stringify({ token }) }),
      );
      await elapse(clock, rig.provider, 2 * 60_000, 5_000);
      expect(rig.provider.isConfigured('github')).toBe(true);
      expect(rig.provider.isLoaded('github')).toBe(true);
    } finally {
      rig.provider.stop();
      admin.destroy();
    }
  });
});
