import { describe, expect, it } from 'vitest';
import { parseSqsQueueUrl } from '../../../src/security/config.js';

/** `OPSBOT_EVENTS_QUEUE_URL`: the consumer's SDK client sends to this URL's host, so only SQS's (or 127.0.0.1 in tests). */
describe('parseSqsQueueUrl', () => {
  it.each([
    'https://sqs.eu-west-1.amazonaws.com/111122223333/opsbot-events',
    'https://sqs.us-gov-west-1.amazonaws.com/111122223333/Opsbot-SecretEventsQueueQueue1A2B-AbC_12',
    'https://sqs-fips.us-east-1.amazonaws.com/111122223333/opsbot-events',
    'https://sqs.cn-north-1.amazonaws.com.cn/111122223333/opsbot-events',
    'https://eu-west-1.queue.amazonaws.com/111122223333/opsbot-events',
    'http://127.0.0.1:4566/123456789012/opsbot-events',
  ])('takes %s', (url) => {
    expect(parseSqsQueueUrl(` ${url} `)).toEqual({ ok: true, value: url });
  });

  it.each([
    'http://sqs.eu-west-1.amazonaws.com/111122223333/opsbot-events',
    'https://sqs.eu-west-1.amazonaws.com.evil.example/111122223333/opsbot-events',
    'https://user:pw@sqs.eu-west-1.amazonaws.com/111122223333/opsbot-events',
    'https://sqs.eu-west-1.amazonaws.com:8443/111122223333/opsbot-events',
    'https://sqs.eu-west-1.amazonaws.com/111122223333/opsbot-events?x=1',
    'https://sqs.eu-west-1.amazonaws.com/1111/opsbot-events',
    'https://sqs.eu-west-1.amazonaws.com/111122223333/',
    'http://localhost:4566/123456789012/opsbot-events',
    'http://10.0.0.1:4566/123456789012/opsbot-events',
    'opsbot-events',
  ])('refuses %s, naming what it expected', (url) => {
    const parsed = parseSqsQueueUrl(url);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.expected).toMatch(/an SQS queue URL such as https:\/\/sqs\./);
  });
});
