import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/records.js';
import { openSqliteState } from '../../src/store/sqlite.js';
import { holdWriteLock, longestStall } from '../helpers/sqlite-lock.js';

function freshPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'opsbot-state-')), 'nested', 'opsbot.db');
}

const event = (actor: string, action: string, i: number) => ({
  action,
  outcome: 'success' as const,
  actor,
  details: { args: `pr list acme/web#${i}` },
});

describe('SQLite state: the audit trail', () => {
  it('appends hash-chained records, survives a reopen, and answers queries newest first', async () => {
    const path = freshPath();
    let t = Date.UTC(2026, 10, 23, 9, 0, 0);
    const state = openSqliteState({ path, now: () => (t += 60_000) });
    expect(await state.ping()).toBe(true);
    for (let i = 0; i < 5; i++)
      await state.audit.append(event(i % 2 ? 'U0BOB' : 'U0ALICE', i < 3 ? 'gh:pr list' : 'jira:create', i));
    state.close();

    const reopened = openSqliteState({ path, now: () => (t += 60_000) });
    const sixth = await reopened.audit.append(event('U0ALICE', 'gh:pr merge', 6));
    expect(sixth.seq).toBe(6);
    expect((await reopened.audit.query({})).map((r) => r.seq)).toEqual([6, 5, 4, 3, 2, 1]);
    expect((await reopened.audit.query({ actor: 'U0BOB' })).map((r) => r.seq)).toEqual([4, 2]);
    expect((await reopened.audit.query({ command: 'gh' })).map((r) => r.action)).toEqual([
      'gh:pr merge',
      'gh:pr list',
      'gh:pr list',
      'gh:pr list',
    ]);
    expect((await reopened.audit.query({ command: 'g%' })).length).toBe(0);
    expect((await reopened.audit.query({ since: '2026-11-23T09:04:00.000Z' })).map((r) => r.seq)).toEqual([
      6, 5, 4,
    ]);
    expect((await reopened.audit.query({ limit: 2 })).length).toBe(2);
    expect(await reopened.audit.verify()).toMatchObject({ ok: true, checked: 6 });
    reopened.close();
  });

  it('finds a record edited behind its back, in the hashed record or in an indexed column', async () => {
    const path = freshPath();
    const state = openSqliteState({ path });
    for (let i = 0; i < 4; i++) await state.audit.append(event('U0ALICE', 'devenv:up', i));
    const db = new DatabaseSync(path);
    db.prepare("UPDATE audit SET record = replace(record, 'devenv:up', 'devenv:ls') WHERE seq = 3").run();
    expect(await state.audit.verify()).toMatchObject({ ok: false, brokenAt: 3, checked: 2 });
    db.prepare("UPDATE audit SET record = replace(record, 'devenv:ls', 'devenv:up') WHERE seq = 3").run();
    expect(await state.audit.verify()).toMatchObject({ ok: true, checked: 4 });
    db.prepare("UPDATE audit SET actor = 'U0MALLORY' WHERE seq = 2").run();
    expect(await state.audit.verify()).toMatchObject({ ok: false, brokenAt: 2 });
    db.prepare('DELETE FROM audit WHERE seq = 2').run();
    expect(await state.audit.verify()).toMatchObject({ ok: false, brokenAt: 2, why: 'record 2 is missing' });
    db.close();
    state.close();
  });

  it('reports the last records deleted while it runs as truncation, not as an intact trail', async () => {
    const path = freshPath();
    const state = openSqliteState({ path });
    for (let i = 0; i < 5; i++) await state.audit.append(event('U0ALICE', 'gh:pr list', i));
    const db = new DatabaseSync(path);
    db.prepare('DELETE FROM audit WHERE seq > 3').run();
    const check = await state.audit.verify();
    expect(check).toMatchObject({ ok: false, brokenAt: 4 });
    expect(check.ok ? '' : check.why).toContain('records 4–5 were deleted');
    db.prepare('DELETE FROM audit').run();
    expect(await state.audit.verify()).toMatchObject({ ok: false, brokenAt: 1 });
    db.close();
    state.close();
  });

  it('reports a trail cut short or emptied before a restart against the anchor from the log', async () => {
    const path = freshPath();
    const first = openSqliteState({ path });
    let last: AuditRecord | undefined;
    for (let i = 0; i < 5; i++) last = await first.audit.append(event('U0ALICE', 'gh:pr list', i));
    first.close();
    const anchor = { seq: 5, hash: (last as AuditRecord).hash };

    const db = new DatabaseSync(path);
    db.prepare('DELETE FROM audit WHERE seq > 3').run();
    const reopened = openSqliteState({ path });
    // Without the anchor the restarted bot cannot tell; with it, it can.
    expect(await reopened.audit.verify()).toMatchObject({ ok: true, checked: 3 });
    const cut = await reopened.audit.verify({ anchor });
    expect(cut).toMatchObject({ ok: false, brokenAt: 4 });
    expect(cut.ok ? '' : cut.why).toBe(
      'the trail ends at #3, but the anchor you gave has #5: records 4–5 were deleted',
    );
    reopened.close();

    db.prepare('DELETE FROM audit').run();
    const emptied = openSqliteState({ path });
    expect(await emptied.audit.verify({ anchor })).toMatchObject({ ok: false, brokenAt: 1 });
    // An anchor pasted as its first 16 hex digits works too; a different hash at that seq is a rewrite.
    emptied.close();
    db.close();
  });

  it('reports an unreadable row as a break at its sequence number, and shows it in queries', async () => {
    const path = freshPath();
    const state = openSqliteState({ path });
    for (let i = 0; i < 5; i++) await state.audit.append(event('U0ALICE', 'gh:pr list', i));
    const db = new DatabaseSync(path);
    db.prepare("UPDATE audit SET record = '{not json' WHERE seq = 3").run();
    expect(await state.audit.verify()).toMatchObject({
      ok: false,
      brokenAt: 3,
      checked: 2,
      why: 'it cannot be read (its record is not valid JSON)',
    });
    const rows = await state.audit.query({});
    expect(rows.map((r) => r.seq)).toEqual([5, 4, 3, 2, 1]);
    expect(rows[2]).toMatchObject({
      seq: 3,
      action: 'gh:pr list',
      unreadable: 'its record is not valid JSON',
    });
    db.prepare(
      `UPDATE audit SET record = json_set((SELECT record FROM audit WHERE seq = 2), '$.details', 'x', '$.seq', 3) WHERE seq = 3`,
    ).run();
    expect(await state.audit.verify()).toMatchObject({
      ok: false,
      brokenAt: 3,
      why: 'it cannot be read (its details are not an object)',
    });
    db.close();
    state.close();
  });

  it('creates the database and its -wal and -shm files readable by their owner only', async () => {
    const path = freshPath();
    const umask = process.umask(0o022);
    try {
      const state = openSqliteState({ path });
      await state.audit.append(event('U0ALICE', 'gh:pr list', 1));
      for (const file of [path, `${path}-wal`, `${path}-shm`]) {
        expect((statSync(file).mode & 0o777).toString(8), file).toBe('600');
      }
      state.close();
    } finally {
      process.umask(umask);
    }
  });

  it('keeps the chain whole when a batch fails on a lock while the next one waits', async () => {
    const path = freshPath();
    const state = openSqliteState({ path, deadlineMs: 300 });
    await state.audit.append(event('U0ALICE', 'gh:pr list', 0));
    const lock = holdWriteLock(path);
    setTimeout(() => lock.release(), 360);
    const first = state.audit.append(event('U0ALICE', 'gh:pr list', 1));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = state.audit.append(event('U0ALICE', 'gh:pr list', 2));
    await expect(first).rejects.toThrow(/locked/);
    await second.catch(() => undefined);
    await state.audit.append(event('U0ALICE', 'gh:pr list', 3));
    expect(await state.audit.verify()).toMatchObject({ ok: true });
    state.close();
  });

  it('lets 50 writers wait out a lock together without stalling the event loop', async () => {
    const path = freshPath();
    const state = openSqliteState({ path });
    const lock = holdWriteLock(path);
    setTimeout(() => lock.release(), 1_000);
    const { stallMs } = await longestStall(() =>
      Promise.all(Array.from({ length: 50 }, (_, i) => state.dedupe.putIfAbsent(`k${i}`, 60_000))),
    );
    expect(stallMs).toBeLessThan(60);
    state.close();
  });

  it('detects a trail rewritten and re-chained with plain SHA-256 once it is keyed, after a restart', async () => {
    const path = freshPath();
    const key = { version: 'v1', key: new Uint8Array(randomBytes(32)) };
    const keys = { current: () => key, get: (v: string) => (v === 'v1' ? key.key : undefined) };
    const state = openSqliteState({ path });
    state.audit.attach({ keys });
    for (let i = 0; i < 6; i++) await state.audit.append(event(i % 2 ? 'U0BOB' : 'U0ALICE', 'gh:pr list', i));
    state.close();
    const original = snapshot(path);

    // Someone with the database rewrites every record of U0BOB and recomputes the chain with
    // SHA-256, keeping the key version the records name, or dropping it (as if never keyed).
    for (const dropKeyVersion of [false, true]) {
      rechain(
        path,
        (r) => (r.actor === 'U0BOB' ? { ...r, details: { args: 'nothing to see' } } : r),
        dropKeyVersion,
      );
      const reopened = openSqliteState({ path });
      reopened.audit.attach({ keys });
      const check = await reopened.audit.verify();
      expect(check, `dropKeyVersion=${dropKeyVersion}`).toMatchObject({ ok: false, brokenAt: 1 });
      reopened.close();
      restore(path, original);
    }
    const reopened = openSqliteState({ path });
    reopened.audit.attach({ keys });
    expect(await reopened.audit.verify()).toMatchObject({ ok: true, checked: 6 });
    reopened.close();
  });
});

