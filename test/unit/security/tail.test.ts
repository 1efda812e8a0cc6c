import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fileSchemaOf } from '../../../src/config/file-schema.js';
import { CONFIG_SECTIONS } from '../../../src/features.js';
import type { MessageArgs } from '../../../src/integrations/slack-api.js';
import { RequestRefusals } from '../../../src/security/detections/refusals.js';
import { DetectionsTail } from '../../../src/security/detections/tail.js';
import { SlackSecurityReporter } from '../../../src/security/reporter.js';
import { openSqliteState } from '../../../src/store/sqlite.js';
import type { State } from '../../../src/store/state.js';
import { assertNoCanary, canary } from '../../helpers/canary.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const config = fileSchemaOf(CONFIG_SECTIONS).parse({ access: { admins: [] } }).security;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function rig(path: string, clock: FakeClock, owner = 'replica-a') {
  const state: State = openSqliteState({ path, now: () => clock.now() });
  const posted: MessageArgs[] = [];
  const refusals = new RequestRefusals();
  const log = pino({ level: 'silent' });
  const reporter = new SlackSecurityReporter({
    slack: {
      postMessage: async (m) => {
        posted.push(m);
        return { channel: m.channel, ts: `${posted.length}.000100` };
      },
    },
    dedupe: state.dedupe,
    messages: state.messages,
    audit: { write: (e) => void state.audit.append(e) },
    clock,
    log,
    channel: 'C0SECURITY',
    admins: ['U0ADMIN'],
  });
  const tail = new DetectionsTail({
    audit: state.audit,
    leases: state.leases,
    cursor: state.messages,
    owner,
    reporter,
    detections: config.detections,
    admins: ['U0ADMIN'],
    refusals,
    clock,
    log,
  });
  return { state, posted, tail, refusals };
}

const denied = (state: State, n: number, clock: FakeClock) =>
  Promise.all(
    Array.from({ length: n }, () =>
      state.audit.append({
        action: 'devenv:up',
        outcome: 'denied',
        actor: 'U0GUEST',
        details: {},
        at: new Date(clock.now()).toISOString(),
      }),
    ),
  );

