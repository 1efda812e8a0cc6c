import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runConsole } from '../../src/console.js';
import type { SandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';
import { eventually } from '../helpers/eventually.js';

/** A console typed into one line at a time; `until` waits for the output (from `from`) to match. */
async function live() {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.on('data', (d) => (text += d));
  let started: SandboxBot | undefined;
  const done = runConsole(input, output, { onStart: (b) => (started = b) });
  const bot = await eventually(() => started, 'the console to start its bot', 15_000);
  const until = (pattern: RegExp, from = 0) =>
    eventually(
      () => pattern.exec(text.slice(from)) ?? undefined,
      `console output matching ${pattern}`,
      30_000,
    );
  await until(/dev@#dev> $/);
  return {
    bot,
    text: () => text,
    until,
    async type(line: string) {
      const from = text.length;
      input.write(`${line}\n`);
      await until(/[>:] $/, from);
      return from;
    },
    async stop() {
      input.end();
      await done;
      assertNoCanary({ console: text }, bot.secrets());
    },
  };
}

describe('rotation in the console', () => {
  it('/opsbot secrets and /opsbot rotate work there, and :rotate runs the real rotation', async () => {
    const c = await live();
    const { bot } = c;
    await c.type(':as ada');
    await c.type(':in #ops');
    let from = await c.type('/opsbot secrets');
    await c.until(/opsbot's secrets: 7, nothing overdue/, from);
    expect(c.text().slice(from)).toMatch(/\*audit\* `opsbot\/audit` · aws · version `[0-9a-f]{8}`/);

    const audit = bot.provider.current('audit').versionId;
    from = await c.type('/opsbot rotate audit');
    const [, done] = (await c.until(
      /`opsbot\/audit` is rotated: version `([0-9a-f]{8})` is AWSCURRENT and the bot serves it/,
      from,
    )) as RegExpExecArray;
    expect(bot.provider.current('audit').versionId.slice(0, 8)).toBe(done);
    expect(bot.provider.current('audit').versionId).not.toBe(audit);

    // :rotate goes through RotateSecret and the rotation function too.
    const calls = bot.secretsManager.calls.RotateSecret ?? 0;
    from = await c.type(':rotate datadog');
    await c.until(
      /opsbot\/datadog: the bot uses version [0-9a-f]{8}; the old API and application keys are revoked at Datadog/,
      from,
    );
    expect(bot.secretsManager.calls.RotateSecret).toBe(calls + 1);
    expect(bot.rotationLogLines.join('\n')).toContain('Datadog webhook now sends the new secret');

    from = await c.type(':rotate github hold');
    await c.until(
      /opsbot\/github: a new App private key, added to the App: version ([0-9a-f]{8}) staged as AWSPENDING/,
      from,
    );
    from = await c.type(':rotate github finish');
    await c.until(/opsbot\/github: the bot uses version [0-9a-f]{8}/, from);
    expect(bot.secretsManager.calls.RotateSecret).toBe(calls + 2);
    from = await c.type('/gh pr list acme/web');
    await c.until(/acme\/web: 2 open pull requests/, from);
    await c.stop();
  }, 120_000);
});
