import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RoleSessions } from '../../src/credentials/role-sessions.js';
import { startDevEnv } from '../../src/devenv/start.js';
import { createDevenvApi, type DevEnv } from '../../src/integrations/devenv.js';
import type { SessionCalls } from '../../src/integrations/integration.js';
import { SimulatedAws } from '../../src/sandbox/ec2.js';
import { OffsetClock } from '../../src/sandbox/offset-clock.js';
import { createStateTable, openDynamoState } from '../../src/store/dynamodb.js';
import { openSqliteState } from '../../src/store/sqlite.js';
import type { State } from '../../src/store/state.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startMoto, warnMotoMissing } from '../helpers/moto.js';

/**
 * `/devenv up`'s quota and names across replicas: each replica has its own State handle (two on
 * one SQLite file, or two DynamoDB clients of one table on moto), its own STS sessions and EC2
 * client, and EC2 shows new instances late (`describeLagMs`). Starts by one user spread over both
 * replicas still end with exactly `maxPerUser` instances and one instance per name, because every
 * start takes the user's start lock in State before it counts and holds it until EC2 shows what it
 * started.
 */
const ROLE = 'arn:aws:iam::123456789012:role/opsbot-devenv';
const TASK_KEY = `AKID${randomBytes(8).toString('hex').toUpperCase()}`;
const TASK_SECRET = randomBytes(24).toString('base64');
const WHO = { userId: 'U0DEV', teamId: 'T0TEST', action: 'devenv:up' };

const moto = await startMoto();
if (!moto) warnMotoMissing('the DynamoDB replicas of test/integration/devenv-start-lock.test.ts');
// moto handles one call at a time (see test/contract/dynamodb-state.test.ts).
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
afterAll(async () => {
  agent.destroy();
  await moto?.stop();
});

/** EC2 calls as the Slack user, under their STS session from `sessions` (as the bot makes them). */
function userCalls(sessions: RoleSessions, endpoint: string): SessionCalls<EC2Client> {
  const run = async <R>(
    session: Awaited<ReturnType<RoleSessions['forUser']>>,
    fn: (c: EC2Client, s: typeof session) => Promise<R>,
  ) => {
    const client = new EC2Client({ region: 'us-east-1', endpoint, credentials: session.credentials });
    try {
      return await fn(client, session);
    } finally {
      client.destroy();
    }
  };
  return {
    async asUser(who, fn) {
      const actor = typeof who === 'string' ? { userId: who } : who;
      return run(
        await sessions.forUser(actor.userId, {
          ...(actor.teamId ? { teamId: actor.teamId } : {}),
          ...(actor.action ? { action: actor.action } : {}),
        }),
        fn,
      );
    },
    asService: () => Promise.reject(new Error('a start never acts as opsbot itself')),
  };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(openReplicaState: (clock: OffsetClock) => Promise<() => State>) {
  const clock = new OffsetClock();
  const aws = new SimulatedAws({ now: () => clock.now(), describeLagMs: 1_000, pendingMs: 0 });
  const { url } = await aws.start();
  cleanups.push(() => aws.stop());
  aws.sts.addCredentials(TASK_KEY, TASK_SECRET);
  aws.sts.addRole(ROLE);
  const template = aws.ec2.addLaunchTemplate({ name: 'opsbot-devenv', httpTokens: 'required' });
  const newState = await openReplicaState(clock);
  const replica = () => {
    const state = newState();
    const logs = captureLogs();
    const sessions = new RoleSessions({
      roleArn: ROLE,
      region: 'us-east-1',
      clientConfig: { endpoint: url, credentials: { accessKeyId: TASK_KEY, secretAccessKey: TASK_SECRET } },
      clock,
      log: logs.log,
    });
    cleanups.push(() => {
      sessions.close();
      state.close();
    });
    const api = createDevenvApi(userCalls(sessions, url), {
      launchTemplates: () => ['opsbot-devenv'],
      now: () => clock.now(),
    });
    let n = 0;
    return (name: string): Promise<DevEnv> =>
      startDevEnv(
        { api, leases: state.leases, clock, maxPerUser: 2 },
        {
          who: WHO,
          holder: `${randomUUID()}`,
          launch: {
            launchTemplate: template.name,
            instanceType: 't3.medium',
            template: 'small',
            name,
            owner: WHO.userId,
            channel: 'C0DEV',
            expiresAt: clock.now() + 3_600_000,
            clientToken: `${name}-${++n}-${randomUUID()}`.slice(0, 64),
          },
        },
      );
  };
  const live = () =>
    aws.ec2.instances().filter((i) => i.tags.Owner === WHO.userId && i.state !== 'shutting-down');
  return { replica, live };
}

type Start = (name: string) => Promise<DevEnv>;

/** Starts `names` at once, spread round-robin over the replicas. */
async function race(replicas: Start[], names: string[]) {
  const outcomes = await Promise.allSettled(
    names.map((name, i) => (replicas[i % replicas.length] as Start)(name)),
  );
  return {
    started: outcomes.filter((o) => o.status === 'fulfilled').length,
    refusals: outcomes.flatMap((o) => (o.status === 'rejected' ? [String((o.reason as Error).message)] : [])),
  };
}

const sqlite = async (clock: OffsetClock) => {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-start-lock-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return () => openSqliteState({ path: join(dir, 'opsbot.db'), now: () => clock.now() });
};
const dynamodb = async (clock: OffsetClock) => {
  const client = () =>
    new DynamoDBClient({
      endpoint: moto?.url ?? 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: { httpAgent: agent },
    });
  const table = `opsbot-state-${randomUUID()}`;
  await createStateTable(client(), table);
  return () => openDynamoState({ table, client: client(), now: () => clock.now() }) as State;
};

describe.each([
  ['two handles on one SQLite file', sqlite, false],
  ['two DynamoDB clients of one table (moto)', dynamodb, !moto],
] as const)('/devenv up across replicas: %s', (_label, openReplicaState, skip) => {
  it.skipIf(skip)(
    '6 starts by one user over 2 replicas give exactly maxPerUser (2) instances',
    async () => {
      const { replica, live } = await rig(openReplicaState);
      const replicas = [replica(), replica()];
      const { started, refusals } = await race(replicas, ['a', 'b', 'c', 'd', 'e', 'f']);
      expect(live()).toHaveLength(2);
      expect(started).toBe(2);
      expect(refusals).toHaveLength(4);
      for (const r of refusals) expect(r).toContain('the most anyone may have (2)');
    },
    60_000,
  );

  it.skipIf(skip)(
    '4 starts of one name over 2 replicas give one instance',
    async () => {
      const { replica, live } = await rig(openReplicaState);
      const replicas = [replica(), replica()];
      const { started, refusals } = await race(replicas, ['same', 'same', 'same', 'same']);
      expect(live()).toHaveLength(1);
      expect(started).toBe(1);
      for (const r of refusals) expect(r).toContain('You already have a dev environment named `same`');
    },
    60_000,
  );
});
