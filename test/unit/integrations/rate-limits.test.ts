import { WebAPIRateLimitedError } from '@slack/web-api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { githubRateLimits } from '../../../src/integrations/github-client.js';
import {
  MAX_RATE_LIMIT_WAIT_MS,
  RateLimitedError,
  type RateLimitPolicy,
  RateLimits,
  retryAfterMs,
} from '../../../src/integrations/rate-limits.js';
import { rateLimitKey, slackRateLimits } from '../../../src/integrations/slack-api.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const limited = (seconds: number) => new WebAPIRateLimitedError(seconds);
const slack = (overrides: Partial<RateLimitPolicy> = {}): RateLimitPolicy => ({
  ...slackRateLimits,
  ...overrides,
});

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('RateLimits', () => {
  it('waits out Retry-After for the limited key only, then retries', async () => {
    const clock = new FakeClock();
    const limits = new RateLimits({ clock });
    let calls = 0;
    const slow = limits.run('chat.postMessage:C1', slack(), async () => {
      calls++;
      if (calls === 1) throw limited(3);
      return 'posted';
    });
    await flush();
    expect(limits.waitFor('chat.postMessage:C1')).toBe(3_000);
    // Another channel is not held back.
    expect(await limits.run('chat.postMessage:C2', slack(), async () => 'other')).toBe('other');
    expect(clock.delays()).toEqual([3_000]);
    clock.advance(3_000);
    expect(await slow).toBe('posted');
    expect(calls).toBe(2);
  });

  it('gives up with a user-facing error after maxAttempts or a wait longer than maxWaitMs', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 29, 14, 0, 0));
    const limits = new RateLimits({ clock });
    const policy = slack({ maxAttempts: 2, maxWaitMs: 10_000 });
    const always = limits.run('views.open', policy, async () => {
      throw limited(1);
    });
    await flush();
    clock.advance(1_000);
    await expect(always).rejects.toBeInstanceOf(RateLimitedError);
    const long = limits.run('usergroups.users.list', policy, async () => {
      throw limited(120);
    });
    await expect(long).rejects.toThrow(
      'Slack asks opsbot to wait before calling it again (rate limit): try again in 2 minutes, after 14:02 UTC.',
    );
    // While blocked, later calls with the same key fail fast instead of waiting two minutes.
    let called = false;
    await expect(
      limits.run('usergroups.users.list', policy, async () => {
        called = true;
      }),
    ).rejects.toBeInstanceOf(RateLimitedError);
    expect(called).toBe(false);
  });

  it('passes other errors through untouched', async () => {
    const limits = new RateLimits({ clock: new FakeClock() });
    const boom = new Error('channel_not_found');
    await expect(limits.run('chat.update:C1', slack(), async () => Promise.reject(boom))).rejects.toBe(boom);
  });

  it('keys chat methods per channel and everything else per method', () => {
    expect(rateLimitKey('chat.postMessage', 'C1')).toBe('chat.postMessage:C1');
    expect(rateLimitKey('usergroups.users.list', 'C1')).toBe('usergroups.users.list');
  });

  it('one helper for every service: GitHub reset headers block that key with the same machinery', async () => {
    const clock = new FakeClock(0);
    const limits = new RateLimits({ clock });
    const error = Object.assign(new Error('API rate limit exceeded'), {
      status: 403,
      response: { headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '600' } },
    });
    await expect(
      limits.run('github:acme/web', githubRateLimits, async () => Promise.reject(error)),
    ).rejects.toThrow(/^GitHub asks opsbot to wait .* try again in 10 minutes/);
    expect(limits.waitFor('github:acme/web')).toBe(600_000);
    expect(limits.waitFor('github:acme/api')).toBe(0);
  });

  it('clamps any Retry-After (huge, negative, garbage) to a finite wait and never throws a RangeError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.double(), fc.string(), fc.constant(1e308), fc.integer()),
        async (value) => {
          const clock = new FakeClock(0);
          const limits = new RateLimits({ clock });
          const wait = retryAfterMs(value);
          if (wait !== undefined) expect(wait).toBeGreaterThanOrEqual(1_000);
          if (wait !== undefined) expect(wait).toBeLessThanOrEqual(MAX_RATE_LIMIT_WAIT_MS);
          const error = await limits
            .run('k', slack({ maxAttempts: 1 }), async () => {
              throw Object.assign(new Error('limited'), {
                code: 'slack_webapi_rate_limited_error',
                retryAfter: value,
              });
            })
            .catch((e: unknown) => e);
          expect(error).toBeInstanceOf(RateLimitedError);
          expect(limits.waitFor('k')).toBeLessThanOrEqual(MAX_RATE_LIMIT_WAIT_MS);
        },
      ),
      { numRuns: 200 },
    );
  });
});
