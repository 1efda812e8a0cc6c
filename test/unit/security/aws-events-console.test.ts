import { describe, expect, it } from 'vitest';
import { cloudTrailEvent, parseEventArgs } from '../../../src/console/aws-event.js';
import { parseEventsBody } from '../../../src/security/aws-events/parse-body.js';
import { isExpected, ownSecretNamed } from '../../../src/security/aws-events/secret-access.js';

/** The console's `:event`: what it sends is what the endpoint reads. */
describe(':event in the console', () => {
  const options = {
    vault: false,
    kvMount: 'secret',
    secretNames: ['opsbot/slack'],
    receivedAt: '2026-01-01T00:00:00Z',
  };

  it('sends an event the endpoint reads as a call on the secret by the principal given', () => {
    const args = parseEventArgs('getsecretvalue arn:aws:iam::123456789012:role/ci-deploy');
    expect(args).toEqual({
      eventName: 'GetSecretValue',
      principal: 'arn:aws:iam::123456789012:role/ci-deploy',
      secret: 'opsbot/slack',
    });
    if ('problem' in args) return;
    const parsed = parseEventsBody(JSON.stringify(cloudTrailEvent({ ...args, at: new Date(0) })), options);
    const call = parsed.ok ? parsed.calls[0] : undefined;
    expect(call).toMatchObject({
      eventName: 'GetSecretValue',
      principal: 'arn:aws:sts::123456789012:assumed-role/ci-deploy/console',
      sessionIssuer: 'arn:aws:iam::123456789012:role/ci-deploy',
    });
    expect(call && ownSecretNamed(call.secretId, options.secretNames)).toBe('opsbot/slack');
    expect(
      call && isExpected(call, { expectedPrincipals: ['arn:aws:iam::123456789012:role/ci-deploy'] }),
    ).toBe(true);
  });

  it('says how to use it', () => {
    expect(parseEventArgs('')).toMatchObject({ problem: expect.stringContaining('usage: :event') });
    expect(parseEventArgs('GetSecretValue someone')).toEqual({
      problem: 'someone is not an IAM user, role or assumed-role ARN',
    });
  });
});
