import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditTrail } from '../../src/audit/sink.js';
import { RoleSessions } from '../../src/credentials/role-sessions.js';
import { DevenvReaper } from '../../src/devenv/reaper.js';
import { createDevenvApi, expiresTag } from '../../src/integrations/devenv.js';
import { createMetrics } from '../../src/metrics.js';
import { SimulatedAws } from '../../src/sandbox/ec2.js';
import { openSqliteState } from '../../src/store/sqlite.js';
import type { DedupeStore, State } from '../../src/store/state.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogs } from '../helpers/log-capture.js';
import { serviceCalls } from '../helpers/service-calls.js';

/** The simulated task role's key pair, made at run time. */
const TASK_KEY = `AKID${randomBytes(8).toString('hex').toUpperCase()}`;
const TASK_SECRET = randomBytes(24).toString('base64');

/**
 * The reaper as two processes would run it (two handles on one SQLite file, as after a restart or
 * with two replicas), against the simulated EC2: warnings and reports happen once in all, expired
 * instances are terminated, foreign and untagged ones are never touched, and every EC2 call is the
 * reaper's own STS session.
 */
const ROLE = 'arn:aws:iam::123456789012:role/opsbot-devenv';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(
  options: { audit?: Pick<AuditTrail, 'record'>; dedupe?: (state: State) => DedupeStore } = {},
) {
  const clock = new FakeClock(Date.parse('2026-11-29T10:00:00Z'));
  const aws = new SimulatedAws({ now: () => clock.now() });
  const { url } = await aws.start();
  cleanups.push(() => aws.stop());
  aws.sts.addCredentials(TASK_KEY, TASK_SECRET);
  aws.sts.addRole(ROLE);
  // Named in the configuration (resolved to its id with DescribeLaunchTemplates), as the CDK stack does.
  const template = aws.ec2.addLaunchTemplate({ name: 'opsbot-devenv' });
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-reaper-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const dms: Array<{ channel: string; text: string }> = [];
  const audits: string[] = [];
  const outcomes: string[] = [];
  let replicas = 0;
  const process = (): { reaper: DevenvReaper; state: State } => {
    const owner = `replica-${++replicas}`;
    const state = openSqliteState({ path: join(dir, 'opsbot.db'), now: () => clock.now() });
    const logs = captureLogs();
    const sessions = new RoleSessions({
      roleArn: ROLE,
      region: 'us-east-1',
      clientConfig: {
        endpoint: url,
        credentials: { accessKeyId: TASK_KEY, secretAccessKey: TASK_SECRET },
      },
      clock,
      log: logs.log,
    });
    cleanups.push(() => {
      sessions.close();
      state.close();
    });
    const calls = serviceCalls(sessions, url);
    const reaper = new DevenvReaper({
      api: createDevenvApi(calls, { launchTemplates: () => ['opsbot-devenv'], now: () => clock.now() }),
      dedupe: options.dedupe?.(state) ?? state.dedupe,
      leases: state.leases,
      owner,
      slack: {
        postMessage: async ({ channel, text }) => {
          dms.push({ channel, text });
          return { channel, ts: String(dms.length) };
        },
      },
      audit: {
        write: (event) => {
          outcomes.push(`${event.action}:${event.outcome}:${String(event.details.instance)}`);
          if (event.outcome !== 'error') audits.push(`${event.action}:${String(event.details.instance)}`);
        },
        record: async (event) => {
          if (options.audit) await options.audit.record(event);
          outcomes.push(`${event.action}:${event.outcome}:${String(event.details.instance)}`);
          return { ...event, seq: outcomes.length, at: '', prevHash: '', hash: '' } as never;
        },
      },
      clock,
      log: logs.log,
      metrics: createMetrics({ defaultMetrics: false }),
      admins: ['U0ADMIN'],
      intervalMs: 60_000,
    });
    return { reaper, state };
  };
  // Launched from opsbot's launch template (EC2 tags it with the template's id), or only tagged by hand.
  const seed = (tags: Record<string, string>) =>
    aws.ec2.addInstance({ tags, launchTemplate: template.id }).instanceId;
  const tagged = (tags: Record<string, string>) => aws.ec2.addInstance({ tags }).instanceId;
  return { clock, aws, dms, audits, outcomes, process, seed, tagged };
}

