import {
  CreateLaunchTemplateCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  type Instance,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OffsetClock } from '../../src/sandbox/offset-clock.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';

/**
 * `/devenv` end to end against moto's STS and EC2 (an independent AWS emulator): every EC2 call
 * under the Slack user's STS session, tags as the contract says, refusals before any AWS call,
 * ownership, quota, and the reaper moving with the clock.
 */
const ROLE = 'arn:aws:iam::123456789012:role/opsbot-devenv';
const moto: Moto | undefined = await startMoto();
if (!moto) warnMotoMissing('devenv');

let bot: SandboxBot;
let ec2: EC2Client;
let clock: OffsetClock;
let launchTemplate = '';
let imageId = '';

async function instances(filter?: { name: string; values: string[] }): Promise<Instance[]> {
  const out = await ec2.send(
    new DescribeInstancesCommand(filter ? { Filters: [{ Name: filter.name, Values: filter.values }] } : {}),
  );
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}
const tag = (i: Instance | undefined, key: string) => i?.Tags?.find((t) => t.Key === key)?.Value;

async function devenv(text: string, userId = 'U0DEV'): Promise<string> {
  const delivery = await bot.slack.sendSlashCommand({ command: '/devenv', text, userId, channelId: 'C0DEV' });
  expect(delivery.status).toBe(200);
  await bot.slack.waitForResponse(delivery.responseUrl);
  // `up` shows progress first (pending), then the final answer: wait for that one.
  const last = () => bot.slack.responses(delivery.responseUrl).at(-1)?.text ?? '';
  await expect.poll(() => last().includes('updates when it is running'), { timeout: 10_000 }).toBe(false);
  return last();
}

async function lastAudit(action: string) {
  await new Promise((r) => setTimeout(r, 100));
  const [record] = await bot.state.audit.query({ command: action, limit: 1 });
  return record;
}

beforeAll(async () => {
  if (!moto) return;
  ec2 = new EC2Client({
    region: 'us-east-1',
    endpoint: moto.url,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const images = await ec2.send(new DescribeImagesCommand({}));
  imageId = images.Images?.[0]?.ImageId ?? 'ami-12c6146b';
  const created = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'opsbot-dev',
      LaunchTemplateData: { ImageId: imageId, MetadataOptions: { HttpTokens: 'required' } },
    }),
  );
  launchTemplate = created.LaunchTemplate?.LaunchTemplateId ?? '';
  clock = new OffsetClock();
  bot = await startSandboxBot({
    configYaml: `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["devenv:*"]
      users: [U0DEV, U0GUEST]
      channels: [C0DEV]
devenv:
  roleArn: ${ROLE}
  maxPerUser: 2
  templates:
    small: { launchTemplate: ${launchTemplate}, instanceType: t3.medium, defaultTtl: 4h, maxTtl: 24h }
`,
    stsEndpoint: moto.url,
    ec2Endpoint: moto.url,
    clock,
    pollSeconds: 600,
  });
}, 60_000);

afterAll(async () => {
  await bot?.stop();
  ec2?.destroy();
  await moto?.stop();
});

