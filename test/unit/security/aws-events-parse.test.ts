import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEventBridgeEvent, secretCallOf } from '../../../src/security/aws-events/cloudtrail.js';
import { parseEventsBody } from '../../../src/security/aws-events/parse-body.js';
import {
  covers,
  isExpected,
  isScheduledRotation,
  ownSecretNamed,
  secretAccessDetection,
} from '../../../src/security/aws-events/secret-access.js';
import type { SecretCall } from '../../../src/security/aws-events/secret-call.js';
import { REPO_ROOT } from '../../helpers/source-tree.js';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/cloudtrail');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const SECRETS = [
  'opsbot/slack',
  'opsbot/github',
  'opsbot/jira',
  'opsbot/datadog',
  'opsbot/audit',
  'opsbot/events',
];
const TASK_ROLE = 'arn:aws:iam::111122223333:role/opsbot-task';
const ROTATION_ROLE = 'arn:aws:iam::111122223333:role/service-role/opsbot-rotation-audit';
const AWS_OPTIONS = {
  vault: false,
  kvMount: 'secret',
  secretNames: SECRETS,
  receivedAt: '2026-03-02T00:00:00Z',
};
const VAULT_OPTIONS = { ...AWS_OPTIONS, vault: true };

function callOf(name: string): SecretCall {
  const parsed = parseEventsBody(fixture(name), AWS_OPTIONS);
  if (!parsed.ok) throw new Error(`${name}: ${parsed.problem}`);
  const [call] = parsed.calls;
  if (!call) throw new Error(`${name}: no call`);
  return call;
}

