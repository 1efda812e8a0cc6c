import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toSourceError } from '../../../src/credentials/aws-source.js';
import { canary } from '../../helpers/canary.js';

const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} message`), {
    name,
    ...(status ? { $metadata: { httpStatusCode: status, requestId: 'req-1' } } : {}),
    ...extra,
  });

describe('toSourceError', () => {
  it.each([
    ['ResourceNotFoundException', 400, 'not_found'],
    ['AccessDeniedException', 400, 'access_denied'],
    ['DecryptionFailure', 400, 'access_denied'],
    // opsbot's own credentials failing (expired, skewed clock, none found yet) is transient.
    ['UnrecognizedClientException', 400, 'transient'],
    ['ExpiredTokenException', 400, 'transient'],
    ['InvalidSignatureException', 400, 'transient'],
    ['CredentialsProviderError', undefined, 'transient'],
    ['SomethingForbidden', 403, 'transient'],
    ['ThrottlingException', 400, 'transient'],
    ['InternalServiceError', 500, 'transient'],
    ['SomethingNew', 503, 'transient'],
    ['TimeoutError', undefined, 'transient'],
    ['InvalidRequestException', 400, 'invalid'],
  ] as const)('%s (HTTP %s) is %s', (name, status, kind) => {
    expect(toSourceError('opsbot/slack', 'GetSecretValue', sdkError(name, status)).kind).toBe(kind);
  });

  it('says that no AWS credentials were found, and where the SDK looked, instead of blaming the IAM policy', () => {
    const error = toSourceError('opsbot/slack', 'DescribeSecret', sdkError('CredentialsProviderError'));
    expect(error.message).toMatch(
      /^DescribeSecret opsbot\/slack: no AWS credentials found \(CredentialsProviderError\)/,
    );
    for (const place of [
      'AWS_ACCESS_KEY_ID',
      'shared config and credentials files',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'EC2 instance metadata',
    ]) {
      expect(error.message).toContain(place);
    }
    expect(error.message).not.toMatch(/IAM policy/);
  });

  it("says when opsbot's own credentials were refused, and that the last good value is being served", () => {
    const error = toSourceError('opsbot/slack', 'DescribeSecret', sdkError('ExpiredTokenException', 400));
    expect(error.message).toMatch(/opsbot's own AWS credentials were refused/);
    expect(error.message).toMatch(/serving the last good value/);
  });

  it('treats socket errors without an HTTP answer as transient', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(toSourceError('opsbot/slack', 'DescribeSecret', refused).kind).toBe('transient');
  });

  it('says what to check, with the AWS error name and request id, and nothing else from the SDK error', () => {
    const error = toSourceError('opsbot/jira', 'GetSecretValue', sdkError('AccessDeniedException', 400));
    expect(error.message).toBe(
      'GetSecretValue opsbot/jira: AccessDeniedException (HTTP 400, request id req-1): the task role may not ' +
        'call secretsmanager:GetSecretValue on opsbot/jira (or KMS refused); check its IAM policy',
    );
    expect(error.cause).toBeUndefined();
  });

  it('never carries the message, headers or body of the SDK error', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('ThrottlingException', 'AccessDeniedException', 'X'),
        fc.integer({ min: 400, max: 599 }),
        (name, status) => {
          const secret = canary('xoxb');
          const raw = Object.assign(new Error(`${name}: ${secret}`), {
            name,
            $metadata: { httpStatusCode: status },
            $response: { headers: { authorization: secret }, body: secret },
          });
          const mapped = toSourceError('opsbot/slack', 'DescribeSecret', raw);
          expect(`${mapped.message} ${String(mapped.cause)} ${mapped.stack}`).not.toContain(secret);
        },
      ),
    );
  });
});
