import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runConsole } from '../../src/console.js';
import { assertNoCanary } from '../helpers/canary.js';

describe('npm run console', () => {
  it('runs slash commands as a chosen user in a chosen channel, renders replies, presses buttons', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (d) => (text += d));
    const done = runConsole(input, output);
    for (const line of [
      ':help',
      ':status',
      '/opsbot help',
      '/gh prs acme/web',
      '/gh pr list acme/web',
      ':as U0GUEST',
      '/devenv up small',
      ':as ada',
      ':in #ops',
      '/opsbot audit --limit 3',
      ':click 1',
      ':click 9',
      ':secrets',
      ':rotate slack',
      '/opsbot whoami',
      ':rotate github hold',
      ':rotate nope',
      ':audit',
      ':as nobody',
      'hello',
      ':logs',
      ':quit',
    ]) {
      input.write(`${line}\n`);
    }
    await done;
    expect(text).toContain('opsbot console: the bot runs at http://127.0.0.1:');
    expect(text).toContain(':click <n>          press button n of the replies above');
    expect(text).toContain('health: ok · ready: yes');
    expect(text).toContain('dev@#dev> opsbot (only you can see this):\n  *What you may run in #dev*');
    expect(text).toContain('`prs` is not a `/gh` subcommand. Did you mean `/gh pr`?');
    expect(text).toContain('  acme/web: 2 open pull requests\n');
    expect(text).toContain(
      '  • #42 Fix login redirect on Safari (https://github.com/acme/web/pull/42) by octocat',
    );
    expect(text).toContain('now acting as guest (U0GUEST)');
    expect(text).toContain(':no_entry: `devenv:up` is allowed in #dev for @S0PLATFORM.');
    expect(text).toContain('now in #ops (C0OPS)');
    expect(text).toMatch(
      /Audit trail: 3 records, newest first\n\s+═+\n\s+#\d+ · .* · @guest in #dev · `devenv:up` `template=small` · denied/,
    );
    expect(text).toContain('[1 Verify the chain]');
    expect(text).toMatch(/The audit trail is intact: \d+ records/);
    expect(text).toContain('no button 9; the buttons shown are 1');
    expect(text).toMatch(/opsbot\/slack: using [0-9a-f]{8} · store: [0-9a-f]{8}=AWSCURRENT/);
    expect(text).toContain('opsbot/slack: new bot token and signing secret rotated');
    expect(text).toContain('*You are* @ada (`U0ADMIN`) in #ops');
    expect(text).toMatch(/opsbot\/github: version [0-9a-f]{8} staged as AWSPENDING/);
    expect(text).toContain('usage: :rotate <slack|github|jira|datadog> [hold|finish]');
    expect(text).toMatch(/#\d+ \S+ U0GUEST devenv:up denied \{"kind":"command"/);
    expect(text).toMatch(/chain intact \(\d+ records\)/);
    expect(text).toContain('unknown user nobody; choose from U0ADMIN (ada)');
    expect(text).toContain('I don\'t know "hello"');
    expect(text).toContain('"msg":"opsbot listening"');
    expect(text.trim().endsWith('bye')).toBe(true);
    assertNoCanary({ console: text });
  });
});
