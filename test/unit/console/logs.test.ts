import { describe, expect, it } from 'vitest';
import { formatLogs } from '../../../src/console/logs.js';

const line = (fields: Record<string, unknown>) =>
  JSON.stringify({ time: '2026-11-23T05:04:24.123Z', service: 'opsbot', ...fields });

const LINES = [
  line({ level: 'info', port: 4123, msg: 'opsbot listening' }),
  line({
    level: 'info',
    component: 'credentials',
    integration: 'github',
    arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:opsbot/github-9AHu8Y',
    versionId: '6417587c-16a7-4837-a1f2-359c500efa04',
    msg: 'secret loaded',
  }),
  line({
    level: 'info',
    audit: true,
    action: 'opsbot:audit',
    actor: 'U0ADMIN',
    outcome: 'success',
    details: { kind: 'command', channel: 'C0DEV', args: 'limit=2', result: 'ok', latencyMs: 1 },
    seq: 6,
    prevHash: 'a'.repeat(64),
    hash: 'b'.repeat(64),
    msg: 'opsbot:audit',
  }),
  line({
    level: 'warn',
    err: {
      type: 'Error',
      message: 'channel_not_found',
      stack: 'Error: channel_not_found\n    at x (y.js:1:1)',
    },
    msg: 'could not answer a form',
  }),
  line({ level: 'error', requestId: 'ab12cd34', action: 'gh:pr list', msg: 'a Slack interaction failed' }),
  'a line that is not JSON \u001b[31mred\u001b[0m',
  line({ level: 'debug', msg: 'polled' }),
];

describe('formatLogs (:logs)', () => {
  it('by default shows warnings and errors first, then the recent lines that are not audit records', () => {
    const text = formatLogs(LINES, '');
    expect(text).toBe(
      [
        'warnings and errors (2; `:logs warn` for more):',
        '  05:04:24 WARN  could not answer a form · err=Error: channel_not_found',
        '  05:04:24 ERROR a Slack interaction failed · action=gh:pr list requestId=ab12cd34',
        'recent lines (`:logs audit` for the audit records, `:logs all` for everything, `:logs 50` for more):',
        '  05:04:24 INFO  opsbot listening · port=4123',
        '  05:04:24 INFO  secret loaded · component=credentials integration=github versionId=6417587c',
        '  05:04:24 WARN  could not answer a form · err=Error: channel_not_found',
        '  05:04:24 ERROR a Slack interaction failed · action=gh:pr list requestId=ab12cd34',
        '  a line that is not JSON [31mred[0m',
        '  05:04:24 DEBUG polled',
      ].join('\n'),
    );
  });

  it('filters by level, by audit, and takes a count', () => {
    expect(formatLogs(LINES, 'warn').split('\n')).toEqual([
      '05:04:24 WARN  could not answer a form · err=Error: channel_not_found',
      '05:04:24 ERROR a Slack interaction failed · action=gh:pr list requestId=ab12cd34',
    ]);
    expect(formatLogs(LINES, 'error')).toBe(
      '05:04:24 ERROR a Slack interaction failed · action=gh:pr list requestId=ab12cd34',
    );
    expect(formatLogs(LINES, 'audit')).toBe(
      '05:04:24 AUDIT #6 opsbot:audit · actor=U0ADMIN outcome=success result=ok channel=C0DEV kind=command args=limit=2',
    );
    expect(formatLogs(LINES, '2').split('\n')).toEqual([
      'a line that is not JSON [31mred[0m',
      '05:04:24 DEBUG polled',
    ]);
    expect(formatLogs(LINES, 'all 1')).toBe('05:04:24 DEBUG polled');
  });

  it('says when there is nothing, and how to ask', () => {
    expect(formatLogs([], '')).toBe('(no log lines yet)');
    expect(formatLogs([LINES[0] as string], '')).toBe(
      [
        'no warnings or errors so far.',
        'recent lines (`:logs audit` for the audit records, `:logs all` for everything, `:logs 50` for more):',
        '  05:04:24 INFO  opsbot listening · port=4123',
      ].join('\n'),
    );
    expect(formatLogs([LINES[0] as string], 'warn')).toBe('no warnings or errors in the last 1 log lines.');
    expect(formatLogs(LINES, 'loud')).toBe(
      'usage: :logs [warn|error|audit|all] [n], e.g. :logs warn or :logs 50',
    );
  });

  it('never prints a stack, a hash or an ARN, and bounds every line', () => {
    const text = formatLogs(
      [...LINES, line({ level: 'info', msg: 'x'.repeat(1_000), note: 'y'.repeat(1_000) })],
      'all',
    );
    expect(text).not.toContain('    at x');
    expect(text).not.toContain('a'.repeat(64));
    expect(text).not.toContain('arn:aws');
    for (const l of text.split('\n')) expect(l.length).toBeLessThanOrEqual(200);
  });

  it('counts the audit trail head among the audit lines, with the anchor an admin pastes; shortens version ids', () => {
    const head = 'c'.repeat(64);
    const lines = [
      line({ level: 'info', msg: 'opsbot listening' }),
      line({ level: 'info', auditAnchor: { seq: 11, hash: head }, msg: 'audit trail head' }),
      line({
        level: 'info',
        msg: 'secret version changed',
        versionId: '21b8ca4e-0000-0000-0000-000000000000',
        previousVersionId: 'a54efc2b-d629-48aa-bf54-4ccf36cc6cd6',
        keyVersion: '59fc4b54-6ae7-4e34-9a30-7e4ad16e737b',
      }),
    ];
    expect(formatLogs(lines, 'audit')).toBe(`05:04:24 INFO  audit trail head · auditAnchor=11:${head}`);
    expect(formatLogs(lines, '5').split('\n')).toEqual([
      '05:04:24 INFO  opsbot listening',
      '05:04:24 INFO  secret version changed · versionId=21b8ca4e previousVersionId=a54efc2b keyVersion=59fc4b54',
    ]);
  });
});
