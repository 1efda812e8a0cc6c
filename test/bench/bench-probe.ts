import { defineCommand } from '../../src/command-kit/command-spec.js';
import { slack } from '../../src/integrations/slack.js';
import type { SandboxBot } from '../../src/sandbox/sandbox-bot.js';

/**
 * The benchmarks' probe command: `/bench ping <n>` acks and says nothing more; `<n>` ties a request
 * to its audit record (`args: n=<n>`). Read-only, so no intent record precedes it.
 */
export const benchProbe = defineCommand({
  name: 'bench',
  description: 'benchmark probe',
  subcommands: (sub) => [
    sub({
      name: 'ping',
      readOnly: true,
      summary: 'acks and says nothing more; <n> ties the request to its audit record',
      args: [{ name: 'n', pattern: /^\d{1,9}$/ }],
      examples: ['ping 1'],
      run: async () => undefined,
    }),
  ],
});

/** The policy the benchmarks run under: the probe, in #dev. */
export const BENCH_POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["bench:*"]
      channels: [C0DEV]
`;

/** A positive number from the environment (benchmark knobs), or `fallback` when unset. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not ${raw}`);
  return value;
}

/** The sandbox bot's current Slack signing secret (the load generator signs with it). */
export function currentSigningSecret(bot: SandboxBot): string {
  return bot.provider.current(slack.secret).value.reveal().signingSecret;
}
