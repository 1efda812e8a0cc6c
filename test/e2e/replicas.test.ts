import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiresTag } from '../../src/integrations/devenv.js';
import {
  alertCycle,
  type DatadogWebhookBody,
  type WebhookResult,
} from '../../src/sandbox/datadog-webhook-sender.js';
import { SimulatedAws } from '../../src/sandbox/ec2.js';
import type { SimulatedSlack } from '../../src/sandbox/slack.js';
import {
  expectExactlyOnce,
  idsOf,
  inParallel,
  pendingByChannel,
  shownCounts,
  stopHard,
} from '../helpers/alert-accounting.js';
import { type DynamoProxy, startDynamoProxy } from '../helpers/dynamodb-proxy.js';
import { eventually } from '../helpers/eventually.js';
import { type Moto, startMoto, warnMotoMissing } from '../helpers/moto.js';
import { buildProduction } from '../helpers/process.js';
import {
  ALERT_CHANNELS,
  ALERTS_CONFIG,
  commandOn,
  newReplicaWorkspace,
  newStateTable,
  type Replica,
  type ReplicaWorkspace,
  startReplica,
} from '../helpers/replicas.js';

/**
 * Several replicas of the BUILT server (what `npm start` runs) sharing one DynamoDB table (moto, an
 * independent emulator) behind one Slack app and one Datadog webhook: an alert posts once whichever
 * replicas receive it, a storm spread across them survives one being killed -9, and commands on
 * every replica land in one audit trail that verifies.
 */
// help and whoami are open to everyone; the rest is the alert routing.
const CONFIG = ALERTS_CONFIG;
const CHANNELS = ALERT_CHANNELS;

let moto: Moto | undefined;
/** The replicas reach moto through this: one call at a time, as atomic as DynamoDB (see the proxy). */
let dynamo: DynamoProxy | undefined;
let out = '';
let dir = '';
const children: ChildProcess[] = [];
const workspaces: SimulatedSlack[] = [];

beforeAll(async () => {
  moto = await startMoto();
  if (!moto) return warnMotoMissing('replicas on DynamoDB');
  dynamo = await startDynamoProxy(moto.url);
  out = buildProduction();
  dir = mkdtempSync(join(tmpdir(), 'opsbot-replicas-'));
  writeFileSync(join(dir, 'opsbot.yaml'), CONFIG);
}, 120_000);

afterAll(async () => {
  for (const child of children) await stopHard(child);
  for (const slack of workspaces) await slack.stop().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (out) rmSync(out, { recursive: true, force: true });
  await dynamo?.stop();
  await moto?.stop();
});

const workspace = async () => {
  const ws = await newReplicaWorkspace([...CHANNELS, 'C0DEV']);
  workspaces.push(ws.slack);
  return ws;
};
const startReplicas = async (ws: ReplicaWorkspace, n: number, extraEnv: Record<string, string> = {}) => {
  const table = await newStateTable(dynamo?.url ?? '', 'opsbot-replicas');
  return Promise.all(
    Array.from({ length: n }, async () => {
      const r = await startReplica(ws, {
        entry: join(out, 'src/main.js'),
        dir,
        dynamodbUrl: dynamo?.url ?? '',
        table,
        extraEnv,
      });
      children.push(r.child);
      return r;
    }),
  );
};
const DEVENV_ROLE = 'arn:aws:iam::123456789012:role/opsbot-devenv';
/** A simulated STS and EC2 with the dev-env role and launch template, and the task's credentials for it (generated). */
const devenvAws = async () => {
  const aws = new SimulatedAws();
  const { url } = await aws.start();
  const key = `REPLICA${randomBytes(6).toString('hex').toUpperCase()}`;
  const secret = randomBytes(20).toString('base64');
  aws.sts.addCredentials(key, secret, { arn: 'arn:aws:iam::123456789012:role/opsbot-task' });
  aws.sts.addRole(DEVENV_ROLE);
  aws.ec2.addLaunchTemplate({ id: 'lt-0abc1234567890def', name: 'opsbot-dev', httpTokens: 'required' });
  const env = {
    AWS_ACCESS_KEY_ID: key,
    AWS_SECRET_ACCESS_KEY: secret,
    AWS_ENDPOINT_URL_EC2: url,
    AWS_ENDPOINT_URL_STS: url,
  };
  return { aws, env };
};
const command = async (ws: ReplicaWorkspace, r: Replica, userId: string, text: string) =>
  (await commandOn(ws, r, userId, text)).text;

