import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RoleSessions } from '../../src/credentials/role-sessions.js';
import { DevenvReaper } from '../../src/devenv/reaper.js';
import { createDevenvApi, expiresTag } from '../../src/integrations/devenv.js';
import { createMetrics } from '../../src/metrics.js';
import { SimulatedAws } from '../../src/sandbox/ec2.js';
import { openState } from '../../src/store/open.js';
import type { State } from '../../src/store/state.js';
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

async function rig() {
  const clock = new FakeClock(Date.parse('2026-11-29T10:00:00Z'));
  const aws = new SimulatedAws({ now: () => clock.now() });
  const { url } = await aws.start();
  cleanups.push(() => aws.stop());
  aws.sts.addCredentials(TASK_KEY, TASK_SECRET);
  aws.sts.addRole(ROLE);
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-reaper-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const dms: Array<{ channel: string; text: string }> = [];
  const audits: string[] = [];
  let replicas = 0;
  const process = (): { reaper: DevenvReaper; state: State } => {
    const owner = `replica-${++replicas}`;
    const state = openState({ kind: 'sqlite', path: join(dir, 'opsbot.db') }, () => clock.now());
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
      api: createDevenvApi(calls),
      dedupe: state.dedupe,
      leases: state.leases,
      owner,
      slack: {
        postMessage: async ({ channel, text }) => {
          dms.push({ channel, text });
          return { channel, ts: String(dms.length) };
        },
      },
      audit: { write: (event) => audits.push(`${event.action}:${String(event.details.instance)}`) },
      clock,
      log: logs.log,
      metrics: createMetrics({ defaultMetrics: false }),
      admins: ['U0ADMIN'],
      intervalMs: 60_000,
    });
    return { reaper, state };
  };
  const seed = (tags: Record<string, string>) => aws.ec2.addInstance({ tags }).instanceId;
  return { clock, aws, dms, audits, process, seed };
}

describe('the dev-environment reaper across processes', () => {
  it('warns and reports once in all, terminates the expired, and leaves foreign and untagged instances alone', async () => {
    const { clock, aws, dms, audits, process, seed } = await rig();
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
    for (const id of [soon, later, untagged, foreign]) expect(aws.ec2.instance(id)?.state).toBe('running');
    expect(audits).toContain(`devenv:reap:${expired}`);
    expect(audits).toContain(`devenv:untagged:${untagged}`);

    // Once `soon` has expired it goes too; `later` and the others stay.
    clock.advance(11 * 60_000);
    expect((await c.reaper.pass()).terminated).toBe(1);
    expect(aws.ec2.instance(soon)?.state).toBe('shutting-down');
    for (const id of [later, untagged, foreign]) expect(aws.ec2.instance(id)?.state).toBe('running');
    // Every EC2 call was the reaper's own session; never the base credentials.
    expect(aws.ec2.calls.length).toBeGreaterThan(0);
    expect(
      aws.ec2.calls.every((call) => call.credential === 'session' && call.sourceIdentity === 'opsbot.reaper'),
    ).toBe(true);
  });
});
