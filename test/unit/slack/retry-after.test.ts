import { WebAPIRateLimitedError } from '@slack/web-api';
import { describe, expect, it } from 'vitest';
import { RetryAfter, rateLimitKey, SlackRateLimitedError } from '../../../src/slack/retry-after.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const limited = (seconds: number) => new WebAPIRateLimitedError(seconds);

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('RetryAfter', () => {
  it('waits out Retry-After for the limited key only, then retries', async () => {
    const clock = new FakeClock();
    const retry = new RetryAfter({ clock });
    let calls = 0;
    const slow = retry.run('chat.postMessage:C1', async () => {
      calls++;
      if (calls === 1) throw limited(3);
      return 'posted';
    });
    await flush();
    expect(retry.waitFor('chat.postMessage:C1')).toBe(3_000);
    // Another channel is not held back.
    expect(await retry.run('chat.postMessage:C2', async () => 'other')).toBe('other');
    expect(clock.delays()).toEqual([3_000]);
    clock.advance(3_000);
    expect(await slow).toBe('posted');
    expect(calls).toBe(2);
  });

  it('gives up with a user-facing error after maxAttempts or a wait longer than maxWaitMs', async () => {
    const clock = new FakeClock();
    const retry = new RetryAfter({ clock, maxAttempts: 2, maxWaitMs: 10_000 });
    const always = retry.run('views.open', async () => {
      throw limited(1);
    });
    await flush();
    clock.advance(1_000);
    await expect(always).rejects.toBeInstanceOf(SlackRateLimitedError);
    const long = retry.run('usergroups.users.list', async () => {
      throw limited(120);
    });
    await expect(long).rejects.toThrow('Slack asked opsbot to slow down for 120 s');
    // While blocked, later calls with the same key fail fast instead of waiting two minutes.
    let called = false;
    await expect(
      retry.run('usergroups.users.list', async () => {
        called = true;
      }),
    ).rejects.toBeInstanceOf(SlackRateLimitedError);
    expect(called).toBe(false);
  });

  it('passes other errors through untouched', async () => {
    const retry = new RetryAfter({ clock: new FakeClock() });
    const boom = new Error('channel_not_found');
    await expect(retry.run('chat.update:C1', async () => Promise.reject(boom))).rejects.toBe(boom);
  });

  it('keys chat methods per channel and everything else per method', () => {
    expect(rateLimitKey('chat.postMessage', 'C1')).toBe('chat.postMessage:C1');
    expect(rateLimitKey('usergroups.users.list', 'C1')).toBe('usergroups.users.list');
  });
});
