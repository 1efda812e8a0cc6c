import { randomBytes, randomUUID } from 'node:crypto';
import { _InstanceType, EC2Client } from '@aws-sdk/client-ec2';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoleSessions } from '../../src/credentials/role-sessions.js';
import { UserFacingError } from '../../src/errors.js';
import { createDevenvApi, isInstanceType, type LaunchRequest } from '../../src/integrations/devenv.js';
import type { SessionCalls } from '../../src/integrations/integration.js';
import { SimulatedAws } from '../../src/sandbox/ec2.js';
import { OffsetClock } from '../../src/sandbox/offset-clock.js';
import { captureLogs } from '../helpers/log-capture.js';

/**
 * A launch hands EC2's SDK the template's instance type as the SDK types it (`_InstanceType`), not
 * cast: one the SDK does not know is the template's mistake, said before any AWS call is made.
 */
const ROLE = 'arn:aws:iam::123456789012:role/opsbot-devenv';
const TASK_KEY = `AKID${randomBytes(8).toString('hex').toUpperCase()}`;
const TASK_SECRET = randomBytes(24).toString('base64');
const WHO = { userId: 'U0DEV', teamId: 'T0TEST', action: 'devenv:up' };

const clock = new OffsetClock();
const aws = new SimulatedAws({ now: () => clock.now(), pendingMs: 0 });
let url = '';
let sessions: RoleSessions;
let template = '';
/** How many times the API asked for the user's session (each is an STS call, then EC2 calls). */
let sessionsAsked = 0;

beforeAll(async () => {
  url = (await aws.start()).url;
  aws.sts.addCredentials(TASK_KEY, TASK_SECRET);
  aws.sts.addRole(ROLE);
  template = aws.ec2.addLaunchTemplate({ name: 'opsbot-devenv', httpTokens: 'required' }).name;
  sessions = new RoleSessions({
    roleArn: ROLE,
    region: 'us-east-1',
    clientConfig: { endpoint: url, credentials: { accessKeyId: TASK_KEY, secretAccessKey: TASK_SECRET } },
    clock,
    log: captureLogs().log,
  });
});
afterAll(async () => {
  sessions.close();
  await aws.stop();
});

/** EC2 calls as the Slack user, under their STS session (as the bot makes them). */
const calls: SessionCalls<EC2Client> = {
  async asUser(who, fn) {
    sessionsAsked += 1;
    const actor = typeof who === 'string' ? { userId: who } : who;
    const session = await sessions.forUser(actor.userId, { action: WHO.action });
    const client = new EC2Client({ region: 'us-east-1', endpoint: url, credentials: session.credentials });
    try {
      return await fn(client, session);
    } finally {
      client.destroy();
    }
  },
  asService: () => Promise.reject(new Error('a launch never acts as opsbot itself')),
};

const api = createDevenvApi(calls, { launchTemplates: () => ['opsbot-devenv'], now: () => clock.now() });

function launch(instanceType: string, name: string): LaunchRequest {
  return {
    launchTemplate: template,
    instanceType,
    template: 'small',
    name,
    owner: WHO.userId,
    channel: 'C0DEV',
    expiresAt: clock.now() + 3_600_000,
    clientToken: randomUUID(),
  };
}

describe('dev environment instance types', () => {
  it('launches with a known instance type, which EC2 receives as it was given', async () => {
    const env = await api.launch(WHO, launch('t3.medium', 'dev-known'));
    expect(env.instanceType).toBe('t3.medium');
    expect(aws.ec2.instance(env.id)?.instanceType).toBe('t3.medium');
  });

  it('refuses an instance type the SDK does not know before any AWS call, naming the template', async () => {
    const before = { asked: sessionsAsked, instances: aws.ec2.instances().length };
    const error = await api.launch(WHO, launch('t3.mega', 'dev-unknown')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toBe(
      'The template `small` names `t3.mega`, which is not an EC2 instance type opsbot knows. Ask an opsbot admin to correct its `instanceType` in the configuration file (`devenv.templates`).',
    );
    expect({ asked: sessionsAsked, instances: aws.ec2.instances().length }).toEqual(before);
  });

  it('knows exactly the SDK’s instance types (property)', () => {
    const known = Object.values(_InstanceType) as string[];
    fc.assert(fc.property(fc.constantFrom(...known), (type) => isInstanceType(type)));
    fc.assert(
      fc.property(fc.string({ maxLength: 24 }), (text) => isInstanceType(text) === known.includes(text)),
    );
    for (const near of ['t3.mega', 'T3.MEDIUM', ' t3.medium', 't3.medium ', 't3', '']) {
      expect(isInstanceType(near)).toBe(false);
    }
  });
});
