import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chainRecord, GENESIS_HASH } from '../../../src/audit/chain.js';
import type { AuditRecord } from '../../../src/audit/records.js';
import { fileSchemaOf } from '../../../src/config/file-schema.js';
import { CONFIG_SECTIONS } from '../../../src/features.js';
import { checkLinks } from '../../../src/security/detections/chain-check.js';
import { DetectionEngine } from '../../../src/security/detections/engine.js';
import { CountWindow } from '../../../src/security/detections/window.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const MIN = 60_000;
const detections = fileSchemaOf(CONFIG_SECTIONS).parse({ access: { admins: [] } }).security.detections;

/** A recorded stream: events chained as the store chains them, numbered from 1. */
function stream(
  events: Array<Partial<AuditRecord> & { actor: string; action: string; t: number }>,
): AuditRecord[] {
  let prev = GENESIS_HASH;
  return events.map((e, i) => {
    const record = chainRecord(
      { action: e.action, actor: e.actor, outcome: e.outcome ?? 'success', details: e.details ?? {} },
      i + 1,
      new Date(e.t).toISOString(),
      prev,
    );
    prev = record.hash;
    return record;
  });
}

async function run(engine: DetectionEngine, records: AuditRecord[]) {
  const found = [];
  for (const r of records) found.push(...(await engine.check(r)));
  return found;
}

const engineOf = (
  over: Partial<typeof detections> = {},
  admins: string[] = ['U0ADMIN'],
  lastRotatedAt?: (s: string) => Promise<number | undefined>,
) =>
  new DetectionEngine({
    detections: { ...detections, ...over },
    admins,
    ...(lastRotatedAt ? { lastRotatedAt } : {}),
  });

describe('denials', () => {
  it('fires once when one person is refused 5 times within 10 minutes, with those seqs', async () => {
    const records = stream(
      Array.from({ length: 6 }, (_, i) => ({
        actor: 'U0GUEST',
        action: 'devenv:up',
        outcome: 'denied' as const,
        t: T0 + i * MIN,
      })),
    );
    const found = (await run(engineOf(), records)).filter((d) => d.rule === 'denials');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ key: 'denials:U0GUEST:1', actor: 'U0GUEST', evidence: [1, 2, 3, 4, 5] });
  });

  it('does not fire for 5 refusals spread over more than 10 minutes, or for different people', async () => {
    const spread = stream(
      Array.from({ length: 5 }, (_, i) => ({
        actor: 'U0GUEST',
        action: 'gh:pr list',
        outcome: 'denied' as const,
        t: T0 + i * 3 * MIN,
      })),
    );
    expect((await run(engineOf(), spread)).filter((d) => d.rule === 'denials')).toEqual([]);
    const people = stream(
      Array.from({ length: 8 }, (_, i) => ({
        actor: `U0P${i}`,
        action: 'gh:pr list',
        outcome: 'denied' as const,
        t: T0 + i,
      })),
    );
    expect((await run(engineOf(), people)).filter((d) => d.rule === 'denials')).toEqual([]);
  });

  it('is skipped when off', async () => {
    const records = stream(
      Array.from({ length: 6 }, (_, i) => ({
        actor: 'U0GUEST',
        action: 'x:y',
        outcome: 'denied' as const,
        t: T0 + i,
      })),
    );
    const off = engineOf({ denials: { ...detections.denials, off: true } });
    expect(await run(off, records)).toEqual([]);
  });
});

