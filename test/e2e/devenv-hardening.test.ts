import { randomBytes } from 'node:crypto';
import { CreateTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';

/**
 * `/devenv` attacked as an unlucky user would (issue 21), through the real Bolt app against the
 * sandbox's simulated STS and EC2: starts at once by one user keep to the quota and to unique
 * names even while EC2 shows new instances late; ids are read as EC2 shapes them; EC2's refusals
 * of what a user typed are sentences; an instance merely tagged `ManagedBy=opsbot` is not opsbot's;
 * a TTL too short for the expiry warning is refused.
 */
let bot: SandboxBot;

beforeAll(async () => {
  bot = await startSandboxBot({ pollSeconds: 600 });
  bot.aws.ec2.pendingMs = 0;
});
afterAll(async () => {
  await bot?.stop();
});
beforeEach(() => {
  // Every test starts with no dev environment and no fault.
  bot.aws.ec2.describeLagMs = 0;
  bot.aws.ec2.clearFaults();
  for (const i of bot.aws.ec2.instances()) bot.aws.ec2.removeInstance(i.instanceId);
});

const PENDING = 'updates when it is running';
const WAITING = 'is still starting; this one follows it';

/** Runs `/devenv <text>` and resolves with its final answer (after any progress messages). */
async function devenv(text: string, userId = 'U0DEV'): Promise<string> {
  const delivery = await bot.slack.sendSlashCommand({ command: '/devenv', text, userId, channelId: 'C0DEV' });
  expect(delivery.status).toBe(200);
  await bot.slack.waitForResponse(delivery.responseUrl);
  const last = () => bot.slack.responses(delivery.responseUrl).at(-1)?.text ?? '';
  await expect
    .poll(() => !last().includes(PENDING) && !last().includes(WAITING), { timeout: 60_000, interval: 100 })
    .toBe(true);
  return last();
}

const live = (owner = 'U0DEV') =>
  bot.aws.ec2
    .instances()
    .filter((i) => i.tags.Owner === owner && i.state !== 'terminated' && i.state !== 'shutting-down');

describe('/devenv up at once, while EC2 shows new instances late', () => {
  it('8 starts by one user end with exactly maxPerUser (2) instances; the others are refused with a sentence', async () => {
    bot.aws.ec2.describeLagMs = 1_500;
    const answers = await Promise.all(Array.from({ length: 8 }, () => devenv('up small')));
    expect(live()).toHaveLength(2);
    expect(answers.filter((a) => /is \*running\*/.test(a))).toHaveLength(2);
    const refused = answers.filter((a) => !/is \*running\*/.test(a));
    expect(refused).toHaveLength(6);
    for (const answer of refused)
      expect(answer).toMatch(
        /^You have 2 dev environments, the most anyone may have \(2\)\. Stop one first: /,
      );
  }, 90_000);

  it('4 starts with one --name give one instance; the others are told the name is taken', async () => {
    bot.aws.ec2.describeLagMs = 1_500;
    const answers = await Promise.all(Array.from({ length: 4 }, () => devenv('up small --name same')));
    expect(live().filter((i) => i.tags.Name === 'same')).toHaveLength(1);
    expect(answers.filter((a) => a.includes('You already have a dev environment named `same`'))).toHaveLength(
      3,
    );
  }, 90_000);
});

describe('instance ids and names', () => {
  it('refuses an id EC2 would call malformed with a sentence, before any AWS call', async () => {
    const calls = bot.aws.ec2.calls.length;
    // The help's old example: 12 hex digits (EC2 ids have 8 or 17).
    expect(await devenv('down i-0abc12345678')).toBe(
      '`i-0abc12345678` is not an EC2 instance id: an id is `i-` and 8 or 17 hex digits, like `i-0abc1234def567890`. You can also use the name it was started with (`--name`); `/devenv list` shows both.',
    );
    expect(await devenv('extend i-zzz')).toContain('`i-zzz` is not an EC2 instance id');
    expect(bot.aws.ec2.calls.length).toBe(calls);
    expect(await devenv('down i-0abc1234def567890')).toContain(
      'You have no dev environment `i-0abc1234def567890`',
    );
  });

  it('refuses a --name that reads as an id', async () => {
    expect(await devenv('up small --name i-box')).toBe(
      'A dev environment cannot be named `i-box`: names starting with `i-` read as instance ids. Pick another `--name`, like `web-1`.',
    );
    expect(live()).toHaveLength(0);
  });

  it('answers an EC2 refusal of what the user asked for as a sentence, never "something went wrong"', async () => {
    expect(await devenv('up small --name web-1')).toMatch(/is \*running\*/);
    bot.aws.ec2.failNext({ action: 'CreateTags', code: 'InvalidInstanceID.NotFound' });
    const extended = await devenv('extend web-1 --by 1h');
    expect(extended).toMatch(/^`i-[0-9a-f]{17}` does not exist \(any more\)\./);
    bot.aws.ec2.failNext({ action: 'RunInstances', code: 'InstanceLimitExceeded' });
    const limited = await devenv('up small --name web-2');
    expect(limited).toBe(
      'AWS cannot start another `t3.medium` right now (InstanceLimitExceeded). Try again later, or another template.',
    );
    // A launch EC2 refused holds nothing: the next start goes ahead at once.
    expect(await devenv('up small --name web-2')).toMatch(/`web-2` .* is \*running\*/);
  });
});

describe('what opsbot trusts as its own', () => {
  it('an instance someone tagged ManagedBy=opsbot by hand is not listed and cannot be managed', async () => {
    const forged = bot.aws.ec2.addInstance({
      tags: { ManagedBy: 'opsbot', Owner: 'U0DEV', ExpiresAt: '2026-01-01T00:00:00Z', Name: 'forged' },
    }).instanceId;
    expect(await devenv('list')).toBe('You have no dev environments. `/devenv up <template>` starts one.');
    expect(await devenv(`down ${forged}`)).toContain('is not a dev environment opsbot manages');
    expect(await devenv('extend forged')).toContain('You have no dev environment `forged`');
    // One EC2 launched from opsbot's launch template is.
    bot.aws.ec2.addInstance({
      launchTemplate: 'lt-0abc1234567890def',
      tags: { ManagedBy: 'opsbot', Owner: 'U0DEV', ExpiresAt: '2099-01-01T00:00:00Z', Name: 'real' },
    });
    expect(await devenv('list')).toContain('`real`');
  });

  it('EC2 refuses CreateTags of a key starting with aws:, as real EC2 does', async () => {
    // Someone with base credentials allowed to tag, keys made at run time.
    const key = `AKID${randomBytes(8).toString('hex').toUpperCase()}`;
    const secret = randomBytes(24).toString('base64');
    bot.aws.sts.addCredentials(key, secret);
    const client = new EC2Client({
      region: 'us-east-1',
      endpoint: bot.aws.url,
      credentials: { accessKeyId: key, secretAccessKey: secret },
    });
    bot.aws.ec2.refuseBaseCredentials = false;
    try {
      const id = bot.aws.ec2.addInstance({ tags: { Name: 'x' } }).instanceId;
      await expect(
        client.send(
          new CreateTagsCommand({
            Resources: [id],
            Tags: [{ Key: 'aws:ec2launchtemplate:id', Value: 'lt-0abc1234567890def' }],
          }),
        ),
      ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
      expect(bot.aws.ec2.instance(id)?.tags['aws:ec2launchtemplate:id']).toBeUndefined();
    } finally {
      bot.aws.ec2.refuseBaseCredentials = true;
      client.destroy();
    }
  });
});

describe('--ttl', () => {
  it('refuses a TTL too short for the 30-minute warning, naming the minimum', async () => {
    expect(await devenv('up small --ttl 10s')).toBe(
      'A dev environment lives at least 30m, so that opsbot can warn you 30 minutes before it expires: use `--ttl 30m` or more.',
    );
    expect(live()).toHaveLength(0);
    const answer = await devenv('up small --ttl 30m');
    expect(answer).toMatch(/is \*running\*/);
    expect(answer).not.toContain('opsbot warns you 30 minutes before');
    expect(await devenv('up small --ttl 2h --name long')).toContain('opsbot warns you 30 minutes before');
    assertNoCanary({ logs: bot.logLines.join('\n') }, bot.secrets());
  });
});
