import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runConsole } from '../../src/console.js';
import { assertNoCanary } from '../helpers/canary.js';

describe('npm run console', () => {
  it('starts the bot, answers :help, :status, :as, unknown input, and quits cleanly', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (d) => (text += d));
    const done = runConsole(input, output);
    for (const line of [
      ':help',
      ':status',
      ':as U0ADMIN',
      ':secrets',
      ':rotate github hold',
      ':rotate nope',
      ':audit',
      '/gh pr list acme/web',
      'hello',
      ':logs',
      ':quit',
    ]) {
      input.write(`${line}\n`);
    }
    await done;
    expect(text).toContain('opsbot console: the bot is running at http://127.0.0.1:');
    expect(text).toContain(':status          health and readiness');
    expect(text).toContain('health: ok · ready: yes');
    expect(text).toContain('now acting as U0ADMIN');
    expect(text).toMatch(/opsbot\/slack: using [0-9a-f]{8} · store: [0-9a-f]{8}=AWSCURRENT/);
    expect(text).toMatch(/opsbot\/github: version [0-9a-f]{8} staged as AWSPENDING/);
    expect(text).toContain('usage: :rotate <slack|github|jira|datadog> [hold|finish]');
    expect(text).toMatch(/#\d \S+ secret\.loaded \{"integration":"\w+","arn":"arn:aws:secretsmanager:/);
    expect(text).toMatch(/chain intact \(4 records\)/);
    expect(text).toContain('U0ADMIN@C0DEV> ');
    expect(text).toContain('/gh is not available yet');
    expect(text).toContain('I don\'t know "hello"');
    expect(text).toContain('"msg":"opsbot listening"');
    expect(text.trim().endsWith('bye')).toBe(true);
    assertNoCanary({ console: text });
  });
});