describe('the detections tail', () => {
  it('reports a burst once, and after a restart reports nothing old, only what is new', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-detections-'));
    dirs.push(dir);
    const path = join(dir, 'state.db');
    const clock = new FakeClock();
    const first = rig(path, clock);
    await first.tail.pass(); // takes the lease, learns an empty trail
    await denied(first.state, 6, clock);
    expect(await first.tail.pass()).toBe(6);
    await first.tail.idle();
    const reports = () => first.posted.filter((m) => m.text.includes('Repeated denials'));
    expect(reports()).toHaveLength(1);
    expect(reports()[0]?.text).toContain('#1, #2, #3, #4, #5');
    expect(JSON.stringify(reports()[0]?.blocks)).toContain('opsbot:security-ack');
    await first.tail.stop(clock.now() + 1_000);
    first.state.close();

    const second = rig(path, clock, 'replica-b');
    // The lease of the stopped replica was released: this one takes it, learns the old records up
    // to the cursor the first one stored, and checks what came after (its own detection record).
    expect(await second.tail.pass()).toBeLessThanOrEqual(1);
    await second.tail.idle();
    expect(second.posted).toEqual([]);
    clock.advance(11 * 60_000);
    await denied(second.state, 5, clock);
    await second.tail.pass();
    await second.tail.idle();
    expect(second.posted.filter((m) => m.text.includes('Repeated denials'))).toHaveLength(1);
    const detected = (await second.state.audit.query({ command: 'security', limit: 50 })).filter(
      (r) => r.action === 'security:detected',
    );
    expect(detected.map((r) => r.details.rule)).toEqual(['denials', 'denials']);
    second.state.close();
  });

  it('a replica that takes the lease over checks what was written while no one held it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-detections-'));
    dirs.push(dir);
    const path = join(dir, 'state.db');
    const clock = new FakeClock();
    const first = rig(path, clock);
    await first.tail.pass(); // takes the lease, stores where it stopped
    await denied(first.state, 1, clock);
    await first.tail.pass();
    // The holder dies (its lease is not released); denials arrive while no one reads the trail.
    first.state.close();
    const second = rig(path, clock, 'replica-b');
    await denied(second.state, 5, clock);
    clock.advance(60_000); // the dead holder's lease expires
    await second.tail.pass();
    await second.tail.idle();
    expect(second.posted.filter((m) => m.text.includes('Repeated denials'))).toHaveLength(1);
    second.state.close();
  });

  it('only the lease holder reports; the same detection twice is one message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-detections-'));
    dirs.push(dir);
    const clock = new FakeClock();
    const a = rig(join(dir, 'state.db'), clock, 'replica-a');
    await a.tail.pass();
    const b = rig(join(dir, 'state.db'), clock, 'replica-b');
    expect(await b.tail.pass()).toBe(0);
    const detection = {
      rule: 'denials',
      key: 'denials:U0X:1',
      title: 't',
      at: new Date(clock.now()).toISOString(),
      evidence: [1],
      details: {},
    };
    const reporter = new SlackSecurityReporter({
      slack: {
        postMessage: async (m) => {
          a.posted.push(m);
          return { channel: m.channel, ts: '1.1' };
        },
      },
      dedupe: a.state.dedupe,
      messages: a.state.messages,
      audit: { write: () => undefined },
      clock,
      log: pino({ level: 'silent' }),
      channel: 'C0SECURITY',
      admins: [],
    });
    await reporter.report(detection);
    await reporter.report(detection);
    expect(a.posted).toHaveLength(1);
    a.state.close();
    b.state.close();
  });

  it('rate-limits a rule to 10 messages an hour, then one summary of the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-detections-'));
    dirs.push(dir);
    const clock = new FakeClock();
    const { state, posted } = rig(join(dir, 'state.db'), clock);
    const reporter = new SlackSecurityReporter({
      slack: {
        postMessage: async (m) => {
          posted.push(m);
          return { channel: m.channel, ts: '1.1' };
        },
      },
      dedupe: state.dedupe,
      messages: state.messages,
      audit: { write: () => undefined },
      clock,
      log: pino({ level: 'silent' }),
      channel: 'C0SECURITY',
      admins: [],
    });
    for (let i = 0; i < 13; i++)
      await reporter.report({
        rule: 'firstUse',
        key: `k${i}`,
        title: 't',
        at: 'x',
        evidence: [i + 1],
        details: {},
      });
    expect(posted).toHaveLength(10);
    clock.advance(60 * 60_000);
    await reporter.flush();
    expect(posted).toHaveLength(11);
    expect(posted[10]?.text).toContain('3 more `firstUse` detections were suppressed');
    state.close();
  });

  it('counts refused requests: 20 within a minute is one detection, with no request content', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-detections-'));
    dirs.push(dir);
    const clock = new FakeClock();
    const { state, posted, tail, refusals } = rig(join(dir, 'state.db'), clock);
    await tail.start();
    for (let i = 0; i < 19; i++) refusals.refused('slack');
    await tail.idle();
    expect(posted).toEqual([]);
    refusals.refused('datadog');
    for (let i = 0; i < 5; i++) refusals.refused('slack');
    await tail.idle();
    expect(posted).toHaveLength(1);
    expect(posted[0]?.text).toContain('Requests failing signature checks');
    await tail.stop(clock.now() + 1_000);
    state.close();
  });

  it('never puts a secret value in a message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-detections-'));
    dirs.push(dir);
    const clock = new FakeClock();
    const { state, posted, tail } = rig(join(dir, 'state.db'), clock);
    await tail.pass();
    const token = canary('xoxb');
    // A record can only carry what the pipeline summarized; a denial's arguments are `[redacted]`.
    await Promise.all(
      Array.from({ length: 5 }, () =>
        state.audit.append({
          action: 'gh:pr list',
          outcome: 'denied',
          actor: 'U0GUEST',
          details: { args: 'repo=[redacted]' },
        }),
      ),
    );
    await tail.pass();
    await tail.idle();
    expect(posted).toHaveLength(1);
    assertNoCanary({ slack: posted }, [token]);
    state.close();
  });
});
