import { z } from 'zod';
import { parseDuration } from './parsers.js';

/** Values several sections of the configuration file share: Slack ids and durations. */

export const userId = z.string().regex(/^[UW][A-Z0-9]{2,20}$/, 'expected a Slack user id such as U0123ABCD');
export const channelId = z
  .string()
  .regex(/^[CGD][A-Z0-9]{2,20}$/, 'expected a Slack channel id such as C0123ABCD');
export const usergroupId = z
  .string()
  .regex(/^S[A-Z0-9]{2,20}$/, 'expected a Slack user-group id such as S0123ABCD');

/** A duration such as `4h` or `1d12h` (at most 30 days), in milliseconds. */
export const duration = z.string().transform((text, ctx) => {
  const parsed = parseDuration(text, { maxMs: 30 * 86_400_000 });
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: `expected ${parsed.expected}` });
    return z.NEVER;
  }
  return parsed.value;
});
