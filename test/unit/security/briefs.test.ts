import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatementSync } from 'node:sqlite';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { chainRecord, GENESIS_HASH } from '../../../src/audit/chain.js';
import type { AuditBrief, AuditEvent, AuditRecord } from '../../../src/audit/records.js';
import { fileSchemaOf } from '../../../src/config/file-schema.js';
import { CONFIG_SECTIONS } from '../../../src/features.js';
import type { Detection } from '../../../src/security/detection.js';
import { DetectionEngine } from '../../../src/security/detections/engine.js';
import type { TrailRecord } from '../../../src/security/detections/rule.js';
import { openSqliteState } from '../../../src/store/sqlite.js';
import { sqliteOf } from '../../../src/store/sqlite-audit.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const MIN = 60_000;
const detections = fileSchemaOf(CONFIG_SECTIONS).parse({ access: { admins: [] } }).security.detections;

/** Every rule on, with thresholds low enough that short streams trip them. */
const engineOf = () =>
  new DetectionEngine({
    detections: {
      ...detections,
      denials: { ...detections.denials, count: 3 },
      firstUse: { ...detections.firstUse, minHistory: 2 },
      offHours: { ...detections.offHours, minHistory: 2 },
      massDestructive: { ...detections.massDestructive, count: 3 },
    },
    admins: ['U0ADMIN'],
    // Secrets Manager's schedule explains a change of `jira` at T0 + 30 minutes, nothing else.
    lastRotatedAt: async (secret) => (secret === 'jira' ? T0 + 30 * MIN : undefined),
  });

const brief = ({ seq, at, actor, action, outcome }: AuditRecord): AuditBrief => ({
  seq,
  at,
  actor,
  action,
  outcome,
});

/** Runs a stream through an engine: the first `learned` records learned, the rest checked. */
async function detect(
  records: readonly AuditRecord[],
  learned: number,
  give: (engine: DetectionEngine, record: AuditRecord) => TrailRecord,
): Promise<Detection[]> {
  const engine = engineOf();
  const found: Detection[] = [];
  for (const [i, record] of records.entries()) {
    const given = give(engine, record);
    if (i < learned) engine.learn(given);
    else found.push(...(await engine.check(given)));
  }
  return found;
}

/** As the tail gives records: the brief, or the whole record when the engine wants it, asked right then. */
const asTheTailDoes = (engine: DetectionEngine, record: AuditRecord): TrailRecord =>
  engine.wants(brief(record)) ? record : brief(record);

const event = fc.oneof(
  // Commands, buttons and their intents, by people, admins and opsbot.
  fc.record({
    actor: fc.constantFrom('U0ADMIN', 'U0DEV', 'U0GUEST', 'opsbot'),
    action: fc.constantFrom('gh:pr list', 'devenv:up', 'devenv:down', 'dd:mute', 'opsbot:security-ack'),
    outcome: fc.constantFrom('success', 'denied', 'error', 'intent'),
    details: fc.record({ channel: fc.constantFrom('C0DEV', 'C0OPS'), args: fc.constantFrom('n=1', '') }),
  }),
  // Rotations of opsbot's secrets (named by details.secret or the arguments), and version changes.
  fc.record({
    actor: fc.constantFrom('U0ADMIN', 'opsbot'),
    action: fc.constant('opsbot:rotate'),
    outcome: fc.constantFrom('intent', 'success', 'error'),
    details: fc.oneof(
      fc.record({ secret: fc.constantFrom('audit', 'jira') }),
      fc.record({ args: fc.constantFrom('secret=audit', 'value=jira', 'secret=slack') }),
    ),
  }),
  fc.record({
    actor: fc.constantFrom('opsbot', 'U0DEV'),
    action: fc.constant('secret.version_changed'),
    outcome: fc.constant('success'),
    details: fc.record({
      integration: fc.constantFrom('audit', 'jira', 'slack'),
      versionId: fc.constantFrom('v2-aaaaaaaaaa', 'v3-cccccccccc'),
      previousVersionId: fc.constant('v1-bbbbbbbbbb'),
    }),
  }),
);

/** A recorded stream: events a few minutes (or hours) apart, chained as the store chains them. */
const streams = fc
  .array(fc.record({ event, gap: fc.constantFrom(0, 1_000, 2 * MIN, 50 * MIN, 7 * 60 * MIN) }), {
    maxLength: 120,
  })
  .map((steps) => {
    let prev = GENESIS_HASH;
    let t = T0;
    return steps.map(({ event: e, gap }, i) => {
      t += gap;
      const record = chainRecord(e as AuditEvent, i + 1, new Date(t).toISOString(), prev);
      prev = record.hash;
      return record;
    });
  });

