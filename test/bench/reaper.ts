import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/clock.js';
import { RoleSessions } from '../../src/credentials/role-sessions.js';
import { DevenvReaper } from '../../src/devenv/reaper.js';
import { createDevenvApi, expiresTag } from '../../src/integrations/devenv.js';
import { createLogger, SecretRedactor } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { SimulatedAws } from '../../src/sandbox/ec2.js';
import { openState } from '../../src/store/open.js';
import { serviceCalls } from '../helpers/service-calls.js';
import { envNumber } from './bench-probe.js';

/** The simulated task role's key pair, made at run time. */
const TASK_KEY = `AKID${randomBytes(8).toString('hex').toUpperCase()}`;
const TASK_SECRET = randomBytes(24).toString('base64');

/**
 * `npm run bench -- reaper`: one dev-environment reaper over 5,000 instances tagged
 * `ManagedBy=opsbot` (pages of 200 from DescribeInstances) in the simulated EC2, under the reaper's
 * own STS session: 50 expired (terminated), 100 within 30 minutes of expiry (owners DMed), 10
 * without valid tags (admins told), 500 foreign instances it must ignore. Prints the time per pass
 * and the AWS calls per pass, for a first pass and a steady-state one.
 */
const ROLE = 'arn:aws:iam::123456789012:role/opsbot-devenv';

export async function benchReaper(): Promise<void> {
  const count = envNumber('OPSBOT_BENCH_REAPER_INSTANCES', 5_000);
  const aws = new SimulatedAws({ maxInstances: count + 1_000, maxCalls: 100_000 });
  const { url } = await aws.start();
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-bench-reaper-'));
  const state = await openState({ kind: 'sqlite', path: join(dir, 'opsbot.db') });
  try {
    aws.sts.addCredentials(TASK_KEY, TASK_SECRET);
    aws.sts.addRole(ROLE);
    const template = aws.ec2.addLaunchTemplate({ name: 'opsbot-dev' }).id;
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      const expiresAt = i < 50 ? now - 60_000 : i < 150 ? now + 10 * 60_000 : now + 4 * 3_600_000;
      aws.ec2.addInstance({
        launchTemplate: template,
        tags:
          i >= count - 10
            ? { ManagedBy: 'opsbot' }
            : {
                ManagedBy: 'opsbot',
                Owner: `U0${String(i % 40).padStart(3, '0')}`,
                ExpiresAt: expiresTag(expiresAt),
                Name: `env-${i}`,
              },
      });
    }
    for (let i = 0; i < 500; i++) aws.ec2.addInstance({ tags: { Name: `foreign-${i}` } });

    const log = createLogger({ level: 'warn', redactor: new SecretRedactor() });
    const sessions = new RoleSessions({
      roleArn: ROLE,
      region: 'us-east-1',
      clientConfig: {
        endpoint: url,
        credentials: {
          accessKeyId: TASK_KEY,
          secretAccessKey: TASK_SECRET,
        },
      },
      clock: systemClock,
      log,
    });
    const calls = serviceCalls(sessions, url);
    let dms = 0;
    const reaper = new DevenvReaper({
      api: createDevenvApi(calls, { launchTemplates: () => [template] }),
      dedupe: state.dedupe,
      leases: state.leases,
      owner: 'bench',
      slack: {
        postMessage: async ({ channel }) => {
          dms++;
          return { channel, ts: String(dms) };
        },
      },
      audit: { write: () => undefined, record: async () => ({}) as never },
      clock: systemClock,
      log,
      metrics: createMetrics({ defaultMetrics: false }),
      admins: ['U0ADMIN'],
      intervalMs: 60_000,
    });
    for (const label of ['first', 'steady']) {
      const ec2Before = aws.ec2.calls.length;
      const stsBefore = aws.sts.assumeRoleCalls.length;
      const started = performance.now();
      const result = await reaper.pass();
      const ms = performance.now() - started;
      const ec2Calls = aws.ec2.calls.slice(ec2Before);
      const byAction = new Map<string, number>();
      for (const c of ec2Calls) byAction.set(c.action, (byAction.get(c.action) ?? 0) + 1);
      console.log(
        `reaper.${label}_pass: ${ms.toFixed(0)} ms over ${result.seen} managed instances (${count + 500} in EC2); terminated ${result.terminated}, warned ${result.warned}, reported ${result.reported}`,
      );
      console.log(
        `reaper.${label}_pass_aws_calls: ${ec2Calls.length} EC2 (${[...byAction].map(([a, n]) => `${a} ${n}`).join(', ')}), ${aws.sts.assumeRoleCalls.length - stsBefore} STS AssumeRole`,
      );
    }
    console.log(`reaper.dms: ${dms}`);
    sessions.close();
  } finally {
    state.close();
    await aws.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
