import { randomUUID } from 'node:crypto';
import {
  CreateLaunchTemplateCommand,
  CreateTagsCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  type DescribeInstancesCommandOutput,
  DescribeLaunchTemplatesCommand,
  EC2Client,
  type Instance,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  AssumeRoleCommand,
  type Credentials,
  GetCallerIdentityCommand,
  STSClient,
} from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedAws, type SimulatedAwsOptions } from '../../src/sandbox/ec2.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startMoto } from '../helpers/moto.js';

/** An access key id no STS ever minted, made at run time. */
const unknownKey = () => `ASIA${randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase()}`;

/**
 * The simulated STS and EC2, held to moto (an independent implementation of both): the same calls
 * through the real SDK clients must give the same answers from both. What moto does not do (ClientToken
 * idempotency, signature checks, expiry, the pending → running timeline, who-called-what records)
 * is tested on the sandbox alone, below.
 */

const ACCOUNT = '123456789012';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/opsbot-dev-env`;
/** opsbot's own ("task role") credentials. moto accepts any. */
const BASE = { accessKeyId: 'AKIDOPSBOTTASK0001', secretAccessKey: 'task-role-secret-0123456789' };
/** One of moto's built-in AMIs (moto wants the launch template's image to exist). */
const IMAGE_ID = 'ami-12c6146b';
const REGION = 'us-east-1';

const sandbox = new SimulatedAws();
const sandboxUrl = (await sandbox.start()).url;
sandbox.sts.addCredentials(BASE.accessKeyId, BASE.secretAccessKey, {
  arn: `arn:aws:iam::${ACCOUNT}:user/opsbot-task`,
});
sandbox.sts.addRole(ROLE_ARN);

// Without moto the moto runs are skipped, loudly; with CI=true startMoto throws instead.
const moto = await startMoto();
if (!moto) {
  console.warn(
    '\n*** moto_server not found: the moto runs of sandbox-aws-conformance are SKIPPED. Install it (pip install "moto[server]"); with CI=true they fail instead. ***\n',
  );
}
afterAll(async () => {
  await sandbox.stop();
  await moto?.stop();
});

const targets = [
  { target: 'sandbox' as const, url: sandboxUrl, skip: false },
  { target: 'moto' as const, url: moto?.url ?? '', skip: !moto },
];

type Keys = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

const stsClient = (endpoint: string, credentials: Keys = BASE, maxAttempts = 1) =>
  new STSClient({ endpoint, region: REGION, credentials, maxAttempts });
const ec2Client = (endpoint: string, credentials: Keys, maxAttempts = 1) =>
  new EC2Client({ endpoint, region: REGION, credentials, maxAttempts });
const keysOf = (c: Credentials | undefined): Keys => ({
  accessKeyId: c?.AccessKeyId as string,
  secretAccessKey: c?.SecretAccessKey as string,
  sessionToken: c?.SessionToken as string,
});
const unique = () => randomUUID().slice(0, 8);
const tagsOf = (i: Instance | undefined) => Object.fromEntries((i?.Tags ?? []).map((t) => [t.Key, t.Value]));
const failure = async (p: Promise<unknown>) => {
  const e = (await p.then(
    () => undefined,
    (error: unknown) => error,
  )) as (Error & { $metadata?: { httpStatusCode?: number } }) | undefined;
  if (!e) throw new Error('expected the call to fail');
  return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
};
const instancesOf = (out: DescribeInstancesCommandOutput) =>
  (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);

describe.each(targets)('STS and EC2 wire protocol: $target', ({ target, url, skip }) => {
  const ctx = {
    templateId: '',
    templateName: `opsbot-conf-${unique()}`,
    ec2: undefined as unknown as EC2Client,
  };

  async function assume(sessionName: string, sourceIdentity = `slack.T0001.${sessionName}`) {
    return stsClient(url).send(
      new AssumeRoleCommand({
        RoleArn: ROLE_ARN,
        RoleSessionName: sessionName,
        SourceIdentity: sourceIdentity,
        DurationSeconds: 900,
        Tags: [
          { Key: 'SlackTeam', Value: 'T0001' },
          { Key: 'SlackUser', Value: sessionName },
        ],
      }),
    );
  }

  async function launch(tags: Record<string, string>, extra: Partial<RunInstancesCommandInput> = {}) {
    const out = await ctx.ec2.send(
      new RunInstancesCommand({
        LaunchTemplate: { LaunchTemplateId: ctx.templateId },
        InstanceType: 't3.small',
        MinCount: 1,
        MaxCount: 1,
        MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
        TagSpecifications: [
          { ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
        ],
        ...extra,
      }),
    );
    expect(out.Instances).toHaveLength(1);
    return out.Instances?.[0] as Instance;
  }

  beforeAll(async () => {
    if (skip) return;
    const assumed = await assume('U0SETUP');
    ctx.ec2 = ec2Client(url, keysOf(assumed.Credentials));
    if (target === 'sandbox') {
      ctx.templateId = sandbox.ec2.addLaunchTemplate({ name: ctx.templateName, imageId: IMAGE_ID }).id;
    } else {
      const out = await ctx.ec2.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: ctx.templateName,
          LaunchTemplateData: { ImageId: IMAGE_ID, InstanceType: 't3.micro' },
        }),
      );
      ctx.templateId = out.LaunchTemplate?.LaunchTemplateId as string;
    }
  });

  it.skipIf(skip)('AssumeRole mints credentials that then call STS and EC2 as the assumed role', async () => {
    const before = Date.now();
    const out = await assume('U0ALICE', 'slack.T0001.U0ALICE');
    const c = out.Credentials;
    expect(c?.AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/);
    expect(c?.SecretAccessKey).toMatch(/^[A-Za-z0-9/+]{40}$/);
    expect(c?.SessionToken?.length).toBeGreaterThan(100);
    expect(c?.Expiration).toBeInstanceOf(Date);
    const lifetime = Number(c?.Expiration?.getTime()) - before;
    expect(lifetime).toBeGreaterThan(890_000);
    expect(lifetime).toBeLessThan(910_000);
    expect(out.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/opsbot-dev-env/U0ALICE`);
    expect(out.AssumedRoleUser?.AssumedRoleId).toMatch(/^AROA[A-Z0-9]{17}:U0ALICE$/);
    expect(out.PackedPolicySize).toEqual(expect.any(Number));
    // AWS echoes SourceIdentity (and the sandbox does); moto 5.2.1 drops it from the answer.
    expect(out.SourceIdentity).toBe(target === 'moto' ? undefined : 'slack.T0001.U0ALICE');

    const session = keysOf(c);
    const me = await stsClient(url, session).send(new GetCallerIdentityCommand({}));
    expect(me).toMatchObject({
      Account: ACCOUNT,
      Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/opsbot-dev-env/U0ALICE`,
    });
    expect(me.UserId).toMatch(/^AROA[A-Z0-9]{17}:U0ALICE$/);
    const described = await ec2Client(url, session).send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:ManagedBy', Values: [`nobody-${unique()}`] }] }),
    );
    expect(described.Reservations).toEqual([]);
  });

  it.skipIf(skip)(
    'RunInstances tags at creation; DescribeInstances by tag:ManagedBy finds it with its tags',
    async () => {
      const managedBy = `opsbot-${unique()}`;
      const tags = {
        ManagedBy: managedBy,
        Owner: 'U0ALICE',
        ExpiresAt: '2030-01-01T00:00:00Z',
        Name: 'alice-dev',
      };
      const launched = await launch(tags);
      expect(launched.InstanceId).toMatch(/^i-[0-9a-f]{17}$/);
      expect(launched.State).toEqual({ Code: 0, Name: 'pending' });
      expect(launched.InstanceType).toBe('t3.small');
      expect(launched.ImageId).toBe(IMAGE_ID);
      expect(launched.KeyName).toBeUndefined();
      expect(launched.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpEndpoint: 'enabled' });
      expect(launched.LaunchTime).toBeInstanceOf(Date);
      expect(tagsOf(launched)).toMatchObject(tags);

      const out = await ctx.ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: 'tag:ManagedBy', Values: [managedBy] },
            { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
          ],
        }),
      );
      expect(out.Reservations).toHaveLength(1);
      expect(out.Reservations?.[0]?.OwnerId).toBe(ACCOUNT);
      expect(out.Reservations?.[0]?.ReservationId).toMatch(/^r-[0-9a-f]{17}$/);
      const found = instancesOf(out);
      expect(found.map((i) => i.InstanceId)).toEqual([launched.InstanceId]);
      const instance = found[0];
      // Both add EC2's own launch-template tags to what was asked for.
      expect(tagsOf(instance)).toEqual({
        ...tags,
        'aws:ec2launchtemplate:id': ctx.templateId,
        'aws:ec2launchtemplate:version': '1',
      });
      expect(instance?.PrivateIpAddress).toMatch(/^10\.\d{1,3}\.\d{1,3}\.\d{1,3}$/);
      expect(instance?.MetadataOptions?.HttpTokens).toBe('required');
      expect(['pending', 'running']).toContain(instance?.State?.Name);

      const byKey = await ctx.ec2.send(
        new DescribeInstancesCommand({
          InstanceIds: [launched.InstanceId as string],
          Filters: [{ Name: 'tag-key', Values: ['ExpiresAt'] }],
        }),
      );
      expect(instancesOf(byKey).map((i) => i.InstanceId)).toEqual([launched.InstanceId]);
      const noMatch = await ctx.ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: 'tag:ManagedBy', Values: [managedBy] },
            { Name: 'instance-state-name', Values: ['terminated'] },
          ],
        }),
      );
      expect(noMatch.Reservations).toEqual([]);
    },
  );

  it.skipIf(skip)('paginates with MaxResults 5 over 12 instances, each exactly once', async () => {
    const batch = `batch-${unique()}`;
    const launched: string[] = [];
    for (let i = 0; i < 12; i++)
      launched.push((await launch({ Batch: batch, N: String(i) })).InstanceId as string);
    const seen: string[] = [];
    const sizes: number[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10; page++) {
      const out = await ctx.ec2.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: 'tag:Batch', Values: [batch] }],
          MaxResults: 5,
          ...(token ? { NextToken: token } : {}),
        }),
      );
      const ids = instancesOf(out).map((i) => i.InstanceId as string);
      sizes.push(ids.length);
      seen.push(...ids);
      token = out.NextToken;
      if (!token) break;
    }
    expect(sizes).toEqual([5, 5, 2]);
    expect([...seen].sort()).toEqual([...launched].sort());
    expect(new Set(seen).size).toBe(12);
  });

  it.skipIf(skip)('refuses MaxResults together with InstanceId', async () => {
    const id = (await launch({ Purpose: 'combination' })).InstanceId as string;
    const e = await failure(ctx.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id], MaxResults: 5 })));
    expect(e.name).toBe('InvalidParameterCombination');
    expect(e.status).toBe(400);
  });

  it.skipIf(skip)('TerminateInstances moves an instance to shutting-down, then terminated', async () => {
    const id = (await launch({ Purpose: 'terminate' })).InstanceId as string;
    const out = await ctx.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(out.TerminatingInstances).toHaveLength(1);
    const change = out.TerminatingInstances?.[0];
    expect(change?.InstanceId).toBe(id);
    expect(change?.CurrentState).toEqual({ Code: 32, Name: 'shutting-down' });
    expect(['pending', 'running']).toContain(change?.PreviousState?.Name);
    const after = instancesOf(await ctx.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })));
    expect(['shutting-down', 'terminated']).toContain(after[0]?.State?.Name);
  });

  it.skipIf(skip)('CreateTags overwrites a tag and adds new ones', async () => {
    const id = (await launch({ Purpose: 'retag', ExpiresAt: '2030-01-01T00:00:00Z' })).InstanceId as string;
    await ctx.ec2.send(
      new CreateTagsCommand({
        Resources: [id],
        Tags: [
          { Key: 'ExpiresAt', Value: '2030-01-01T04:00:00Z' },
          { Key: 'ExtendedBy', Value: 'U0ALICE' },
        ],
      }),
    );
    const instance = instancesOf(await ctx.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })))[0];
    expect(tagsOf(instance)).toMatchObject({
      Purpose: 'retag',
      ExpiresAt: '2030-01-01T04:00:00Z',
      ExtendedBy: 'U0ALICE',
    });
    expect(instance?.Tags?.filter((t) => t.Key === 'ExpiresAt')).toHaveLength(1);
  });

  it.skipIf(skip)('answers an unknown instance id with InvalidInstanceID.NotFound', async () => {
    const describe = await failure(
      ctx.ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
    );
    expect(describe).toMatchObject({ name: 'InvalidInstanceID.NotFound', status: 400 });
    expect(describe.message).toContain('i-0123456789abcdef0');
    const terminate = await failure(
      ctx.ec2.send(new TerminateInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
    );
    expect(terminate.name).toBe('InvalidInstanceID.NotFound');
  });

  it.skipIf(skip)('finds launch templates by name, and refuses an unknown one', async () => {
    const out = await ctx.ec2.send(
      new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [ctx.templateName] }),
    );
    expect(out.LaunchTemplates).toHaveLength(1);
    expect(out.LaunchTemplates?.[0]).toMatchObject({
      LaunchTemplateId: ctx.templateId,
      LaunchTemplateName: ctx.templateName,
      DefaultVersionNumber: 1,
      LatestVersionNumber: 1,
    });
    expect(out.LaunchTemplates?.[0]?.CreateTime).toBeInstanceOf(Date);
    const run = await failure(
      ctx.ec2.send(
        new RunInstancesCommand({
          LaunchTemplate: { LaunchTemplateName: `missing-${unique()}` },
          MinCount: 1,
          MaxCount: 1,
        }),
      ),
    );
    expect(run.name).toBe('InvalidLaunchTemplateName.NotFoundException');
  });
});

describe('the sandbox only', () => {
  /** A SimulatedAws of its own, with a clock that only moves when the test moves it. */
  async function world(options: SimulatedAwsOptions = {}) {
    const clock = new FakeClock(Date.now());
    const aws = new SimulatedAws({ now: () => clock.now(), ...options });
    const { url } = await aws.start();
    aws.sts.addCredentials(BASE.accessKeyId, BASE.secretAccessKey, {
      arn: `arn:aws:iam::${ACCOUNT}:user/opsbot-task`,
    });
    aws.sts.addRole(ROLE_ARN);
    const template = aws.ec2.addLaunchTemplate({
      name: 'opsbot-dev',
      imageId: IMAGE_ID,
      instanceType: 't3.micro',
    });
    const assume = async (user = 'U0ALICE', extra: { DurationSeconds?: number } = {}) => {
      const out = await stsClient(url).send(
        new AssumeRoleCommand({
          RoleArn: ROLE_ARN,
          RoleSessionName: user,
          SourceIdentity: `slack.T0001.${user}`,
          DurationSeconds: 900,
          Tags: [{ Key: 'SlackUser', Value: user }],
          ...extra,
        }),
      );
      return keysOf(out.Credentials);
    };
    const run = (ec2: EC2Client, input: Partial<RunInstancesCommandInput> = {}) =>
      ec2.send(
        new RunInstancesCommand({
          LaunchTemplate: { LaunchTemplateId: template.id },
          MinCount: 1,
          MaxCount: 1,
          TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'ManagedBy', Value: 'opsbot' }] }],
          ...input,
        }),
      );
    return { aws, url, clock, template, assume, run };
  }
  const worlds: Array<{ aws: SimulatedAws }> = [];
  afterAll(async () => {
    for (const w of worlds) await w.aws.stop();
  });
  const open = async (options: SimulatedAwsOptions = {}) => {
    const w = await world(options);
    worlds.push(w);
    return w;
  };

  it('ClientToken: the same token and parameters give the same instance; other parameters are refused', async () => {
    const { aws, url, assume, run } = await open();
    const ec2 = ec2Client(url, await assume());
    const first = await run(ec2, { ClientToken: 'launch-U0ALICE-1', InstanceType: 't3.small' });
    const again = await run(ec2, { ClientToken: 'launch-U0ALICE-1', InstanceType: 't3.small' });
    expect(again.ReservationId).toBe(first.ReservationId);
    expect(again.Instances?.map((i) => i.InstanceId)).toEqual(first.Instances?.map((i) => i.InstanceId));
    expect(aws.ec2.instances()).toHaveLength(1);
    expect(aws.ec2.instances()[0]?.clientToken).toBe('launch-U0ALICE-1');

    const mismatch = await failure(run(ec2, { ClientToken: 'launch-U0ALICE-1', InstanceType: 't3.large' }));
    expect(mismatch).toMatchObject({ name: 'IdempotentParameterMismatch', status: 400 });
    const other = await run(ec2, { ClientToken: 'launch-U0ALICE-2', InstanceType: 't3.small' });
    expect(other.Instances?.[0]?.InstanceId).not.toBe(first.Instances?.[0]?.InstanceId);
    const tooLong = await failure(run(ec2, { ClientToken: 'x'.repeat(65) }));
    expect(tooLong.name).toBe('InvalidParameterValue');
    expect(aws.ec2.instances()).toHaveLength(2);
  });

  it('sessions expire on the injected clock: EC2 and STS then answer ExpiredToken', async () => {
    const { url, clock, assume } = await open();
    const session = await assume('U0ALICE', { DurationSeconds: 900 });
    const ec2 = ec2Client(url, session);
    await ec2.send(new DescribeInstancesCommand({}));
    clock.advance(899_000);
    await ec2.send(new DescribeInstancesCommand({}));
    clock.advance(1_000);
    const expired = await failure(ec2.send(new DescribeInstancesCommand({})));
    expect(expired).toMatchObject({ name: 'ExpiredToken', status: 400 });
    const sts = await failure(stsClient(url, session).send(new GetCallerIdentityCommand({})));
    expect(sts).toMatchObject({ name: 'ExpiredToken', status: 400 });
    // A fresh session works again.
    await ec2Client(url, await assume()).send(new DescribeInstancesCommand({}));

    const { url: url2, clock: clock2, assume: assume2 } = await open({ expiredTokenCode: 'RequestExpired' });
    const ec2b = ec2Client(url2, await assume2());
    clock2.advance(900_000);
    expect((await failure(ec2b.send(new DescribeInstancesCommand({})))).name).toBe('RequestExpired');
  });

  it('verifies SigV4 signatures: wrong secret, unknown key, missing token, tampered body, unsigned', async () => {
    const { url, assume } = await open();
    const wrongSecret = await failure(
      stsClient(url, { ...BASE, secretAccessKey: 'not-the-secret' }).send(new GetCallerIdentityCommand({})),
    );
    expect(wrongSecret).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    const unknown = await failure(
      stsClient(url, { accessKeyId: 'AKIDUNKNOWN0000', secretAccessKey: 'x' }).send(
        new GetCallerIdentityCommand({}),
      ),
    );
    expect(unknown).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });

    const session = await assume();
    const noToken = await failure(
      stsClient(url, { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey }).send(
        new GetCallerIdentityCommand({}),
      ),
    );
    expect(noToken).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
    const ec2WrongSecret = await failure(
      ec2Client(url, { ...session, secretAccessKey: `${session.secretAccessKey}x` }).send(
        new DescribeInstancesCommand({}),
      ),
    );
    expect(ec2WrongSecret).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    const ec2Unknown = await failure(
      ec2Client(url, {
        accessKeyId: unknownKey(),
        secretAccessKey: randomUUID(),
        sessionToken: randomUUID(),
      }).send(new DescribeInstancesCommand({})),
    );
    expect(ec2Unknown).toMatchObject({ name: 'AuthFailure', status: 401 });

    // The body changed after signing (same length): the signature no longer covers it.
    const tampered = stsClient(url);
    type Args = { request: { body?: unknown } };
    const tamper = (next: (args: Args) => Promise<unknown>) => async (args: Args) => {
      if (typeof args.request.body === 'string') {
        args.request.body = args.request.body.replace('DurationSeconds=900', 'DurationSeconds=901');
      }
      return next(args);
    };
    tampered.middlewareStack.addRelativeTo(
      tamper as never,
      { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'tamper' } as never,
    );
    const changed = await failure(
      tampered.send(
        new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: 'U0ALICE', DurationSeconds: 900 }),
      ),
    );
    expect(changed).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });

    const unsigned = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    expect(unsigned.status).toBe(403);
    const xml = await unsigned.text();
    expect(xml).toMatch(
      /<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code><Message>[^<]+<\/Message><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>/,
    );
  });

  it('EC2 refuses the task-role credentials and records who made every call', async () => {
    const { aws, url, assume, run } = await open();
    const base = await failure(run(ec2Client(url, BASE)));
    expect(base).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
    expect(aws.ec2.instances()).toEqual([]);

    const alice = ec2Client(url, await assume('U0ALICE'));
    const launched = await run(alice, { MetadataOptions: { HttpTokens: 'required' } });
    const id = launched.Instances?.[0]?.InstanceId as string;
    const bob = ec2Client(url, await assume('U0BOB'));
    await bob.send(new DescribeInstancesCommand({ InstanceIds: [id] }));

    expect(aws.ec2.calls.map(({ at: _at, accessKeyId: _k, ...rest }) => rest)).toEqual([
      { action: 'RunInstances', credential: 'base', error: 'UnauthorizedOperation' },
      {
        action: 'RunInstances',
        credential: 'session',
        sourceIdentity: 'slack.T0001.U0ALICE',
        sessionName: 'U0ALICE',
        roleArn: ROLE_ARN,
      },
      {
        action: 'DescribeInstances',
        credential: 'session',
        sourceIdentity: 'slack.T0001.U0BOB',
        sessionName: 'U0BOB',
        roleArn: ROLE_ARN,
      },
    ]);
    expect(aws.ec2.calls[0]?.accessKeyId).toBe(BASE.accessKeyId);
    expect(aws.ec2.calls[1]?.accessKeyId).toMatch(/^ASIA/);
    expect(aws.ec2.instance(id)).toMatchObject({
      keyName: undefined,
      metadataOptions: { httpTokens: 'required' },
      launchTemplate: { name: 'opsbot-dev', version: 1 },
      launchedBy: { sourceIdentity: 'slack.T0001.U0ALICE', sessionName: 'U0ALICE', roleArn: ROLE_ARN },
      tags: { ManagedBy: 'opsbot' },
      instanceType: 't3.micro',
    });
    expect(
      aws.sts.assumeRoleCalls.map((c) => [c.callerAccessKeyId, c.sessionName, c.sourceIdentity]),
    ).toEqual([
      [BASE.accessKeyId, 'U0ALICE', 'slack.T0001.U0ALICE'],
      [BASE.accessKeyId, 'U0BOB', 'slack.T0001.U0BOB'],
    ]);
    expect(aws.sts.assumeRoleCalls[0]).toMatchObject({
      roleArn: ROLE_ARN,
      tags: [{ key: 'SlackUser', value: 'U0ALICE' }],
      durationSeconds: 900,
      at: expect.any(Number),
      accessKeyId: expect.stringMatching(/^ASIA/),
    });

    const { aws: lenient, url: lenientUrl, run: runLenient } = await open({ refuseBaseCredentials: false });
    const allowed = await runLenient(ec2Client(lenientUrl, BASE));
    expect(allowed.Instances).toHaveLength(1);
    expect(lenient.ec2.calls[0]).toMatchObject({ credential: 'base', accessKeyId: BASE.accessKeyId });
    expect(lenient.ec2.calls[0]?.error).toBeUndefined();
  });

  it('instances go pending → running after pendingMs; terminated ones stay visible, then vanish', async () => {
    const { aws, url, clock, assume, run } = await open({ pendingMs: 5_000, shuttingDownMs: 2_000 });
    const ec2 = ec2Client(url, await assume('U0ALICE', { DurationSeconds: 3_600 }));
    const id = (await run(ec2)).Instances?.[0]?.InstanceId as string;
    const state = async () =>
      instancesOf(await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })))[0]?.State;
    expect(await state()).toEqual({ Code: 0, Name: 'pending' });
    clock.advance(4_999);
    expect(await state()).toEqual({ Code: 0, Name: 'pending' });
    clock.advance(1);
    expect(await state()).toEqual({ Code: 16, Name: 'running' });

    const out = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(out.TerminatingInstances?.[0]).toMatchObject({
      CurrentState: { Code: 32, Name: 'shutting-down' },
      PreviousState: { Code: 16, Name: 'running' },
    });
    clock.advance(2_000);
    const terminated = instancesOf(await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })))[0];
    expect(terminated?.State).toEqual({ Code: 48, Name: 'terminated' });
    expect(terminated?.StateReason?.Code).toBe('Client.UserInitiatedShutdown');
    const again = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(again.TerminatingInstances?.[0]?.PreviousState?.Name).toBe('terminated');
    clock.advance(3_600_000);
    expect(aws.ec2.instance(id)).toBeUndefined();
    // A fresh session (the old one expired with the hour).
    const later = ec2Client(url, await assume());
    expect((await failure(later.send(new DescribeInstancesCommand({ InstanceIds: [id] })))).name).toBe(
      'InvalidInstanceID.NotFound',
    );
  });

  it('AssumeRole validates its input like STS, enforces trust, and chains SourceIdentity', async () => {
    const { aws, url, assume } = await open();
    const sts = stsClient(url);
    const ask = (input: Partial<ConstructorParameters<typeof AssumeRoleCommand>[0]>) =>
      failure(sts.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: 'U0ALICE', ...input })));
    expect(await ask({ RoleSessionName: 'has space' })).toMatchObject({
      name: 'ValidationError',
      status: 400,
    });
    expect((await ask({ RoleSessionName: 'x' })).name).toBe('ValidationError');
    expect((await ask({ RoleSessionName: 'x'.repeat(65) })).name).toBe('ValidationError');
    expect((await ask({ DurationSeconds: 899 })).name).toBe('ValidationError');
    expect((await ask({ DurationSeconds: 3_601 })).name).toBe('ValidationError');
    expect((await ask({ SourceIdentity: 'a' })).name).toBe('ValidationError');
    expect((await ask({ SourceIdentity: 'slack/T1' })).name).toBe('ValidationError');
    const tags = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    expect((await ask({ Tags: tags })).name).toBe('ValidationError');
    const unknownRole = await ask({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/not-registered` });
    expect(unknownRole).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(unknownRole.message).toContain(`arn:aws:iam::${ACCOUNT}:user/opsbot-task`);

    const guarded = `arn:aws:iam::${ACCOUNT}:role/guarded`;
    aws.sts.addRole(guarded, { trust: (caller) => caller.includes(':assumed-role/opsbot-dev-env/') });
    expect((await ask({ RoleArn: guarded })).name).toBe('AccessDenied');
    const session = await assume('U0ALICE');
    const chained = await stsClient(url, session).send(
      new AssumeRoleCommand({ RoleArn: guarded, RoleSessionName: 'chained', DurationSeconds: 900 }),
    );
    expect(chained.SourceIdentity).toBe('slack.T0001.U0ALICE');
    expect(chained.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/guarded/chained`);
    expect(aws.sts.assumeRoleCalls.filter((c) => c.error).map((c) => c.error)).toEqual([
      ...Array(8).fill('ValidationError'),
      'AccessDenied',
      'AccessDenied',
    ]);

    const base = await sts.send(new GetCallerIdentityCommand({}));
    expect(base).toMatchObject({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/opsbot-task` });
    expect(base.UserId).toMatch(/^AIDA[A-Z0-9]{17}$/);
  });

  it('DescribeInstances: seeded instances, filters, MaxResults bounds, malformed ids and tokens', async () => {
    const { aws, url, assume, run } = await open({ pendingMs: 0 });
    const foreign = aws.ec2.addInstance({ tags: { Name: 'someone-else' } });
    const untagged = aws.ec2.addInstance({ state: 'stopped' });
    const ec2 = ec2Client(url, await assume());
    const ours = (await run(ec2)).Instances?.[0]?.InstanceId as string;
    const ids = async (input: DescribeInstancesCommandInput) =>
      instancesOf(await ec2.send(new DescribeInstancesCommand(input))).map((i) => i.InstanceId);
    expect(await ids({})).toEqual([foreign.instanceId, untagged.instanceId, ours]);
    expect(await ids({ Filters: [{ Name: 'tag:ManagedBy', Values: ['opsbot'] }] })).toEqual([ours]);
    expect(await ids({ Filters: [{ Name: 'tag-key', Values: ['Name', 'ManagedBy'] }] })).toEqual([
      foreign.instanceId,
      ours,
    ]);
    expect(await ids({ Filters: [{ Name: 'instance-state-name', Values: ['stopped'] }] })).toEqual([
      untagged.instanceId,
    ]);
    expect(await ids({ Filters: [{ Name: 'tag:Name', Values: ['someone-*'] }] })).toEqual([
      foreign.instanceId,
    ]);
    const untaggedOut = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [untagged.instanceId] }));
    expect(instancesOf(untaggedOut)[0]?.Tags).toBeUndefined();

    expect((await failure(ec2.send(new DescribeInstancesCommand({ MaxResults: 4 })))).name).toBe(
      'InvalidParameterValue',
    );
    expect((await failure(ec2.send(new DescribeInstancesCommand({ MaxResults: 1_001 })))).name).toBe(
      'InvalidParameterValue',
    );
    expect((await failure(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['nope'] })))).name).toBe(
      'InvalidInstanceID.Malformed',
    );
    expect((await failure(ec2.send(new DescribeInstancesCommand({ NextToken: 'garbage' })))).name).toBe(
      'InvalidParameterValue',
    );
    expect(
      (
        await failure(
          ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'no-such-filter', Values: ['x'] }] })),
        )
      ).name,
    ).toBe('InvalidParameterValue');
    const reserved = await failure(
      ec2.send(new CreateTagsCommand({ Resources: [ours], Tags: [{ Key: 'aws:mine', Value: 'x' }] })),
    );
    expect(reserved.name).toBe('InvalidParameterValue');
  });

  it('injects faults: RequestLimitExceeded (503), Throttling, and latency', async () => {
    const { aws, url, assume, run } = await open();
    const session = await assume();
    aws.ec2.failNext({ action: 'RunInstances', code: 'RequestLimitExceeded' });
    const limited = await failure(run(ec2Client(url, session)));
    expect(limited).toMatchObject({ name: 'RequestLimitExceeded', status: 503 });
    expect(aws.ec2.calls.at(-1)?.error).toBe('RequestLimitExceeded');
    // The SDK retries throttling; with attempts left it gets through.
    aws.ec2.failNext({ action: 'RunInstances', code: 'RequestLimitExceeded' });
    const retried = await run(ec2Client(url, session, 3));
    expect(retried.Instances).toHaveLength(1);

    aws.sts.failNext({ action: 'AssumeRole', code: 'Throttling', status: 400 });
    expect((await failure(assume())).name).toBe('Throttling');
    expect(aws.sts.assumeRoleCalls.at(-1)).toMatchObject({ sessionName: 'U0ALICE', error: 'Throttling' });
    aws.ec2.failNext({ action: 'DescribeInstances', delayMs: 120 });
    const started = performance.now();
    await ec2Client(url, session).send(new DescribeInstancesCommand({}));
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
  });

  it('holds at most maxInstances, forgetting terminated ones early to make room', async () => {
    const { aws, url, assume, run } = await open({ maxInstances: 3, pendingMs: 0 });
    const ec2 = ec2Client(url, await assume());
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await run(ec2)).Instances?.[0]?.InstanceId as string);
    expect((await failure(run(ec2))).name).toBe('InstanceLimitExceeded');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [ids[0] as string] }));
    expect((await failure(run(ec2))).name).toBe('InstanceLimitExceeded');
    aws.ec2.shuttingDownMs = 0;
    const replacement = await run(ec2);
    expect(replacement.Instances).toHaveLength(1);
    expect(aws.ec2.instances().map((i) => i.instanceId)).toEqual([
      ids[1],
      ids[2],
      replacement.Instances?.[0]?.InstanceId,
    ]);
    expect(() => aws.ec2.addInstance()).toThrow(/at most 3 instances/);
  });

  it('refuses an unknown launch template id, an oversized body, and an unknown action', async () => {
    const { url, assume, run } = await open();
    const ec2 = ec2Client(url, await assume());
    const missing = await failure(run(ec2, { LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0' } }));
    expect(missing.name).toBe('InvalidLaunchTemplateId.NotFound');
    const malformed = await failure(run(ec2, { LaunchTemplate: { LaunchTemplateId: 'lt-nope' } }));
    expect(malformed.name).toBe('InvalidLaunchTemplateId.Malformed');

    const big = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `Action=DescribeInstances&Version=2016-11-15&x=${'a'.repeat(1_100_000)}`,
    });
    expect(big.status).toBe(413);
    await big.text();
    const unknown = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DeleteEverything&Version=2011-06-15',
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('<Code>InvalidAction</Code>');
  });
});
