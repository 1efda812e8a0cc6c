import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { openSqliteState } from '../../src/store/sqlite.js';

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
    expect(await reopened.audit.verify()).toEqual({ ok: true, checked: 6 });
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
    expect(await state.audit.verify()).toEqual({ ok: true, checked: 4 });
    db.prepare("UPDATE audit SET actor = 'U0MALLORY' WHERE seq = 2").run();
    expect(await state.audit.verify()).toMatchObject({ ok: false, brokenAt: 2 });
    db.prepare('DELETE FROM audit WHERE seq = 2').run();
    expect(await state.audit.verify()).toMatchObject({ ok: false, brokenAt: 2, why: 'record 2 is missing' });
    db.close();
    state.close();
  });
});
