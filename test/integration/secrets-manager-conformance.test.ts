import { randomUUID } from 'node:crypto';
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, describe, expect, it } from 'vitest';
import { ProtectedApi } from '../../src/sandbox/protected-api.js';
import { canary } from '../helpers/canary.js';
import { secretsManagerTargets } from '../helpers/secrets-manager-targets.js';

/**
 * The simulated Secrets Manager, held to moto (an independent implementation of the protocol):
 * the same calls through the real SDK must give the same answers from both.
 */
const { sandbox, sandboxUrl, targets, stop } = await secretsManagerTargets('secrets-manager-conformance');
afterAll(stop);

const clientFor = (endpoint: string, maxAttempts = 3) =>
  new SecretsManagerClient({
    endpoint,
    region: 'us-east-1',
    maxAttempts,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' },
  });

describe.each(targets)('Secrets Manager protocol: $target', ({ target, url, skip }) => {
  const sm = clientFor(url || 'http://127.0.0.1:9');
  const unique = () => `conf-${randomUUID().slice(0, 8)}/slack`;
  const value = () => JSON.stringify({ botToken: canary('xoxb'), signingSecret: canary('sign') });

  async function stagesOf(name: string): Promise<Record<string, string[]>> {
    const out = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    const labelled = Object.entries(out.VersionIdsToStages ?? {}).filter(([, s]) => s.length > 0);
    return Object.fromEntries(labelled.map(([id, s]) => [id, [...s].sort()]));
  }

  it.skipIf(skip)('creates, then gets by stage and by version id', async () => {
    const name = unique();
    const first = value();
    const created = await sm.send(new CreateSecretCommand({ Name: name, SecretString: first }));
    expect(created.ARN).toMatch(
      new RegExp(`^arn:aws:secretsmanager:us-east-1:\\d{12}:secret:${name}-\\w{6}$`),
    );
    const byStage = await sm.send(new GetSecretValueCommand({ SecretId: name }));
    expect(byStage).toMatchObject({ Name: name, SecretString: first, VersionId: created.VersionId });
    expect(byStage.VersionStages).toEqual(['AWSCURRENT']);
    expect(byStage.CreatedDate).toBeInstanceOf(Date);
    const byId = await sm.send(
      new GetSecretValueCommand({ SecretId: created.ARN, VersionId: created.VersionId }),
    );
    expect(byId.SecretString).toBe(first);
    expect(await stagesOf(name)).toEqual({ [created.VersionId as string]: ['AWSCURRENT'] });
  });

  it.skipIf(skip)('rotates the way a rotation Lambda does, leaving AWSPREVIOUS behind', async () => {
    const name = unique();
    const created = await sm.send(new CreateSecretCommand({ Name: name, SecretString: value() }));
    const v1 = created.VersionId as string;
    const next = value();
    const token = randomUUID();
    const put = await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: next,
        ClientRequestToken: token,
        VersionStages: ['AWSPENDING'],
      }),
    );
    expect(put.VersionId).toBe(token);
    expect(await stagesOf(name)).toEqual({ [v1]: ['AWSCURRENT'], [token]: ['AWSPENDING'] });
    const pending = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' }));
    expect(pending.SecretString).toBe(next);

    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: token,
        RemoveFromVersionId: v1,
      }),
    );
    expect(await stagesOf(name)).toEqual({ [v1]: ['AWSPREVIOUS'], [token]: ['AWSCURRENT', 'AWSPENDING'] });
    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: token,
      }),
    );
    expect(await stagesOf(name)).toEqual({ [v1]: ['AWSPREVIOUS'], [token]: ['AWSCURRENT'] });
    // moto 5.2 answers a GetSecretValue without VersionStage from the version current before the
    // UpdateSecretVersionStage (AWS defaults to AWSCURRENT; the sandbox does too). opsbot always asks
    // by VersionId, so it does not depend on either; here the stage is named explicitly.
    const current = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }));
    expect(current.SecretString).toBe(next);
    const previous = await sm.send(
      new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }),
    );
    expect(previous.VersionId).toBe(v1);
  });

  it.skipIf(skip)('a plain PutSecretValue moves AWSCURRENT and AWSPREVIOUS along', async () => {
    const name = unique();
    const v1 = (await sm.send(new CreateSecretCommand({ Name: name, SecretString: value() })))
      .VersionId as string;
    const v2 = (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: value() })))
      .VersionId as string;
    const v3 = (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: value() })))
      .VersionId as string;
    expect(await stagesOf(name)).toEqual({ [v2]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT'] });
    expect(v1).not.toBe(v2);
  });

  it.skipIf(skip)('keeps a version that carries both AWSCURRENT and AWSPENDING', async () => {
    const name = unique();
    const v1 = (await sm.send(new CreateSecretCommand({ Name: name, SecretString: value() })))
      .VersionId as string;
    const both = await sm.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: value(),
        VersionStages: ['AWSCURRENT', 'AWSPENDING'],
      }),
    );
    expect(await stagesOf(name)).toEqual({
      [v1]: ['AWSPREVIOUS'],
      [both.VersionId as string]: ['AWSCURRENT', 'AWSPENDING'],
    });
  });

  it.skipIf(skip)('answers BatchGetSecretValue with values and per-secret errors', async () => {
    const a = unique();
    const b = unique();
    await sm.send(new CreateSecretCommand({ Name: a, SecretString: '{"a":"1"}' }));
    await sm.send(new CreateSecretCommand({ Name: b, SecretString: '{"b":"2"}' }));
    const out = await sm.send(new BatchGetSecretValueCommand({ SecretIdList: [a, b] }));
    const pairs = out.SecretValues?.map((v) => `${v.Name}=${v.SecretString}`).sort();
    expect(pairs).toEqual([`${a}={"a":"1"}`, `${b}={"b":"2"}`].sort());
    expect(out.Errors ?? []).toEqual([]);
  });

  it.skipIf(skip)('tags a secret, and DescribeSecret shows and forgets its tags', async () => {
    const name = unique();
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: value() }));
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).Tags ?? []).toEqual([]);
    const token = randomUUID();
    await sm.send(
      new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'opsbot:emergency-rotation', Value: token }] }),
    );
    await sm.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'team', Value: 'platform' }] }));
    const tagged = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect((tagged.Tags ?? []).map((t) => `${t.Key}=${t.Value}`).sort()).toEqual([
      `opsbot:emergency-rotation=${token}`,
      'team=platform',
    ]);
    // A second TagResource with the same key replaces its value.
    await sm.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'team', Value: 'web' }] }));
    await sm.send(new UntagResourceCommand({ SecretId: name, TagKeys: ['opsbot:emergency-rotation'] }));
    const untagged = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(untagged.Tags).toEqual([{ Key: 'team', Value: 'web' }]);
  });

  it.skipIf(skip)('lists version ids with their stages and creation dates', async () => {
    const name = unique();
    const v1 = (await sm.send(new CreateSecretCommand({ Name: name, SecretString: value() })))
      .VersionId as string;
    const v2 = (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: value() })))
      .VersionId as string;
    const out = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name }));
    const listed = Object.fromEntries(
      (out.Versions ?? []).map((v) => [v.VersionId, [...(v.VersionStages ?? [])].sort()]),
    );
    expect(listed).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });
    expect((out.Versions ?? []).every((v) => v.CreatedDate instanceof Date)).toBe(true);
  });

  it.skipIf(skip)('reports missing secrets, stages and duplicates with AWS error names', async () => {
    const missing = await sm.send(new GetSecretValueCommand({ SecretId: unique() })).catch((e: unknown) => e);
    expect((missing as Error).name).toBe('ResourceNotFoundException');
    // AWS answers 400 (API reference, "Errors"); moto 5.2 answers 404. opsbot goes by the error name.
    const status = (missing as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode;
    expect(status).toBe(target === 'moto' ? 404 : 400);
    const describeMissing = await sm
      .send(new DescribeSecretCommand({ SecretId: unique() }))
      .catch((e: unknown) => e);
    expect((describeMissing as Error).name).toBe('ResourceNotFoundException');

    const name = unique();
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: value() }));
    const noPending = await sm
      .send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' }))
      .catch((e: unknown) => e);
    expect((noPending as Error).name).toBe('ResourceNotFoundException');
    const duplicate = await sm
      .send(new CreateSecretCommand({ Name: name, SecretString: value() }))
      .catch((e: unknown) => e);
    expect((duplicate as Error).name).toBe('ResourceExistsException');
  });
});