/** Every row of the audit table, to put back after a test's forgery. */
function snapshot(path: string): { seq: number; record: string; hash: string }[] {
  const db = new DatabaseSync(path);
  try {
    return db.prepare('SELECT seq, record, hash FROM audit ORDER BY seq').all() as {
      seq: number;
      record: string;
      hash: string;
    }[];
  } finally {
    db.close();
  }
}

function restore(path: string, rows: { seq: number; record: string; hash: string }[]): void {
  const db = new DatabaseSync(path);
  for (const row of rows)
    db.prepare('UPDATE audit SET record = ?, hash = ? WHERE seq = ?').run(row.record, row.hash, row.seq);
  db.close();
}

/** Rewrites records with `edit` and recomputes every hash as plain SHA-256, as a forger without the key would. */
function rechain(path: string, edit: (r: AuditRecord) => AuditRecord, dropKeyVersion: boolean): void {
  const db = new DatabaseSync(path);
  let prevHash = '0'.repeat(64);
  for (const row of snapshot(path)) {
    const { hash: _old, keyVersion, ...rest } = JSON.parse(row.record) as AuditRecord;
    const record = edit({ ...rest, ...(dropKeyVersion ? {} : { keyVersion }) } as AuditRecord);
    const unhashed = { ...record, prevHash };
    const hash = createHash('sha256')
      .update(`${prevHash}\n${canonical(unhashed)}`)
      .digest('hex');
    db.prepare('UPDATE audit SET record = ?, hash = ? WHERE seq = ?').run(
      JSON.stringify({ ...unhashed, hash }),
      hash,
      row.seq,
    );
    prevHash = hash;
  }
  db.close();
}

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v ?? null)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}
