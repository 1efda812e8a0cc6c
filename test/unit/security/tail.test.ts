import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/audit/records.js';
import { fileSchemaOf } from '../../../src/config/file-schema.js';
import { CONFIG_SECTIONS } from '../../../src/features.js';
import type { MessageArgs } from '../../../src/integrations/slack-api.js';
import { RequestRefusals } from '../../../src/security/detections/refusals.js';
import {
  DetectionsTail,
  type DetectionsTailDeps,
  TAIL_IDLE_MAX_MS,
} from '../../../src/security/detections/tail.js';
import { SlackSecurityReporter } from '../../../src/security/reporter.js';
import { openSqliteState } from '../../../src/store/sqlite.js';
import { sqliteOf } from '../../../src/store/sqlite-audit.js';
import type { State } from '../../../src/store/state.js';
import { assertNoCanary, canary } from '../../helpers/canary.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const config = fileSchemaOf(CONFIG_SECTIONS).parse({ access: { admins: [] } }).security;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function rig(
  path: string,
  clock: FakeClock,
  owner = 'replica-a',
  over: (state: State) => Partial<DetectionsTailDeps> = () => ({}),
) {
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
    ...over(state),
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
    const stats = first.tail.stats();
    expect(stats).toMatchObject({ passes: 2, records: 6 });
    expect(stats.busyMs).toBeGreaterThan(0);
    expect(stats.recordsMs).toBeGreaterThan(0);
    expect(stats.recordsMs).toBeLessThanOrEqual(stats.busyMs);
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
    clock.advance(3 * TAIL_IDLE_MAX_MS); // the dead holder's lease expires (it outlasts the idle pace)
    await second.tail.pass();
    await second.tail.idle();
    expect(second.posted.filter((m) => m.text.includes('Repeated denials'))).toHaveLength(1);
    second.state.close();
  });

  it('backs off while nothing new comes (an idle replica reads about once a minute), and keeps pace while records come', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-detections-'));
    dirs.push(dir);
    const clock = new FakeClock();
    const { state, tail } = rig(join(dir, 'state.db'), clock);
    await tail.start();
    /** Runs the next pass and returns the wait it scheduled after itself. */
    const nextWait = async () => {
      const passes = tail.stats().passes;
      clock.runNext();
      for (let i = 0; i < 100 && tail.stats().passes === passes; i++)
        await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      return clock.delays()[0];
    };
    const idle = [];
    for (let i = 0; i < 6; i++) idle.push(await nextWait());
    expect(idle).toEqual([10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
    await denied(state, 1, clock);
    expect(await nextWait()).toBe(5_000);
    expect(await nextWait()).toBe(10_000);
    await tail.stop(clock.now() + 1_000);
    state.close();
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

  it('reads briefs, and whole only the records a rule wants: an unexplained secret version is still reported', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-detections-'));
    dirs.push(dir);
    const clock = new FakeClock();
    const briefs: number[] = [];
    const whole: number[] = [];
    /** The store as the tail sees it, noting which records it reads as briefs and which whole. */
    const noting = (store: State['audit']): DetectionsTailDeps['audit'] => ({
      head: () => store.head(),
      firstSeqSince: (iso) => store.firstSeqSince(iso),
      readBriefAfter: async (after, limit) => {
        const read = await store.readBriefAfter(after, limit);
        briefs.push(...read.map((b) => b.seq));
        return read;
      },
      readAfter: async (after, limit) => {
        const read = await store.readAfter(after, limit);
        whole.push(...read.map((r) => r.seq));
        return read;
      },
    });
    const detections = { ...config.detections, chain: { ...config.detections.chain, off: true } };
    const {
      state: live,
      posted,
      tail,
    } = rig(join(dir, 'state.db'), clock, 'replica-a', (state) => ({
      audit: noting(state.audit),
      detections,
      lastRotatedAt: async () => undefined,
    }));
    const at = () => new Date(clock.now()).toISOString();
    const append = (e: Omit<AuditEvent, 'at'>) => live.audit.append({ ...e, at: at() });
    await tail.pass(); // takes the lease, learns the empty trail
    await append({ action: 'gh:pr list', outcome: 'success', actor: 'U0DEV', details: { args: 'n=1' } });
    await append({
      action: 'opsbot:rotate',
      outcome: 'intent',
      actor: 'U0ADMIN',
      details: { args: 'secret=jira' },
    });
    await append({ action: 'gh:pr list', outcome: 'denied', actor: 'U0DEV', details: {} });
    const changed = (integration: string) => ({
      action: 'secret.version_changed',
      outcome: 'success' as const,
      actor: 'opsbot',
      details: { integration, versionId: `${integration}-v2-aaaaaaaa`, previousVersionId: 'v1-bbbbbbbb' },
    });
    await append(changed('jira')); // #4: opsbot's rotation of jira explains it
    await append(changed('audit')); // #5: nothing explains it
    await append({ action: 'gh:pr list', outcome: 'success', actor: 'U0DEV', details: {} });
    expect(await tail.pass()).toBe(6);
    await tail.idle();
    expect(briefs).toEqual([1, 2, 3, 4, 5, 6]);
    // The rotation and the version changes (whose secret is in their details), nothing else.
    expect(whole).toEqual([2, 4, 5]);
    const reported = posted.filter((m) => m.text.includes('Unexpected secret version'));
    expect(reported).toHaveLength(1);
    expect(reported[0]?.text).toContain('#5');
    expect(JSON.stringify(reported[0]?.blocks)).toContain('audit-v2');
    live.close();
  });

  it('an unreadable row is still left out of the rules and reported as a break in the chain', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-detections-'));
    dirs.push(dir);
    const clock = new FakeClock();
    const { state, posted, tail } = rig(join(dir, 'state.db'), clock);
    await tail.pass(); // takes the lease, learns the empty trail, checks the chain
    await denied(state, 7, clock);
    const { db } = sqliteOf(state.audit) ?? expect.fail('a SQLite audit store');
    db.prepare("UPDATE audit SET record = '{not json' WHERE seq = 3").run();
    db.prepare("UPDATE audit SET record = json_set(record, '$.outcome', 'allowed') WHERE seq = 4").run();
    clock.advance(config.detections.chain.every); // the next pass checks the chain's newest records
    expect(await tail.pass()).toBe(7);
    await tail.idle();
    // Five readable denials: #3 and #4 count for nothing.
    const denials = posted.filter((m) => m.text.includes('Repeated denials'));
    expect(denials).toHaveLength(1);
    expect(denials[0]?.text).toContain('#1, #2, #5, #6, #7');
    const broken = posted.filter((m) => m.text.includes('Audit trail broken'));
    expect(broken).toHaveLength(1);
    expect(broken[0]?.text).toContain(
      'broken at record #3: it cannot be read (its record is not valid JSON)',
    );
    state.close();
  });

  it('waits at a number with no record (a writer may still be storing it), and goes past it once it has stayed empty a minute', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-detections-'));
    dirs.push(dir);
    const clock = new FakeClock();
    /** Numbers whose records the trail does not show yet, as DynamoDB's writer chains can leave them. */
    const hidden = new Set<number>();
    const detections = { ...config.detections, chain: { ...config.detections.chain, off: true } };
    const { state, tail } = rig(join(dir, 'state.db'), clock, 'replica-a', (s) => ({
      detections,
      audit: {
        head: () => s.audit.head(),
        firstSeqSince: (iso) => s.audit.firstSeqSince(iso),
        readBriefAfter: async (after, limit) =>
          (await s.audit.readBriefAfter(after, limit)).filter((b) => !hidden.has(b.seq)),
        readAfter: async (after, limit) =>
          (await s.audit.readAfter(after, limit)).filter((r) => !hidden.has(r.seq)),
      },
    }));
    await tail.pass(); // takes the lease, learns the empty trail
    const append = (n: number) =>
      Promise.all(
        Array.from({ length: n }, () =>
          state.audit.append({
            action: 'gh:pr list',
            outcome: 'success',
            actor: 'U0DEV',
            details: {},
            at: new Date(clock.now()).toISOString(),
          }),
        ),
      );
    await append(6);
    hidden.add(3);
    expect(await tail.pass()).toBe(2);
    hidden.delete(3); // its writer stored it after all: checked in its turn
    expect(await tail.pass()).toBe(4);
    await append(3);
    hidden.add(8); // never written
    expect(await tail.pass()).toBe(1);
    clock.advance(59_000);
    expect(await tail.pass()).toBe(0);
    clock.advance(2_000);
    expect(await tail.pass()).toBe(1);
    expect(tail.stats().records).toBe(8);
    state.close();
  });
});