describe.skipIf(!moto)('/devenv against moto STS and EC2', () => {
  it('starts an instance as the user: tags at creation, IMDSv2, no key pair; the reply says how to connect', async () => {
    const before = clock.now();
    const reply = await devenv('up small --name web-1');
    expect(reply).toMatch(/`web-1` \(i-[0-9a-f]+\) is \*running\* · t3\.medium/);
    expect(reply).toMatch(/aws ssm start-session --target i-[0-9a-f]+/);
    const [instance] = await instances({ name: 'tag:Name', values: ['web-1'] });
    expect(tag(instance, 'ManagedBy')).toBe('opsbot');
    expect(tag(instance, 'Owner')).toBe('U0DEV');
    const expires = Date.parse(String(tag(instance, 'ExpiresAt')));
    expect(Math.abs(expires - (before + 4 * 3_600_000))).toBeLessThan(60_000);
    expect(tag(instance, 'ExpiresAt')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(instance?.KeyName).toBeUndefined();
    expect(instance?.MetadataOptions?.HttpTokens).toBe('required');
    // The audit record names the STS session the call went out under.
    const record = await lastAudit('devenv:up');
    expect(record).toMatchObject({ actor: 'U0DEV', outcome: 'success' });
    expect(String(record?.details.credentials)).toContain('devenv@opsbot-U0DEV');
  });

  it('refuses what can never work before any AWS call: unknown template, TTL above the maximum', async () => {
    const unknown = await devenv('up huge');
    expect(unknown).toBe('There is no dev-env template `huge`. Templates: `small`.');
    expect(String((await lastAudit('devenv:up'))?.details.credentials)).not.toContain('devenv@');
    const long = await devenv('up small --ttl 2d');
    expect(long).toBe('`small` environments live at most 1d: use `--ttl 1d` or less.');
    const record = await lastAudit('devenv:up');
    expect(record).toMatchObject({ outcome: 'error' });
    expect(String(record?.details.credentials)).not.toContain('devenv@');
  });

  it('keeps to the quota and to unique names', async () => {
    expect(await devenv('up small --name web-1')).toContain(
      'You already have a dev environment named `web-1`',
    );
    expect(await devenv('up small --name api-1 --ttl 2h')).toContain('`api-1`');
    expect(await devenv('up small --name third')).toContain('the most anyone may have (2)');
    expect(await instances({ name: 'tag:Name', values: ['third'] })).toHaveLength(0);
  });

  it('lists yours with time left; --all is for admins', async () => {
    const mine = await devenv('list');
    expect(mine).toContain('2 dev environments of yours');
    expect(mine).toMatch(/`api-1` \(i-[0-9a-f]+\) · running · 2h left/);
    expect(await devenv('list --all')).toContain('Only opsbot admins may list everyone’s dev environments');
    expect(await devenv('list --all', 'U0ADMIN')).toMatch(/<@U0DEV>/);
  });

  it('extends within the template maximum, and says the maximum when asked for more', async () => {
    const extended = await devenv('extend api-1 --by 3h');
    expect(extended).toMatch(/`api-1` \(i-[0-9a-f]+\) now expires (at|on) .* \(in 5h\)/);
    const [api] = await instances({ name: 'tag:Name', values: ['api-1'] });
    expect(Date.parse(String(tag(api, 'ExpiresAt'))) - clock.now()).toBeGreaterThan(4.9 * 3_600_000);
    expect(await devenv('extend api-1 --by 1d')).toContain('may run at most 1d from now');
  });

  it('App Home shows your environments with Extend / Stop and what you may run; its buttons work there', async () => {
    expect(
      (await bot.slack.sendEvent({ type: 'app_home_opened', user: 'U0DEV', tab: 'home', channel: 'DU0DEV' }))
        .status,
    ).toBe(200);
    await expect.poll(() => bot.slack.homeOf('U0DEV'), { timeout: 5_000 }).toBeDefined();
    const home = bot.slack.homeOf('U0DEV');
    if (!home) throw new Error('no Home tab was published');
    const blocks = (
      home.view as {
        blocks: Array<{
          type: string;
          block_id?: string;
          text?: { text: string };
          elements?: Array<{ value?: string }>;
        }>;
      }
    ).blocks;
    const text = JSON.stringify(blocks);
    expect(text).toContain('`web-1`');
    expect(text).toContain('`api-1`');
    expect(text).toContain('`devenv:*` in <#C0DEV>');
    const [api] = await instances({ name: 'tag:Name', values: ['api-1'] });
    const apiId = api?.InstanceId ?? '';
    const row = blocks.find((b) => b.type === 'actions' && b.elements?.some((e) => e.value === apiId));
    expect(row?.block_id).toMatch(/^devenv-\d+@C0DEV$/);
    const before = Date.parse(String(tag(api, 'ExpiresAt')));
    const pressed = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: '',
      actionId: 'devenv:extend',
      value: apiId,
      blockId: String(row?.block_id),
      homeViewId: home.id,
    });
    expect(pressed.status).toBe(200);
    // The answer is Home published again, with what happened on top.
    await expect
      .poll(() => JSON.stringify(bot.slack.homeOf('U0DEV')?.view), { timeout: 5_000 })
      .toContain('now expires');
    const [after] = await instances({ name: 'tag:Name', values: ['api-1'] });
    expect(Date.parse(String(tag(after, 'ExpiresAt'))) - before).toBe(2 * 3_600_000);
    await bot.slack.sendEvent({ type: 'app_home_opened', user: 'U0ADMIN', tab: 'home', channel: 'DU0ADMIN' });
    await expect
      .poll(() => JSON.stringify(bot.slack.homeOf('U0ADMIN')?.view ?? ''), { timeout: 5_000 })
      .toContain('you are an opsbot admin');
  });

  it('lets only the owner or an admin stop it, asks first, and leaves instances it does not manage alone', async () => {
    expect(await devenv('down api-1', 'U0GUEST')).toContain('You have no dev environment `api-1`');
    const [api] = await instances({ name: 'tag:Name', values: ['api-1'] });
    const id = api?.InstanceId ?? '';
    expect(await devenv(`down ${id}`, 'U0GUEST')).toContain('belongs to <@U0DEV>');
    const confirm = await devenv('down api-1');
    expect(confirm).toContain('Terminate `api-1`');
    const pressed = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'C0DEV',
      actionId: 'devenv:down',
      value: id,
    });
    const [answer] = await bot.slack.waitForResponse(pressed.responseUrl);
    expect(answer?.text).toContain('terminated `api-1`');
    const [after] = await instances({ name: 'instance-id', values: [id] });
    expect(['shutting-down', 'terminated']).toContain(after?.State?.Name);
    const foreign = await ec2.send(
      new RunInstancesCommand({
        LaunchTemplate: { LaunchTemplateId: launchTemplate },
        MinCount: 1,
        MaxCount: 1,
      }),
    );
    const foreignId = foreign.Instances?.[0]?.InstanceId ?? '';
    expect(await devenv(`down ${foreignId}`, 'U0ADMIN')).toContain('is not a dev environment opsbot manages');
    // Tagged as opsbot's by hand, not launched from its launch template: not opsbot's either.
    const forged = await ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'ManagedBy', Value: 'opsbot' },
              { Key: 'Owner', Value: 'U0DEV' },
              { Key: 'ExpiresAt', Value: '2020-01-01T00:00:00Z' },
              { Key: 'Name', Value: 'forged' },
            ],
          },
        ],
      }),
    );
    const forgedId = forged.Instances?.[0]?.InstanceId ?? '';
    expect(await devenv(`down ${forgedId}`, 'U0ADMIN')).toContain('is not a dev environment opsbot manages');
    expect(await devenv('list')).not.toContain('forged');
  });

  it('the reaper warns the owner 30 minutes before, terminates once expired, reports the untagged, ignores the rest', async () => {
    const untagged = await ec2.send(
      new RunInstancesCommand({
        LaunchTemplate: { LaunchTemplateId: launchTemplate },
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'ManagedBy', Value: 'opsbot' }] }],
      }),
    );
    const untaggedId = untagged.Instances?.[0]?.InstanceId ?? '';
    // web-1 expires 4 h after it started: 3 h 40 min later it is 20 minutes from expiry.
    clock.advance(3 * 3_600_000 + 40 * 60_000);
    await expect.poll(() => bot.slack.messages('DU0DEV').length, { timeout: 10_000 }).toBeGreaterThan(0);
    const warning = bot.slack.messages('DU0DEV')[0];
    expect(warning?.text).toMatch(/Your dev environment `web-1` \(i-[0-9a-f]+\) expires in \d+ minutes/);
    expect(JSON.stringify(warning?.blocks)).toContain('devenv:extend');
    await expect.poll(() => bot.slack.messages('DU0ADMIN').length, { timeout: 10_000 }).toBe(1);
    expect(bot.slack.messages('DU0ADMIN')[0]?.text).toContain(untaggedId);
    // The DM's Extend button is judged in the channel web-1 was started from (#dev), not the DM.
    const [web] = await instances({ name: 'tag:Name', values: ['web-1'] });
    const before = Date.parse(String(tag(web, 'ExpiresAt')));
    const blockId = ((warning?.blocks ?? []) as Array<{ type: string; block_id?: string }>).find(
      (b) => b.type === 'actions',
    )?.block_id;
    expect(blockId).toBe('devenv@C0DEV');
    const pressed = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'DU0DEV',
      actionId: 'devenv:extend',
      value: web?.InstanceId ?? '',
      blockId: String(blockId),
    });
    const [extended] = await bot.slack.waitForResponse(pressed.responseUrl);
    expect(extended?.text).toContain('now expires');
    const [after] = await instances({ name: 'tag:Name', values: ['web-1'] });
    expect(Date.parse(String(tag(after, 'ExpiresAt'))) - before).toBe(2 * 3_600_000);
    expect(await lastAudit('devenv:extend')).toMatchObject({
      outcome: 'success',
      details: { channel: 'C0DEV', surface: 'DU0DEV' },
    });
    // 20 minutes before the new expiry: warned again (a new expiry is a new warning).
    clock.advance(2 * 3_600_000);
    await expect.poll(() => bot.slack.messages('DU0DEV').length, { timeout: 10_000 }).toBe(2);
    // Past its expiry: terminated, the owner told, the audit trail says who did it.
    clock.advance(30 * 60_000);
    await expect
      .poll(async () => (await instances({ name: 'tag:Name', values: ['web-1'] }))[0]?.State?.Name, {
        // The reaper's next pass, then a lease and TerminateInstances on moto: slow on a busy machine.
        timeout: 30_000,
      })
      .not.toBe('running');
    await expect.poll(() => bot.slack.messages('DU0DEV').length, { timeout: 10_000 }).toBe(3);
    expect((await lastAudit('devenv:reap'))?.actor).toBe('opsbot.reaper');
    // Warned once, reported once, however many passes.
    clock.advance(2 * 60_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(bot.slack.messages('DU0DEV')).toHaveLength(3);
    expect(bot.slack.messages('DU0ADMIN')).toHaveLength(1);
    const [left] = await instances({ name: 'instance-id', values: [untaggedId] });
    expect(left?.State?.Name).toBe('running');
    // The hand-tagged one expired long ago, and is still running: the reaper never trusted it.
    const [forged] = await instances({ name: 'tag:Name', values: ['forged'] });
    expect(forged?.State?.Name).toBe('running');
    assertNoCanary({ logs: bot.logLines.join('\n'), dms: bot.slack.messages('DU0DEV') }, bot.secrets());
  });
});