describe('replicas sharing one DynamoDB table', () => {
  it.each([2, 3])(
    'posts an alert once when each of %i replicas receives it (Datadog retries land anywhere)',
    async (n) => {
      if (!moto) return; // warned in beforeAll; CI requires moto
      const ws = await workspace();
      const replicas = await startReplicas(ws, n);
      const [triggered] = alertCycle({ monitorId: 5150 + n, name: 'Queue depth high' }) as [
        DatadogWebhookBody,
      ];
      const results = await Promise.all(replicas.map((r) => r.webhooks.send(triggered)));
      expect(results.map((r) => r.status)).toEqual(replicas.map(() => 202));
      expect(results.map((r) => JSON.parse(r.body).status).sort()).toEqual([
        'accepted',
        ...replicas.slice(1).map(() => 'duplicate'),
      ]);
      await eventually(() => shownCounts(ws.slack, CHANNELS).get(triggered.id) === 1, 'the root', 20_000);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(ws.slack.messages('C0ALERTS').filter((m) => idsOf(m).includes(triggered.id))).toHaveLength(1);
      for (const r of replicas) await stopHard(r.child);
    },
    60_000,
  );

  it('shows every acknowledged alert of a storm spread across three replicas exactly once, one killed -9 mid-way', async (ctx) => {
    if (!moto) return ctx.skip();
    const ws = await workspace();
    const replicas = await startReplicas(ws, 3);
    const [doomed, ...survivors] = replicas as [Replica, Replica, Replica];
    const COUNT = 90;
    const bodies = Array.from(
      { length: COUNT },
      (_, i) =>
        alertCycle({
          monitorId: 7000 + i,
          name: `Storm alert ${i}`,
          tags: i % 3 === 0 ? ['team:payments', 'env:prod'] : ['env:prod', 'service:web'],
        })[0] as DatadogWebhookBody,
    );
    let killedAt = -1;
    const killer = (async () => {
      await eventually(() => shownCounts(ws.slack, CHANNELS).size >= COUNT * 0.25, '25% in Slack', 40_000, 1);
      killedAt = shownCounts(ws.slack, CHANNELS).size;
      await stopHard(doomed.child);
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    // Spread over the replicas like a load balancer; paced, so that the kill lands mid-storm.
    const first = await inParallel(bodies, 6, async (body, i) => {
      await new Promise((r) => setTimeout(r, i * 20));
      return (replicas[i % 3] as Replica).webhooks.send(body).catch(() => undefined);
    });
    const killFailed = await killer;
    if (killFailed) throw killFailed;
    expect(killedAt).toBeGreaterThan(0);
    // Datadog retries what was not answered 202: the load balancer sends it to a live replica.
    const acknowledged = new Set(bodies.filter((_, i) => first[i]?.status === 202).map((b) => b.id));
    const retried = await inParallel(
      bodies.filter((b) => !acknowledged.has(b.id)),
      6,
      async (b, i) => (survivors[i % 2] as Replica).webhooks.deliver(b, { retries: 3, backoffMs: 200 }),
    );
    for (const attempts of retried) expect((attempts.at(-1) as WebhookResult).status).toBe(202);

    const ids = bodies.map((b) => b.id);
    await eventually(
      () => ids.every((id) => shownCounts(ws.slack, CHANNELS).has(id)),
      'every alert in Slack',
      60_000,
    ).catch((error: Error) => {
      const report = expectExactlyOnce(ws.slack, CHANNELS, ids);
      throw new Error(`${error.message}; missing ${report.missing.length} of ${COUNT}`);
    });
    // Drained: each channel's backlog, as the replica delivering it reports it, is 0.
    const drainedBy = Date.now() + 20_000;
    for (;;) {
      const reports = await Promise.all(survivors.map((r) => pendingByChannel(r.port)));
      const drained = CHANNELS.every(
        (c) => reports.some((p) => p[c] === 0) && reports.every((p) => (p[c] ?? 0) === 0),
      );
      if (drained) break;
      if (Date.now() > drainedBy) throw new Error(`the outbox did not drain: ${JSON.stringify(reports)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1_500));
    expect(expectExactlyOnce(ws.slack, CHANNELS, ids)).toEqual({
      missing: [],
      twice: [],
      unknown: [],
      sharedKeys: [],
    });
    for (const r of survivors) await stopHard(r.child);
  }, 150_000);

  it('writes the commands of every replica into one audit trail that verifies', async (ctx) => {
    if (!moto) return ctx.skip();
    const ws = await workspace();
    const replicas = await startReplicas(ws, 3);
    // Interleaved: each replica appends after the others, to the one chain.
    for (let round = 0; round < 3; round++)
      for (const [i, r] of replicas.entries())
        expect(await command(ws, r, i % 2 === 0 ? 'U0DEV' : 'U0ADMIN', '/opsbot whoami')).toContain(
          'You are',
        );
    const verdicts = [];
    for (const r of replicas) verdicts.push(await command(ws, r, 'U0ADMIN', '/opsbot audit --verify'));
    for (const v of verdicts) expect(v).toMatch(/:white_check_mark: The audit trail is intact: \d+ records/);
    // Records are written in the background (group commit): once they are all in, one more
    // verification counts 9 whoami and the 3 verifications before it, on one gapless chain.
    await eventually(
      async () => {
        const v = await command(ws, replicas[0] as Replica, 'U0ADMIN', '/opsbot audit --verify');
        return Number(/intact: (\d+) records/.exec(v)?.[1]) >= 12;
      },
      "every replica's records in the one trail",
      15_000,
    );
    for (const r of replicas) await stopHard(r.child);
  }, 90_000);

  it('runs the dev-environment reaper in three replicas: one warning, one termination, one notice', async (ctx) => {
    if (!moto) return ctx.skip();
    const { aws, env } = await devenvAws();
    try {
      writeFileSync(
        join(dir, 'opsbot-devenv.yaml'),
        `${CONFIG}devenv:\n  roleArn: ${DEVENV_ROLE}\n  templates:\n    small: { launchTemplate: lt-0abc1234567890def, instanceType: t3.medium, defaultTtl: 4h, maxTtl: 24h }\n`,
      );
      const expired = aws.ec2.addInstance({
        launchTemplate: 'lt-0abc1234567890def',
        tags: {
          ManagedBy: 'opsbot',
          Owner: 'U0DEV',
          ExpiresAt: expiresTag(Date.now() - 60_000),
          Name: 'old',
        },
      }).instanceId;
      const soon = aws.ec2.addInstance({
        launchTemplate: 'lt-0abc1234567890def',
        tags: {
          ManagedBy: 'opsbot',
          Owner: 'U0DEV',
          ExpiresAt: expiresTag(Date.now() + 10 * 60_000),
          Name: 'soon',
        },
      }).instanceId;
      const ws = await workspace();
      const replicas = await startReplicas(ws, 3, {
        OPSBOT_CONFIG: join(dir, 'opsbot-devenv.yaml'),
        OPSBOT_DEVENV_REAPER_SECONDS: '5',
        ...env,
      });
      const dms = () => ws.slack.messages('DU0DEV').map((m) => m.text ?? '');
      await eventually(
        () =>
          dms().some((t) => t.includes('expired and was terminated')) &&
          dms().some((t) => t.includes('expires in')),
        'the warning and the termination notice',
        30_000,
      );
      // Another pass in every replica (every 5 s): nothing more is said or done.
      await new Promise((r) => setTimeout(r, 6_000));
      expect(dms().filter((t) => t.includes('expires in'))).toHaveLength(1);
      expect(dms().filter((t) => t.includes('expired and was terminated'))).toHaveLength(1);
      expect(aws.ec2.calls.filter((c) => c.action === 'TerminateInstances')).toHaveLength(1);
      expect(aws.ec2.instance(expired)?.state).not.toBe('running');
      expect(aws.ec2.instance(soon)?.state).toBe('running');
      for (const r of replicas) await stopHard(r.child);
    } finally {
      await aws.stop();
    }
  }, 90_000);
  it('approvals across replicas: two approvers racing on two replicas run it once; a request survives its replica being killed', async (ctx) => {
    if (!moto) return ctx.skip();
    const { aws, env } = await devenvAws();
    try {
      writeFileSync(
        join(dir, 'opsbot-approvals.yaml'),
        `${CONFIG.replace('  admins: [U0ADMIN]\n', '  admins: [U0ADMIN]\n  rules:\n    - actions: ["devenv:*"]\n      users: [U0DEV]\n')}devenv:\n  roleArn: ${DEVENV_ROLE}\n  maxPerUser: 5\n  templates:\n    small: { launchTemplate: lt-0abc1234567890def, instanceType: t3.medium, defaultTtl: 4h, maxTtl: 24h }\napprovals:\n  - actions: ["devenv:up"]\n    approvers: { users: [U0LEAD, U0ADMIN] }\n`,
      );
      const ws = await workspace();
      ws.slack.addUser({ id: 'U0LEAD', name: 'lead' });
      const approvalsEnv = { OPSBOT_CONFIG: join(dir, 'opsbot-approvals.yaml'), ...env };
      const table = await newStateTable(dynamo?.url ?? '', 'opsbot-approvals');
      const start = async () => {
        const r = await startReplica(ws, {
          entry: join(out, 'src/main.js'),
          dir,
          dynamodbUrl: dynamo?.url ?? '',
          table,
          extraEnv: approvalsEnv,
        });
        children.push(r.child);
        return r;
      };
      const [a, b] = [await start(), await start()] as [Replica, Replica];
      const idOf = (text: string) => /R-[0-9A-HJKMNP-TV-Z]{8}/.exec(text)?.[0] as string;
      /** Presses Approve on a request, delivered to `replica` (Slack's request URL points there when it is sent). */
      const approve = (replica: Replica, userId: string, id: string) => {
        ws.slack.configureApp({
          requestUrl: `${replica.base}/slack/events`,
          signingSecret: ws.secrets.slack.signingSecret,
        });
        return ws.slack.sendBlockAction({
          userId,
          channelId: 'C0DEV',
          actionId: 'opsbot:approve',
          value: id,
        });
      };
      const answerOf = async (delivery: { responseUrl: string }) =>
        (await ws.slack.waitForResponse(delivery.responseUrl, { timeoutMs: 20_000 })).at(-1)?.text ?? '';
      const runs = () => aws.ec2.calls.filter((c) => c.action === 'RunInstances' && !c.error).length;

      // Two approvers press at once, one on each replica: one run.
      const raced = idOf(await command(ws, a, 'U0DEV', '/devenv up small --name raced'));
      expect(raced).toBeDefined();
      const presses = [approve(a, 'U0LEAD', raced), approve(b, 'U0ADMIN', raced)];
      const answers = await Promise.all((await Promise.all(presses)).map(answerOf));
      expect(answers.filter((t) => t.includes('ran: success'))).toHaveLength(1);
      expect(answers.filter((t) => t.includes('was approved by'))).toHaveLength(2);
      expect(runs()).toBe(1);

      // A request open when its replica is killed is decided on another, and runs as the requester.
      const open = idOf(await command(ws, a, 'U0DEV', '/devenv up small --name survivor'));
      await stopHard(a.child);
      const c = await start();
      expect(await answerOf(await approve(c, 'U0LEAD', open))).toContain('ran: success');
      expect(runs()).toBe(2);
      const survivor = aws.ec2.instances().find((i) => i.tags.Name === 'survivor');
      expect(survivor?.tags.Owner).toBe('U0DEV');
      expect(survivor?.launchedBy?.sourceIdentity).toMatch(/U0DEV$/);
      expect(
        aws.sts.assumeRoleCalls.some((call) =>
          call.tags.some((t) => t.key === 'opsbot-approved-by' && t.value === 'U0LEAD'),
        ),
      ).toBe(true);
      // A late press on the third replica runs nothing more.
      expect(await answerOf(await approve(b, 'U0LEAD', open))).toContain('was approved by');
      expect(runs()).toBe(2);
      for (const r of [b, c]) await stopHard(r.child);
    } finally {
      await aws.stop();
    }
  }, 120_000);
});