describe('CloudTrail events (EventBridge "AWS API Call via CloudTrail")', () => {
  it('reads each documented call: who, what, which secret, from where', () => {
    expect(callOf('get-secret-value.json')).toEqual({
      via: 'cloudtrail',
      id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
      eventId: '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e',
      eventName: 'GetSecretValue',
      secretId: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:opsbot/slack-AbC123',
      principal: 'arn:aws:sts::111122223333:assumed-role/opsbot-task/3f4d1c2b9a8e4d6f',
      sessionIssuer: TASK_ROLE,
      sourceIp: '10.0.12.34',
      at: '2026-03-02T14:07:31Z',
    });
    expect(callOf('put-secret-value.json')).toMatchObject({
      eventName: 'PutSecretValue',
      secretId: 'opsbot/datadog',
      principal: 'arn:aws:iam::111122223333:user/mallory',
      sourceIp: '203.0.113.77',
    });
    expect(callOf('update-secret-version-stage.json')).toMatchObject({
      eventName: 'UpdateSecretVersionStage',
      sessionIssuer: ROTATION_ROLE,
    });
    expect(callOf('delete-secret.json')).toMatchObject({
      eventName: 'DeleteSecret',
      secretId: 'opsbot/github',
      sessionIssuer: 'arn:aws:iam::111122223333:role/ci-deploy',
    });
    expect(callOf('rotate-secret-scheduled.json')).toMatchObject({
      eventName: 'RotateSecret',
      principal: 'secretsmanager.amazonaws.com',
      invokedBy: 'secretsmanager.amazonaws.com',
    });
  });

  it("names opsbot's secret by name, by full ARN (6-character suffix) and by partial ARN", () => {
    const arn = (name: string) => `arn:aws:secretsmanager:us-east-1:111122223333:secret:${name}`;
    expect(ownSecretNamed('opsbot/slack', SECRETS)).toBe('opsbot/slack');
    expect(ownSecretNamed(arn('opsbot/slack-AbC123'), SECRETS)).toBe('opsbot/slack');
    expect(ownSecretNamed(arn('opsbot/slack'), SECRETS)).toBe('opsbot/slack');
    expect(
      ownSecretNamed(
        'arn:aws-us-gov:secretsmanager:us-gov-west-1:111122223333:secret:opsbot/jira-Zz9Yy8',
        SECRETS,
      ),
    ).toBe('opsbot/jira');
    expect(ownSecretNamed(arn('opsbot/slack-AbC12'), SECRETS)).toBeUndefined();
    expect(ownSecretNamed(arn('other/slack-AbC123'), SECRETS)).toBeUndefined();
    expect(ownSecretNamed('opsbot/slack-AbC123', SECRETS)).toBeUndefined();
    expect(ownSecretNamed('prod/opsbot/slack', SECRETS)).toBeUndefined();
  });

  it('an expected role covers its assumed-role sessions; a user only itself; anyone else is unexpected', () => {
    const rules = { expectedPrincipals: [TASK_ROLE, ROTATION_ROLE] };
    expect(isExpected(callOf('get-secret-value.json'), rules)).toBe(true);
    expect(isExpected(callOf('update-secret-version-stage.json'), rules)).toBe(true);
    expect(isExpected(callOf('put-secret-value.json'), rules)).toBe(false);
    expect(isExpected(callOf('delete-secret.json'), rules)).toBe(false);
    expect(
      isExpected(callOf('put-secret-value.json'), {
        expectedPrincipals: ['arn:aws:iam::111122223333:user/mallory'],
      }),
    ).toBe(true);
    // No sessionIssuer in the event: the session ARN's account and role name decide.
    const bare = { principal: 'arn:aws:sts::111122223333:assumed-role/opsbot-task/abc' };
    expect(covers(TASK_ROLE, bare)).toBe(true);
    expect(covers('arn:aws:iam::111122223333:role/ops/opsbot-task', bare)).toBe(true);
    expect(covers('arn:aws:iam::444455556666:role/opsbot-task', bare)).toBe(false);
    expect(covers('arn:aws:iam::111122223333:role/opsbot-task-2', bare)).toBe(false);
    // A session is not its role's sibling session, and a role named like a user is not the user.
    expect(covers('arn:aws:sts::111122223333:assumed-role/opsbot-task/other', bare)).toBe(false);
    expect(covers('arn:aws:iam::111122223333:user/opsbot-task', bare)).toBe(false);
  });

  it('RotateSecret is allowed from the schedule (Secrets Manager itself), not from a person', () => {
    expect(isScheduledRotation(callOf('rotate-secret-scheduled.json'))).toBe(true);
    expect(isScheduledRotation(callOf('rotate-secret-by-user.json'))).toBe(false);
    expect(
      secretAccessDetection(callOf('rotate-secret-scheduled.json'), 'opsbot/audit', false, [7]),
    ).toBeUndefined();
    expect(
      secretAccessDetection(callOf('rotate-secret-by-user.json'), 'opsbot/jira', false, [7]),
    ).toMatchObject({
      rule: 'secretAccess',
      key: 'secretAccess:7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e',
      actor:
        'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PowerUser_0123456789abcdef/alice@example.com',
      evidence: [7],
      details: { eventName: 'RotateSecret', secret: 'opsbot/jira', sourceIP: '192.0.2.44' },
    });
  });

  it('a detection only for an unexpected principal, and only for calls that read or change a value', () => {
    const put = callOf('put-secret-value.json');
    expect(secretAccessDetection(put, 'opsbot/datadog', true, [1])).toBeUndefined();
    expect(
      secretAccessDetection({ ...put, eventName: 'DescribeSecret' }, 'opsbot/datadog', false, [1]),
    ).toBeUndefined();
    expect(secretAccessDetection(put, 'opsbot/datadog', false, [1])).toMatchObject({
      key: 'secretAccess:9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b',
      at: '2026-03-02T15:21:09Z',
      details: {
        principal: 'arn:aws:iam::111122223333:user/mallory',
        eventID: '9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b',
      },
    });
  });

  it('refuses what is not an EventBridge event, and ignores events of other services', () => {
    expect(parseEventsBody('not json', AWS_OPTIONS)).toMatchObject({ ok: false, error: 'invalid_json' });
    expect(parseEventsBody('[]', AWS_OPTIONS)).toMatchObject({ ok: false, error: 'invalid_payload' });
    expect(parseEventsBody('{"id":"x"}', AWS_OPTIONS)).toMatchObject({
      ok: false,
      problem: 'detail-type: expected a string',
    });
    const event = JSON.parse(fixture('get-secret-value.json')) as Record<string, unknown>;
    expect(parseEventBridgeEvent({ ...event, time: 'yesterday' })).toMatchObject({ ok: false });
    expect(parseEventBridgeEvent({ ...event, id: 'a b' })).toMatchObject({ ok: false });
    const other = parseEventBridgeEvent({ ...event, source: 'aws.s3' });
    expect(other.ok && secretCallOf(other.event)).toBeUndefined();
    expect(
      parseEventsBody(
        JSON.stringify({ ...event, 'detail-type': 'AWS Service Event via CloudTrail' }),
        AWS_OPTIONS,
      ),
    ).toEqual({
      ok: true,
      calls: [],
      ignored: 1,
    });
    // Without the vault source, Vault lines are not an EventBridge event.
    expect(parseEventsBody(fixture('vault-audit.jsonl'), AWS_OPTIONS)).toMatchObject({ ok: false });
  });
});