describe('the dev-environment reaper across processes', () => {
  it('warns and reports once in all, terminates the expired, and leaves foreign and untagged instances alone', async () => {
    const { clock, aws, dms, audits, process, seed, tagged } = await rig();
    const soon = seed({
      ManagedBy: 'opsbot',
      Owner: 'U0DEV',
      ExpiresAt: expiresTag(clock.now() + 10 * 60_000),
      Name: 'soon',
    });
    const later = seed({
      ManagedBy: 'opsbot',
      Owner: 'U0DEV',
      ExpiresAt: expiresTag(clock.now() + 5 * 3_600_000),
      Name: 'later',
    });
    const expired = seed({
      ManagedBy: 'opsbot',
      Owner: 'U0OPS',
      ExpiresAt: expiresTag(clock.now() - 60_000),
      Name: 'old',
    });
    const untagged = seed({ ManagedBy: 'opsbot', Owner: 'not-a-user' });
    const foreign = seed({ Name: 'prod-db', ExpiresAt: expiresTag(clock.now() - 86_400_000) });
    // Someone allowed to tag (not to terminate) marks an instance as opsbot's, expired: never touched.
    const handTagged = tagged({
      ManagedBy: 'opsbot',
      Owner: 'U0OPS',
      ExpiresAt: expiresTag(clock.now() - 60_000),
      Name: 'victim',
    });

    const a = process();
    const b = process();
    // Two replicas at once: each warning and report happens once between them.
    const [ra, rb] = await Promise.all([a.reaper.pass(), b.reaper.pass()]);
    expect(ra.warned + rb.warned).toBe(1);
    expect(ra.reported + rb.reported).toBe(1);
    expect(ra.terminated + rb.terminated).toBe(1);
    expect(dms.filter((d) => d.channel === 'U0DEV')).toHaveLength(1);
    expect(dms.find((d) => d.channel === 'U0DEV')?.text).toContain('`soon`');
    expect(dms.filter((d) => d.channel === 'U0ADMIN')).toHaveLength(1);
    expect(dms.find((d) => d.channel === 'U0ADMIN')?.text).toContain(untagged);
    // Terminated by the one replica that took its lease, its owner told once.
    expect(aws.ec2.calls.filter((c) => c.action === 'TerminateInstances')).toHaveLength(1);
    expect(dms.filter((d) => d.channel === 'U0OPS')).toHaveLength(1);
    expect(audits.filter((x) => x === `devenv:reap:${expired}`)).toHaveLength(1);
    expect(aws.ec2.instance(expired)?.state).toBe('shutting-down');

    // A restart (a third process on the same file): nothing is said twice.
    const c = process();
    expect(await c.reaper.pass()).toMatchObject({ warned: 0, reported: 0, terminated: 0 });
    for (const id of [soon, later, untagged, foreign, handTagged])
      expect(aws.ec2.instance(id)?.state).toBe('running');
    expect(audits).toContain(`devenv:reap:${expired}`);
    expect(audits).toContain(`devenv:untagged:${untagged}`);

    // Once `soon` has expired it goes too; `later` and the others stay.
    clock.advance(11 * 60_000);
    expect((await c.reaper.pass()).terminated).toBe(1);
    expect(aws.ec2.instance(soon)?.state).toBe('shutting-down');
    for (const id of [later, untagged, foreign, handTagged])
      expect(aws.ec2.instance(id)?.state).toBe('running');
    expect(audits.some((a) => a.endsWith(handTagged))).toBe(false);
    expect(dms.some((d) => d.text.includes(handTagged) || d.text.includes('victim'))).toBe(false);
    // Every EC2 call was the reaper's own session; never the base credentials.
    expect(aws.ec2.calls.length).toBeGreaterThan(0);
    expect(
      aws.ec2.calls.every((call) => call.credential === 'session' && call.sourceIdentity === 'opsbot.reaper'),
    ).toBe(true);
  });
});

describe('the reaper records its intent before it terminates', () => {
  it('writes the devenv:reap intent before TerminateInstances and the outcome after', async () => {
    // What EC2 says of the instance at the moment the intent is stored.
    let stateAtIntent: string | undefined;
    let ec2: SimulatedAws['ec2'] | undefined;
    const { clock, aws, outcomes, process, seed } = await rig({
      audit: {
        record: async (event) => {
          if (event.outcome === 'intent')
            stateAtIntent = ec2?.instance(String(event.details.instance))?.state;
          return {} as never;
        },
      },
    });
    ec2 = aws.ec2;
    const expired = seed({
      ManagedBy: 'opsbot',
      Owner: 'U0OPS',
      ExpiresAt: expiresTag(clock.now() - 60_000),
      Name: 'old',
    });
    const { reaper } = process();
    expect((await reaper.pass()).terminated).toBe(1);
    expect(stateAtIntent).toBe('running');
    expect(outcomes).toEqual([`devenv:reap:intent:${expired}`, `devenv:reap:success:${expired}`]);
    expect(aws.ec2.instance(expired)?.state).toBe('shutting-down');
  });

  it('does not terminate when the intent cannot be stored; a later pass does, once it can', async () => {
    let auditDown = true;
    const { clock, aws, outcomes, process, seed } = await rig({
      audit: {
        record: async () => {
          if (auditDown) throw new Error('the audit store is unavailable');
          return {} as never;
        },
      },
    });
    const expired = seed({
      ManagedBy: 'opsbot',
      Owner: 'U0OPS',
      ExpiresAt: expiresTag(clock.now() - 60_000),
      Name: 'old',
    });
    const { reaper } = process();
    expect((await reaper.pass()).terminated).toBe(0);
    expect(aws.ec2.instance(expired)?.state).toBe('running');
    expect(aws.ec2.calls.filter((c) => c.action === 'TerminateInstances')).toHaveLength(0);
    expect(outcomes).toEqual([]);
    // The store is back, and the instance's lease has lapsed: the next pass terminates it, recorded.
    auditDown = false;
    clock.advance(2 * 60_000);
    expect((await reaper.pass()).terminated).toBe(1);
    expect(outcomes).toEqual([`devenv:reap:intent:${expired}`, `devenv:reap:success:${expired}`]);
  });

  it('keeps the devenv:reap record when the dedupe store fails after terminating', async () => {
    const { clock, aws, outcomes, process, seed } = await rig({
      dedupe: (state) => ({
        putIfAbsent: async (key, ttl) => {
          if (key.startsWith('devenv-reaped:')) throw new Error('the dedupe store is unavailable');
          return state.dedupe.putIfAbsent(key, ttl);
        },
      }),
    });
    const expired = seed({
      ManagedBy: 'opsbot',
      Owner: 'U0OPS',
      ExpiresAt: expiresTag(clock.now() - 60_000),
      Name: 'old',
    });
    const { reaper } = process();
    await expect(reaper.pass()).rejects.toThrow(/dedupe store is unavailable/);
    expect(aws.ec2.instance(expired)?.state).toBe('shutting-down');
    expect(outcomes).toEqual([`devenv:reap:intent:${expired}`, `devenv:reap:success:${expired}`]);
  });
});