describe('rules on briefs', () => {
  it('a recorded stream gives the same detections through briefs as through whole records', async () => {
    await fc.assert(
      fc.asyncProperty(streams, fc.nat({ max: 60 }), async (records, learned) => {
        const whole = await detect(records, learned, (_, r) => r);
        const briefs = await detect(records, learned, asTheTailDoes);
        expect(briefs).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('wants only the records whose details a rule reads', () => {
    const engine = engineOf();
    const rotate = { seq: 1, at: new Date(T0).toISOString(), actor: 'U0ADMIN', action: 'opsbot:rotate' };
    expect(engine.wants({ ...rotate, outcome: 'intent' })).toBe(true);
    expect(engine.wants({ ...rotate, outcome: 'error' })).toBe(false);
    const changed = {
      ...rotate,
      actor: 'opsbot',
      action: 'secret.version_changed',
      outcome: 'success' as const,
    };
    expect(engine.wants(changed)).toBe(true);
    expect(engine.wants({ ...changed, actor: 'U0DEV' })).toBe(false);
    expect(engine.wants({ ...rotate, action: 'gh:pr list', outcome: 'denied' })).toBe(false);
    // A brief that may be unreadable is always read whole: the whole read says whether it is.
    expect(engine.wants({ ...rotate, action: 'gh:pr list', outcome: 'error', unreadable: 'x' })).toBe(true);
  });

  it('firstUse reads a record whole only when it reports it (for its channel)', async () => {
    const engine = engineOf();
    const intent = (seq: number, action: string): AuditRecord =>
      chainRecord(
        { actor: 'U0DEV', action, outcome: 'intent', details: { channel: 'C0DEV' } },
        seq,
        new Date(T0 + seq).toISOString(),
        GENESIS_HASH,
      );
    const first = intent(1, 'devenv:up');
    // Too little history yet: nothing to report, so no need for the whole record.
    expect(engine.wants(brief(first))).toBe(false);
    await engine.check(brief(first));
    await engine.check(brief(intent(2, 'devenv:up')));
    const news = intent(3, 'dd:mute');
    expect(engine.wants(brief(news))).toBe(true);
    const found = await engine.check(news);
    expect(found).toMatchObject([{ rule: 'firstUse', details: { action: 'dd:mute', channel: 'C0DEV' } }]);
    expect(engine.wants(brief(intent(4, 'dd:mute')))).toBe(false);
  });
});

describe('readBriefAfter on SQLite', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const open = () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-briefs-'));
    dirs.push(dir);
    return openSqliteState({ path: join(dir, 'state.db'), now: () => T0 });
  };

  it('marks a row whose JSON is not valid or whose outcome is not one opsbot writes; readAfter says why', async () => {
    const state = open();
    for (let i = 0; i < 5; i++)
      await state.audit.append({ action: 'gh:pr list', outcome: 'denied', actor: 'U0GUEST', details: {} });
    const { db } = sqliteOf(state.audit) ?? expect.fail('a SQLite audit store');
    db.prepare("UPDATE audit SET record = '{not json' WHERE seq = 2").run();
    db.prepare("UPDATE audit SET record = json_set(record, '$.outcome', 'allowed') WHERE seq = 3").run();
    db.prepare("UPDATE audit SET record = '[1, 2]' WHERE seq = 4").run();
    const briefs = await state.audit.readBriefAfter(0, 10);
    expect(briefs.map((b) => [b.seq, b.outcome, b.unreadable])).toEqual([
      [1, 'denied', undefined],
      [2, 'error', 'its record is not valid JSON'],
      [3, 'error', 'its outcome is not one opsbot writes'],
      [4, 'error', 'its outcome is not one opsbot writes'],
      [5, 'denied', undefined],
    ]);
    const whole = await state.audit.readAfter(0, 10);
    expect(whole.map((r) => r.unreadable)).toEqual([
      undefined,
      'its record is not valid JSON',
      'its outcome is not one opsbot writes',
      'its record is not a JSON object',
      undefined,
    ]);
    state.close();
  });

  it('reads the same briefs where Node has no setReturnArrays (before 22.16): rows as objects', async () => {
    const arrays = open();
    for (let i = 0; i < 4; i++)
      await arrays.audit.append({ action: 'gh:pr list', outcome: 'intent', actor: 'U0DEV', details: {} });
    sqliteOf(arrays.audit)?.db.prepare("UPDATE audit SET record = '{' WHERE seq = 3").run();
    const expected = await arrays.audit.readBriefAfter(0, 10);
    const prototype = StatementSync.prototype as { setReturnArrays?: unknown };
    const original = prototype.setReturnArrays;
    prototype.setReturnArrays = undefined;
    try {
      const objects = openSqliteState({ path: join(dirs.at(-1) as string, 'state.db'), now: () => T0 });
      expect(await objects.audit.readBriefAfter(0, 10)).toEqual(expected);
      expect(expected.map((b) => b.unreadable)).toEqual([
        undefined,
        undefined,
        'its record is not valid JSON',
        undefined,
      ]);
      objects.close();
    } finally {
      prototype.setReturnArrays = original;
    }
    arrays.close();
  });

  it('reads at most 1,000 briefs per call, oldest first', async () => {
    const state = open();
    await Promise.all(
      Array.from({ length: 1_050 }, (_, i) =>
        state.audit.append({
          action: 'gh:pr list',
          outcome: 'success',
          actor: `U0USER${i % 7}`,
          details: {},
        }),
      ),
    );
    const briefs = await state.audit.readBriefAfter(0, 5_000);
    expect(briefs.map((b) => b.seq)).toEqual(Array.from({ length: 1_000 }, (_, i) => i + 1));
    expect((await state.audit.readBriefAfter(1_000, 5_000)).map((b) => b.seq)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1_001),
    );
    state.close();
  });
});