describe('CountWindow against a brute-force oracle', () => {
  /** The same rule, the slow way: every event re-counts the key's unclaimed events within the window. */
  function oracle(events: Array<{ key: string; at: number }>, count: number, within: number): number[][] {
    const fired: number[][] = [];
    const claimedBefore = new Map<string, number>();
    events.forEach((e, i) => {
      const since = claimedBefore.get(e.key) ?? -1;
      const inWindow = events
        .map((x, j) => ({ x, j }))
        .filter(({ x, j }) => j > since && j <= i && x.key === e.key && x.at > e.at - within)
        .map(({ j }) => j);
      if (inWindow.length >= count) {
        fired.push(inWindow);
        claimedBefore.set(e.key, i);
      }
    });
    return fired;
  }

  it('never misses and never over-reports a burst', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c'), gap: fc.integer({ min: 0, max: 300 }) }), {
          maxLength: 200,
        }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 1_000 }),
        (steps, count, within) => {
          const events: Array<{ key: string; at: number }> = [];
          for (const s of steps) events.push({ key: s.key, at: (events.at(-1)?.at ?? 0) + s.gap });
          const window = new CountWindow<number>({ count, withinMs: within });
          const fired: number[][] = [];
          events.forEach((e, i) => {
            const burst = window.add(e.key, e.at, i);
            if (burst) fired.push(burst);
          });
          expect(fired).toEqual(oracle(events, count, within));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('firstUse', () => {
  const intent = (actor: string, action: string, t: number) => ({
    actor,
    action,
    outcome: 'intent' as const,
    t,
  });
  it("flags a person's first intent of an action, once, and never opsbot's or a learned pair", async () => {
    const engine = engineOf({ firstUse: { learnDays: 90, minHistory: 1, off: false } });
    const history = stream([intent('U0DEV', 'devenv:up', T0)]);
    for (const r of history) engine.learn(r);
    const live = stream([
      intent('U0DEV', 'devenv:up', T0 + 1),
      intent('U0DEV', 'devenv:down', T0 + 2),
      intent('U0DEV', 'devenv:down', T0 + 3),
      intent('opsbot', 'devenv:reap', T0 + 4),
      { actor: 'U0DEV', action: 'gh:pr list', outcome: 'success' as const, t: T0 + 5 },
      intent('U0ADMIN', 'opsbot:security-ack', T0 + 6),
    ]);
    const found = (await run(engine, live)).filter((d) => d.rule === 'firstUse');
    expect(found.map((d) => d.key)).toEqual(['firstUse:U0DEV:devenv:down']);
    expect(found[0]?.evidence).toEqual([2]);
  });
});

describe('firstUse, for newcomers', () => {
  it('is quiet until the person has minHistory records, then flags what is new to them', async () => {
    const intent = (actor: string, action: string, t: number) => ({
      actor,
      action,
      outcome: 'intent' as const,
      t,
    });
    const engine = engineOf({ firstUse: { learnDays: 90, minHistory: 3, off: false } });
    const live = stream([
      intent('U0NEW', 'devenv:up', T0),
      intent('U0NEW', 'devenv:down', T0 + 1),
      { actor: 'U0NEW', action: 'gh:pr list', outcome: 'success' as const, t: T0 + 2 },
      intent('U0NEW', 'dd:mute', T0 + 3),
      intent('U0NEW', 'devenv:up', T0 + 4),
    ]);
    const found = (await run(engine, live)).filter((d) => d.rule === 'firstUse');
    // Three records before: only dd:mute (new to them) is news; devenv:up was seen.
    expect(found.map((d) => d.key)).toEqual(['firstUse:U0NEW:dd:mute']);
  });
});

describe('offHours', () => {
  it('flags an admin at a new hour once they have minHistory records, not before, and not twice that hour', async () => {
    const engine = engineOf({ offHours: { minHistory: 3, off: false } });
    const history = stream(
      Array.from({ length: 3 }, (_, i) => ({ actor: 'U0ADMIN', action: 'opsbot:audit', t: T0 + i * MIN })),
    );
    for (const r of history) engine.learn(r);
    const night = Date.UTC(2026, 10, 24, 3, 10);
    const live = stream([
      { actor: 'U0ADMIN', action: 'opsbot:audit', t: T0 + 10 * MIN },
      { actor: 'U0ADMIN', action: 'opsbot:rotate', outcome: 'intent' as const, t: night },
      { actor: 'U0ADMIN', action: 'opsbot:rotate', t: night + 1 },
      { actor: 'U0ADMIN', action: 'opsbot:audit', t: night + 2 },
      { actor: 'U0DEV', action: 'gh:pr list', t: night + 3 },
    ]);
    const found = (await run(engine, live)).filter((d) => d.rule === 'offHours');
    expect(found.map((d) => d.evidence)).toEqual([[3]]);
    expect(found[0]?.details.hourUtc).toBe(3);
  });

  it('stays quiet while the admin has fewer than minHistory records', async () => {
    const engine = engineOf({ offHours: { minHistory: 20, off: false } });
    const live = stream([{ actor: 'U0ADMIN', action: 'opsbot:audit', t: Date.UTC(2026, 10, 24, 3) }]);
    expect((await run(engine, live)).filter((d) => d.rule === 'offHours')).toEqual([]);
  });
});

describe('massDestructive', () => {
  it('fires when 5 devenv:down / dd:mute intents (anyone) fall within 5 minutes, not for their outcomes', async () => {
    const records = stream(
      Array.from({ length: 5 }, (_, i) => [
        {
          actor: `U0P${i % 2}`,
          action: i % 2 ? 'dd:mute' : 'devenv:down',
          outcome: 'intent' as const,
          t: T0 + i * 30_000,
        },
        { actor: `U0P${i % 2}`, action: i % 2 ? 'dd:mute' : 'devenv:down', t: T0 + i * 30_000 + 1 },
      ]).flat(),
    );
    const found = (await run(engineOf(), records)).filter((d) => d.rule === 'massDestructive');
    expect(found).toHaveLength(1);
    expect(found[0]?.evidence).toEqual([1, 3, 5, 7, 9]);
  });

  it('does not fire for 4, or for actions not listed', async () => {
    const records = stream([
      ...Array.from({ length: 4 }, (_, i) => ({
        actor: 'U0P',
        action: 'devenv:down',
        outcome: 'intent' as const,
        t: T0 + i,
      })),
      { actor: 'U0P', action: 'devenv:up', outcome: 'intent' as const, t: T0 + 10 },
    ]);
    expect((await run(engineOf(), records)).filter((d) => d.rule === 'massDestructive')).toEqual([]);
  });
});

describe('unexpectedSecretVersion', () => {
  const only = async (engine: DetectionEngine, records: AuditRecord[]) =>
    (await run(engine, records)).filter((d) => d.rule === 'unexpectedSecretVersion');
  const changed = (t: number, version = 'v2-aaaaaaaa') => ({
    actor: 'opsbot',
    action: 'secret.version_changed',
    t,
    details: { integration: 'audit', versionId: version, previousVersionId: 'v1-bbbbbbbb' },
  });

  it('flags a version change no rotation started, and not one after /opsbot rotate or on schedule', async () => {
    const never = async () => undefined;
    expect((await only(engineOf({}, [], never), stream([changed(T0)]))).map((d) => d.key)).toEqual([
      'unexpectedSecretVersion:audit:v2-aaaaaaaa',
    ]);
    const rotated = stream([
      {
        actor: 'U0ADMIN',
        action: 'opsbot:rotate',
        outcome: 'intent' as const,
        t: T0 - 20 * MIN,
        details: { args: 'secret=audit' },
      },
      changed(T0),
    ]);
    expect(await only(engineOf({}, [], never), rotated)).toEqual([]);
    const scheduled = async () => T0 - 2 * MIN;
    expect(await only(engineOf({}, [], scheduled), stream([changed(T0)]))).toEqual([]);
    const stale = stream([
      {
        actor: 'opsbot',
        action: 'opsbot:rotate',
        outcome: 'success' as const,
        t: T0 - 2 * 60 * MIN,
        details: { secret: 'audit' },
      },
      changed(T0),
    ]);
    expect(await only(engineOf({}, [], never), stale)).toHaveLength(1);
  });

  it('is left out without a Secrets Manager source', async () => {
    expect(engineOf().rules).not.toContain('unexpectedSecretVersion');
  });
});

describe('chain links', () => {
  const records = stream(
    Array.from({ length: 5 }, (_, i) => ({ actor: 'U0DEV', action: 'gh:pr list', t: T0 + i })),
  );
  it('passes an intact run and finds a gap, a broken link and a changed record', () => {
    expect(checkLinks(records, { seq: 5, hash: (records[4] as AuditRecord).hash })).toBeUndefined();
    expect(checkLinks([records[0], records[1], records[3]] as AuditRecord[])).toMatchObject({ at: 3 });
    const changed = records.map((r) => (r.seq === 3 ? { ...r, actor: 'U0EVIL' } : r));
    expect(checkLinks(changed)).toMatchObject({ at: 3, why: 'its content does not match its hash' });
    const relinked = records.map((r) => (r.seq === 4 ? { ...r, prevHash: GENESIS_HASH } : r));
    expect(checkLinks(relinked)).toMatchObject({ at: 4 });
    expect(checkLinks(records.slice(0, 3), { seq: 5, hash: 'x' })).toMatchObject({ at: 5 });
  });

  it('follows writer chains: each links to its own, numbers may be left unused, a broken link is found', () => {
    const event = (actor: string) => ({
      action: 'gh:pr list',
      outcome: 'success' as const,
      actor,
      details: {},
    });
    const at = new Date(T0).toISOString();
    const a1 = chainRecord(event('U0A'), 2, at, GENESIS_HASH, undefined, 'wa');
    const b1 = chainRecord(event('U0B'), 3, at, GENESIS_HASH, undefined, 'wb');
    const a2 = chainRecord(event('U0A'), 7, at, a1.hash, undefined, 'wa');
    const b2 = chainRecord(event('U0B'), 9, at, b1.hash, undefined, 'wb');
    expect(checkLinks([a1, b1, a2, b2], { seq: 9, hash: b2.hash })).toBeUndefined();
    const crossed = chainRecord(event('U0B'), 9, at, a2.hash, undefined, 'wb');
    expect(checkLinks([a1, b1, a2, crossed])).toMatchObject({
      at: 9,
      why: 'it does not link to #3, the record before it in writer chain wb',
    });
  });
});
