import { defineCommand } from '../../src/slack/command-spec.js';

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
