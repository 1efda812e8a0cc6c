import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatAnchor, parseAnchor } from '../../../src/audit/anchor.js';
import { summarizeButtonValue, summarizeValue, summarizeViewState } from '../../../src/audit/args-summary.js';
import { auditSecret } from '../../../src/audit/audit-secret.js';
import { AuditKeyring } from '../../../src/audit/keyring.js';
import type { AuditEvent } from '../../../src/audit/records.js';
import { TrailAuditSink } from '../../../src/audit/sink.js';
import { describeCheck } from '../../../src/audit/verify-report.js';
import { parseSecret } from '../../../src/credentials/secret-spec.js';
import { SecretValue } from '../../../src/log/secret-value.js';
import { captureLogs } from '../../helpers/log-capture.js';

describe('what an audit record keeps of a button or a form', () => {
  it('keeps a target as it is, free text as its length, and redacts anything token-like', () => {
    expect(summarizeButtonValue('acme/web:9001')).toBe('value=acme/web:9001');
    expect(summarizeButtonValue('')).toBe('');
    expect(summarizeValue('Login fails on Safari')).toBe('[21 chars]');
    expect(summarizeValue('a.'.repeat(33))).toBe('[66 chars]');
    expect(summarizeValue('xoxb-123-456-abcdef')).toBe('[redacted]');
    // Token-shaped text is made at run time: nothing credential-like is committed.
    expect(summarizeValue(`acme/web:ghp_${randomBytes(18).toString('hex')}`)).toBe('[redacted]');
    expect(summarizeValue(`run:${randomBytes(24).toString('base64')}`)).toBe('[redacted]');
    expect(
      summarizeViewState({
        repo: { value: { type: 'plain_text_input', value: 'acme/web' } },
        title: { value: { type: 'plain_text_input', value: 'From the form' } },
        body: { value: { type: 'plain_text_input', value: null } },
        labels: {
          value: { type: 'multi_static_select', selected_options: [{ value: 'bug' }, { value: 'p2' }] },
        },
        'weird id!': { value: { type: 'static_select', selected_option: { value: 'x' } } },
      }),
    ).toBe('repo=acme/web title=[13 chars] labels=bug,p2 input=x');
  });
});

describe('the audit secret and its keys', () => {
  it('accepts base64 of 32 bytes as chainKey, and says what it expects otherwise (never the value)', () => {
    const good = randomBytes(32).toString('base64');
    expect(parseSecret(auditSecret, JSON.stringify({ chainKey: good }))).toMatchObject({ ok: true });
    for (const bad of [randomBytes(16).toString('base64'), 'not base64 at all!!', `${good}x`]) {
      const parsed = parseSecret(auditSecret, JSON.stringify({ chainKey: bad }));
      expect(parsed).toEqual({
        ok: false,
        problems: ['chainKey: expected base64 of 32 random bytes (openssl rand -base64 32)'],
      });
    }
    expect(auditSecret.sensitive).toEqual(['chainKey']);
  });

  it('follows the provider: the current key per use, remembered versions (bounded), the last key while it fails', () => {
    const versions = new Map<string, string>();
    let current = 'v1';
    let pending: string | undefined;
    let loaded = true;
    const credential = (versionId: string) => ({
      integration: 'audit',
      name: 'opsbot/audit',
      arn: 'arn',
      versionId,
      value: new SecretValue({ chainKey: versions.get(versionId) as string }),
    });
    const source = {
      isLoaded: () => loaded,
      current: <S>() =>
        credential(current) as never as ReturnType<typeof credential> & { value: SecretValue<S> },
      pending: <S>() =>
        (pending ? credential(pending) : undefined) as
          | (ReturnType<typeof credential> & { value: SecretValue<S> })
          | undefined,
    };
    for (const v of ['v1', 'v2', 'v3', 'v4']) versions.set(v, randomBytes(32).toString('base64'));
    const keyring = new AuditKeyring(source, { maxVersions: 3 });
    expect(keyring.ready()).toBeInstanceOf(Promise);
    keyring.settle();
    expect(keyring.ready()).toBeUndefined();
    expect(keyring.current()?.version).toBe('v1');
    expect(Buffer.from(keyring.get('v1') as Uint8Array).toString('base64')).toBe(versions.get('v1'));
    pending = 'v2';
    keyring.current();
    expect(keyring.versions()).toEqual(['v1', 'v2']);
    current = 'v2';
    pending = undefined;
    expect(keyring.current()?.version).toBe('v2');
    current = 'v3';
    keyring.current();
    current = 'v4';
    keyring.current();
    expect(keyring.versions()).toEqual(['v2', 'v3', 'v4']);
    loaded = false;
    expect(keyring.current()?.version).toBe('v4');
    expect(new AuditKeyring().ready()).toBeUndefined();
    expect(new AuditKeyring().current()).toBeUndefined();
  });

  it('reads anchors as admins paste them from the log', () => {
    const hash = 'ab'.repeat(32);
    expect(parseAnchor(`1042:${hash}`)).toEqual({ seq: 1042, hash });
    expect(parseAnchor(' 7:ABCDEF0123456789 ')).toEqual({ seq: 7, hash: 'abcdef0123456789' });
    for (const bad of ['1042', '0:abcdef0123456789', '7:abcdef012345678', '7:xyz', `-1:${hash}`])
      expect(parseAnchor(bad), bad).toBeUndefined();
    expect(formatAnchor({ seq: 3, hash })).toBe(`3:${hash}`);
  });
});