describe('Vault audit-device entries (the vault source)', () => {
  it("reads opsbot's KV paths: the role a token was issued for, the request id, the client's address", () => {
    const parsed = parseEventsBody(fixture('vault-audit.jsonl'), VAULT_OPTIONS);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    // The metadata read (opsbot's own polling) reveals no value: not a call worth recording.
    expect(parsed.ignored).toBe(1);
    expect(parsed.calls).toEqual([
      expect.objectContaining({
        via: 'vault',
        id: '5c2d8e1f-3a4b-4c6d-9e8f-7a6b5c4d3e2f',
        eventName: 'vault:read',
        secretName: 'opsbot/slack',
        principal: 'vault:role/kv-admin',
        vaultRole: 'kv-admin',
        sourceIp: '10.42.7.19',
        at: '2026-03-02T14:09:12.381Z',
      }),
      // The response line repeats the request's id: the endpoint stores it once.
      expect.objectContaining({ id: '5c2d8e1f-3a4b-4c6d-9e8f-7a6b5c4d3e2f' }),
      expect.objectContaining({ eventName: 'vault:read', secretName: 'opsbot/github', vaultRole: 'opsbot' }),
    ]);
    const [debug, , own] = parsed.calls as [SecretCall, SecretCall, SecretCall];
    expect(isExpected(own, { expectedPrincipals: [], vaultRole: 'opsbot' })).toBe(true);
    expect(isExpected(debug, { expectedPrincipals: [], vaultRole: 'opsbot' })).toBe(false);
    expect(isExpected(debug, { expectedPrincipals: ['vault:role/kv-admin'], vaultRole: 'opsbot' })).toBe(
      true,
    );
  });

  it("a token made by hand is not a role's, whatever metadata it was given; AWS logins are their IAM principal", () => {
    const line = (auth: object, path = 'secret/data/opsbot/slack', operation = 'read') =>
      JSON.stringify({
        type: 'response',
        time: '2026-03-02T10:00:00Z',
        auth,
        request: { id: 'req-1', operation, path },
      });
    const handMade = parseEventsBody(
      line({ display_name: 'token-opsbot', metadata: { role: 'opsbot' } }),
      VAULT_OPTIONS,
    );
    expect(handMade.ok && handMade.calls[0]).toMatchObject({ principal: 'vault:token-opsbot' });
    expect(handMade.ok && handMade.calls[0]?.vaultRole).toBeUndefined();
    const aws = parseEventsBody(
      line({
        display_name: 'aws-opsbot-task',
        metadata: {
          auth_type: 'iam',
          canonical_arn: TASK_ROLE,
          client_arn: 'arn:aws:sts::111122223333:assumed-role/opsbot-task/task-1',
        },
      }),
      VAULT_OPTIONS,
    );
    const awsCall = aws.ok ? aws.calls[0] : undefined;
    expect(awsCall).toMatchObject({
      principal: 'arn:aws:sts::111122223333:assumed-role/opsbot-task/task-1',
      sessionIssuer: TASK_ROLE,
    });
    expect(awsCall && isExpected(awsCall, { expectedPrincipals: [TASK_ROLE], vaultRole: 'opsbot' })).toBe(
      true,
    );
    const writes = parseEventsBody(
      [
        line({ display_name: 'userpass-eve' }, 'secret/data/opsbot/jira', 'update'),
        line({ display_name: 'userpass-eve' }, 'secret/destroy/opsbot/jira', 'update'),
        line({ display_name: 'userpass-eve' }, 'secret/metadata/opsbot/jira', 'delete'),
        line({ display_name: 'userpass-eve' }, 'secret/data/other/jira', 'read'),
        line({ display_name: 'userpass-eve' }, 'kv/data/opsbot/jira', 'read'),
      ].join('\n'),
      VAULT_OPTIONS,
    );
    expect(writes.ok && writes.calls.map((c) => [c.eventName, c.principal])).toEqual([
      ['vault:write', 'vault:userpass-eve'],
      ['vault:delete', 'vault:userpass-eve'],
      ['vault:delete', 'vault:userpass-eve'],
    ]);
    expect(writes.ok && writes.ignored).toBe(2);
  });

  it('refuses a body with a line that is not an audit entry, naming the line only', () => {
    const result = parseEventsBody(
      '{"type":"response","request":{"id":"a","operation":"read","path":"x"}}\n{"nope":1}',
      VAULT_OPTIONS,
    );
    expect(result).toEqual({
      ok: false,
      error: 'invalid_payload',
      problem: 'line 2: expected a Vault audit entry (type, request.id, request.operation, request.path)',
    });
    expect(parseEventsBody('{"type":"response"}\nxoxb-test-canary-1', VAULT_OPTIONS)).toEqual({
      ok: false,
      error: 'invalid_json',
      problem: 'line 2 is not valid JSON',
    });
  });
});

describe('any body', () => {
  it('never throws, and a problem never echoes the body', () => {
    const key = 'xoxb-test-canary-body';
    const arbitraryBody = fc.oneof(
      fc.string(),
      fc.json(),
      fc
        .jsonValue()
        .map((v) => JSON.stringify({ id: key, 'detail-type': key, source: key, time: key, detail: v })),
      fc
        .array(
          fc.jsonValue().map((v) => JSON.stringify({ type: 'response', request: v, auth: v })),
          { maxLength: 5 },
        )
        .map((l) => l.join('\n')),
    );
    fc.assert(
      fc.property(arbitraryBody, fc.boolean(), (body, vault) => {
        const text = `${body}${key}`;
        const result = parseEventsBody(text, { ...AWS_OPTIONS, vault });
        if (!result.ok) expect(result.problem).not.toContain(key);
        else for (const call of result.calls) expect(typeof call.id).toBe('string');
      }),
      { numRuns: 500 },
    );
  });
});