describe('the sandbox only', () => {
  const sm = clientFor(sandboxUrl, 1);
  const name = () => `only-${randomUUID().slice(0, 8)}/github`;

  it('injects throttling, 5xx, AccessDenied and latency, and counts every call by API', async () => {
    const secret = name();
    sandbox.create(secret, JSON.stringify({ token: canary('github_pat') }));
    sandbox.resetCalls();
    sandbox.faults.set({ kind: 'throttle', api: 'DescribeSecret', count: 1 });
    sandbox.faults.set({ kind: '5xx', api: 'DescribeSecret', count: 1 });
    sandbox.faults.set({ kind: 'access_denied', api: 'GetSecretValue', secret, count: 1 });
    const throttled = await sm.send(new DescribeSecretCommand({ SecretId: secret })).catch((e: unknown) => e);
    expect((throttled as Error).name).toBe('ThrottlingException');
    const failed = await sm.send(new DescribeSecretCommand({ SecretId: secret })).catch((e: unknown) => e);
    expect((failed as Error).name).toBe('InternalServiceError');
    expect((failed as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(500);
    const denied = await sm.send(new GetSecretValueCommand({ SecretId: secret })).catch((e: unknown) => e);
    expect((denied as Error).name).toBe('AccessDeniedException');
    expect((await sm.send(new DescribeSecretCommand({ SecretId: secret }))).Name).toBe(secret);

    sandbox.faults.set({ kind: 'latency', latencyMs: 150, count: 1 });
    const started = performance.now();
    await sm.send(new GetSecretValueCommand({ SecretId: secret }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(sandbox.calls).toEqual({ DescribeSecret: 3, GetSecretValue: 2 });
    sandbox.faults.clear();
  });

  it('rotates through AWSPENDING, can hold there, and tells listeners as labels move', async () => {
    const secret = name();
    const v1 = sandbox.create(secret, JSON.stringify({ token: canary('github_pat') }));
    const moves: string[] = [];
    const stop = sandbox.onStageChange((c) => {
      if (c.name === secret)
        moves.push(`${c.versionId === v1 ? 'v1' : 'v2'}:${c.stages.sort().join('+') || '-'}`);
    });
    const v2 = sandbox.rotate(secret, { hold: true });
    expect(sandbox.stagesOf(secret)).toEqual({ [v1]: ['AWSCURRENT'], [v2]: ['AWSPENDING'] });
    expect(sandbox.valueOf(secret, 'AWSPENDING')).toMatch(
      /^\{"token":"github_pat-test-canary-[0-9a-f]{24}"\}$/,
    );
    expect(sandbox.valueOf(secret, 'AWSPENDING')).not.toBe(sandbox.valueOf(secret));
    sandbox.finishRotation(secret);
    expect(sandbox.stagesOf(secret)).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });
    expect(moves).toEqual([
      'v2:AWSPENDING',
      'v1:-',
      'v1:AWSPREVIOUS',
      'v2:AWSCURRENT+AWSPENDING',
      'v2:AWSCURRENT',
    ]);
    stop();

    const rotated = await sm.send(new RotateSecretCommand({ SecretId: secret }));
    expect(sandbox.stagesOf(secret)).toEqual({
      [v2]: ['AWSPREVIOUS'],
      [rotated.VersionId as string]: ['AWSCURRENT'],
    });
  });

  it('RotateSecret with a rotation function: AWSPENDING without a value first, then the four steps', async () => {
    const secret = name();
    const v1 = sandbox.create(secret, JSON.stringify({ token: canary('github_pat') }));
    const steps: string[] = [];
    let seenBeforeCreate: { stages: Record<string, string[]>; pendingValue: string } | undefined;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    sandbox.setRotationFunction(async (event) => {
      steps.push(event.Step);
      if (event.Step === 'createSecret') {
        await gate;
        const pending = await sm
          .send(
            new GetSecretValueCommand({
              SecretId: secret,
              VersionId: event.ClientRequestToken,
              VersionStage: 'AWSPENDING',
            }),
          )
          .catch((e: unknown) => (e as Error).name);
        seenBeforeCreate = { stages: sandbox.stagesOf(secret), pendingValue: String(pending) };
        await sm.send(
          new PutSecretValueCommand({
            SecretId: event.SecretId,
            ClientRequestToken: event.ClientRequestToken,
            SecretString: JSON.stringify({ token: canary('github_pat') }),
            VersionStages: ['AWSPENDING'],
          }),
        );
      }
      if (event.Step === 'finishSecret') {
        await sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: event.SecretId,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: event.ClientRequestToken,
            RemoveFromVersionId: v1,
          }),
        );
      }
    });
    try {
      // Without rotation configured, AWS refuses; the sandbox keeps its own rotator then.
      await sm.send(
        new RotateSecretCommand({
          SecretId: secret,
          RotationLambdaARN: 'arn:aws:lambda:us-east-1:123456789012:function:opsbot-rotation',
          RotationRules: { AutomaticallyAfterDays: 30 },
          RotateImmediately: false,
        }),
      );
      const configured = await sm.send(new DescribeSecretCommand({ SecretId: secret }));
      expect(configured).toMatchObject({
        RotationEnabled: true,
        RotationRules: { AutomaticallyAfterDays: 30 },
      });
      expect(configured.NextRotationDate).toBeInstanceOf(Date);
      expect(steps).toEqual([]);

      const token = randomUUID();
      const rotated = await sm.send(
        new RotateSecretCommand({ SecretId: secret, ClientRequestToken: token, RotateImmediately: true }),
      );
      expect(rotated.VersionId).toBe(token);
      // A second rotation while this one runs is refused, as AWS refuses it.
      const again = await sm
        .send(new RotateSecretCommand({ SecretId: secret, ClientRequestToken: randomUUID() }))
        .catch((e: unknown) => e);
      expect((again as Error).name).toBe('InvalidRequestException');
      release();
      await sandbox.rotationSettled(secret);
      expect(seenBeforeCreate).toEqual({
        stages: { [v1]: ['AWSCURRENT'], [token]: ['AWSPENDING'] },
        pendingValue: 'ResourceNotFoundException',
      });
      expect(steps).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
      const done = await sm.send(new DescribeSecretCommand({ SecretId: secret }));
      expect(done.LastRotatedDate).toBeInstanceOf(Date);
      // finishSecret (here) leaves AWSPENDING on the new version: opsbot's function takes it off.
      expect(sandbox.stagesOf(secret)).toEqual({
        [v1]: ['AWSPREVIOUS'],
        [token]: ['AWSPENDING', 'AWSCURRENT'],
      });
    } finally {
      sandbox.setRotationFunction(undefined);
    }
  });

  it('has a protected API that refuses the old credential the moment AWSCURRENT moves', async () => {
    const secret = name();
    const oldToken = canary('github_pat');
    sandbox.create(secret, JSON.stringify({ token: oldToken }));
    const api = new ProtectedApi({ secrets: sandbox, secretName: secret, field: 'token' });
    const { url: apiUrl } = await api.start();
    const whoami = (token: string) =>
      fetch(`${apiUrl}/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect((await whoami(oldToken)).status).toBe(200);
    sandbox.rotate(secret, { hold: true });
    const newToken = (JSON.parse(sandbox.valueOf(secret, 'AWSPENDING') as string) as { token: string }).token;
    expect((await whoami(newToken)).status).toBe(401);
    api.accepts = 'current+pending';
    expect((await whoami(newToken)).status).toBe(200);
    api.accepts = 'current';
    sandbox.finishRotation(secret);
    const refused = await whoami(oldToken);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ ok: false, error: 'invalid_auth' });
    expect(await (await whoami(newToken)).json()).toMatchObject({ ok: true });
    expect(api.counts).toEqual({ accepted: 3, rejected: 2 });
    await api.stop();
  });

  it('refuses unsigned requests and unknown operations', async () => {
    const unsigned = await fetch(sandboxUrl, {
      method: 'POST',
      headers: {
        'x-amz-target': 'secretsmanager.DescribeSecret',
        'content-type': 'application/x-amz-json-1.1',
      },
      body: '{}',
    });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toMatchObject({ __type: 'MissingAuthenticationTokenException' });
    const unknown = await fetch(sandboxUrl, {
      method: 'POST',
      headers: { 'x-amz-target': 'secretsmanager.DeleteEverything' },
    });
    expect(await unknown.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });
});
