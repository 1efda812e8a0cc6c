import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROTATION_BUNDLE_FILE } from '../../infra/lib/rotation-bundle.js';
import { assertNoCanary } from '../helpers/canary.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';
import { cleanEnv } from '../helpers/process.js';
import { logicalId, type Synthesized, synth } from './synth.js';

const run = promisify(execFile);
const CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' };

/**
 * The rotation functions' code as `cdk synth` stages it: bundled on this machine with esbuild (no
 * Docker), one asset for every function, and a bundle that runs as Lambda would run it.
 */
describe('the rotation function’s asset', () => {
  let s: Synthesized;
  let bundle: string;
  let moto: Moto | undefined;
  beforeAll(async () => {
    s = synth({}, { staging: true });
    // The staged asset is the directory asset.<hash> of the cloud assembly; S3Key is <hash>.zip.
    const fn = s.json.Resources[logicalId(s.stack.rotation.functions.audit as never)];
    const hash = String(fn?.Properties?.Code?.S3Key).replace(/\.zip$/, '');
    bundle = join(s.outdir, `asset.${hash}`, ROTATION_BUNDLE_FILE);
    moto = await startMoto();
    if (!moto) warnMotoMissing('rotation-bundle');
  }, 180_000);
  afterAll(async () => {
    s?.cleanup();
    await moto?.stop();
  });

  it('is one ES module with its dependencies, small enough for Lambda, with no source of the tests or the sandbox', () => {
    expect(existsSync(bundle), bundle).toBe(true);
    const dir = join(bundle, '..');
    expect(readdirSync(dir)).toEqual([ROTATION_BUNDLE_FILE]);
    // Lambda takes 250 MB unzipped; the production dependency tree alone is more.
    expect(statSync(bundle).size).toBeLessThan(50 * 1024 * 1024);
    const text = readFileSync(bundle, 'utf8');
    expect(text).not.toMatch(/src\/sandbox|test\/helpers/);
  });

  it('exports handler, which refuses what is not a rotation event with the operator’s sentence', async () => {
    const script = `const m = await import(${JSON.stringify(bundle)});
      if (typeof m.handler !== 'function') process.exit(3);
      try { await m.handler({ nope: true }); process.exit(4); } catch (e) { console.error('THROWN ' + e.name + ': ' + e.message); }`;
    const out = await run(process.execPath, ['--input-type=module', '-e', script], {
      env: cleanEnv({ OPSBOT_SECRET_PREFIX: 'opsbot/' }),
    });
    expect(out.stderr).toMatch(/THROWN RotationRefusedError: not a Secrets Manager rotation event/);
  }, 60_000);

  it('rotates a secret against Secrets Manager (moto): a version put as AWSPENDING is tested and becomes AWSCURRENT', async (ctx) => {
    if (!moto) return ctx.skip();
    const admin = new SecretsManagerClient({
      endpoint: moto.url,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    });
    try {
      const prefix = `b-${randomUUID().slice(0, 8)}/`;
      const id = `${prefix}audit`;
      const old = randomBytes(32).toString('base64');
      const fresh = randomBytes(32).toString('base64');
      await admin.send(
        new CreateSecretCommand({ Name: id, SecretString: JSON.stringify({ chainKey: old }) }),
      );
      // Rotation on (the function refuses a secret whose rotation is off). moto reports it only after
      // RotateSecret with rules, and then copies the value to a new AWSCURRENT by itself (no Lambda).
      await admin.send(
        new RotateSecretCommand({
          SecretId: id,
          RotationRules: { AutomaticallyAfterDays: 30 },
          RotateImmediately: false,
        }),
      );
      const token = randomUUID();
      await admin.send(
        new PutSecretValueCommand({
          SecretId: id,
          ClientRequestToken: token,
          SecretString: JSON.stringify({ chainKey: fresh }),
          VersionStages: ['AWSPENDING'],
        }),
      );
      // As Lambda runs it: the module's handler, the production client from the environment.
      const script = `
        const { handler } = await import(${JSON.stringify(bundle)});
        for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'])
          await handler({ SecretId: process.env.SECRET_ID, ClientRequestToken: process.env.TOKEN, Step });`;
      const out = await run(process.execPath, ['--input-type=module', '-e', script], {
        env: cleanEnv({
          OPSBOT_SECRET_PREFIX: prefix,
          AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.url,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
          SECRET_ID: id,
          TOKEN: token,
        }),
      }).catch((error: { stdout?: string; stderr?: string }) => {
        throw new Error(`the bundled rotation failed:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
      });
      for (const step of [
        'createSecret: pending-kept',
        'setSecret: set',
        'testSecret: tested',
        'finishSecret: promoted',
      ])
        expect(out.stdout).toContain(`rotation step ${step}`);
      const stages = (await admin.send(new DescribeSecretCommand({ SecretId: id }))).VersionIdsToStages ?? {};
      expect(stages[token]).toContain('AWSCURRENT');
      const current = await admin.send(
        new GetSecretValueCommand({ SecretId: id, VersionId: token, VersionStage: 'AWSCURRENT' }),
      );
      expect(JSON.parse(current.SecretString ?? '{}').chainKey).toBe(fresh);
      assertNoCanary({ stdout: out.stdout, stderr: out.stderr }, [old, fresh]);
    } finally {
      admin.destroy();
    }
  }, 120_000);
});