describe('the trail sink', () => {
  const event: AuditEvent = {
    action: 'gh:issue create',
    outcome: 'intent',
    actor: 'U0DEV',
    details: { args: 'repo=acme/web title=[7 chars]' },
  };

  it('refuses to wait longer than its deadline, and logs the whole event with its actor', async () => {
    const capture = captureLogs();
    const sink = new TrailAuditSink({ append: () => new Promise(() => {}) }, capture.log);
    const started = performance.now();
    await expect(sink.record(event, 50)).rejects.toThrow('the audit record was not stored within 50 ms');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(capture.records().at(-1)).toMatchObject({
      level: 'error',
      actor: 'U0DEV',
      action: 'gh:issue create',
      auditEvent: event,
      msg: 'an audit record was not stored in time; the action waiting for it was refused',
    });
  });

  it('logs an event the store refused in full, and never throws from write()', async () => {
    const capture = captureLogs();
    const sink = new TrailAuditSink(
      { append: async () => Promise.reject(new Error('database or disk is full')) },
      capture.log,
    );
    sink.write(event);
    await expect(sink.record(event)).rejects.toThrow('database or disk is full');
    const lost = capture
      .records()
      .filter((r) => r.msg === 'could not store an audit event; it is logged here in full instead');
    expect(lost).toHaveLength(2);
    expect(lost[0]).toMatchObject({ actor: 'U0DEV', auditEvent: event });
  });
});

describe('the answer to /opsbot audit --verify', () => {
  const head = { seq: 12, hash: 'c'.repeat(64) };

  it('says intact, empty, unkeyed, unverifiable or broken, and what to do next', () => {
    expect(describeCheck({ ok: true, checked: 12, head }, { keyed: true })).toBe(
      `:white_check_mark: The audit trail is intact: 12 records, every hash and link checks out. Its head is \`12:${'c'.repeat(64)}\`.\n_To also catch records deleted from the end before a restart, verify against the last \`auditAnchor\` line in the log: \`/opsbot audit --verify --anchor seq:hash\`._`,
    );
    expect(describeCheck({ ok: true, checked: 12, head }, { keyed: true, anchorGiven: true })).toContain(
      'It reaches the anchor you gave, with the same hash there.',
    );
    expect(describeCheck({ ok: true, checked: 0 })).toContain(
      'The audit trail is empty (0 records). If opsbot has run here before, its records were deleted',
    );
    expect(
      describeCheck({ ok: true, checked: 12, head, unkeyed: [{ from: 1, to: 12, count: 12 }] }),
    ).toContain(':warning: It is chained without a key (plain SHA-256)');
    expect(
      describeCheck(
        { ok: true, checked: 12, head, unkeyed: [{ from: 1, to: 4, count: 4 }], adoptedAt: 9 },
        { keyed: true },
      ),
    ).toContain(
      ':information_source: Records #1–#4 were chained without a key, before the audit key was set; an admin adopted them (record #9), and the keyed records after them vouch for them.',
    );
    const unadopted = { from: 1, to: 8, count: 8 };
    expect(
      describeCheck(
        {
          ok: false,
          checked: 11,
          brokenAt: 1,
          why: 'records 1–8 are chained without a key and no admin adopted them',
          unadopted,
          unkeyed: [unadopted],
          lastUnkeyed: { seq: 8, hash: 'a'.repeat(64) },
        },
        { keyed: true },
      ),
    ).toBe(
      ':rotating_light: The audit trail is not vouched for: records #1–#8 are chained without a key (plain SHA-256) and no admin adopted them, so whoever can write the database could have rewritten them and recomputed every hash. The 3 records after them check out.\n' +
        'If they were written before the `audit` secret was set and you trust them (compare with the `auditAnchor` lines logged back then), run `/opsbot audit --adopt-unkeyed 8`; otherwise treat them as tampered with.',
    );
    expect(
      describeCheck({
        ok: true,
        checked: 12,
        head,
        unverifiable: [{ keyVersion: 'v1', from: 1, to: 5, count: 5 }],
      }),
    ).toContain(
      'opsbot cannot verify records chained with key version `v1` (#1–#5, 5 records): that key is no longer available to it',
    );
    expect(describeCheck({ ok: false, checked: 3, brokenAt: 4, why: 'record 4 is missing' })).toBe(
      ':rotating_light: The audit trail is broken at record #4: record 4 is missing. 3 records before it check out. Treat the trail from #4 on as tampered with.',
    );
  });
});
