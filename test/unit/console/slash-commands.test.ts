import { describe, expect, it } from 'vitest';
import { unknownCommand } from '../../../src/console/slash-commands.js';

const commands = [
  { name: 'gh', description: 'GitHub pull requests, issues and Actions runs' },
  { name: 'opsbot', description: 'help, whoami, access, audit' },
];

describe('unknownCommand (what Slack answers for a command no app in the workspace has)', () => {
  it('lets a registered command through', () => {
    expect(unknownCommand('/gh', commands)).toBeUndefined();
    expect(unknownCommand('/opsbot', commands)).toBeUndefined();
  });

  it('says the command is not valid, suggests the closest one and lists the rest', () => {
    const answer = unknownCommand('/ghh', commands) ?? '';
    expect(answer).toContain('/ghh is not a valid command. Did you mean /gh?');
    expect(answer).toContain('/gh       GitHub pull requests, issues and Actions runs');
    expect(answer).toContain('/opsbot   help, whoami, access, audit');
  });

  it('answers a bare slash and a hopeless typo without a suggestion', () => {
    expect(unknownCommand('/', commands)).toMatch(/^\/ is not a valid command\.\n/);
    expect(unknownCommand('/kubectl', commands)).toMatch(/^\/kubectl is not a valid command\.\n/);
  });

  it('never echoes control characters or unbounded text', () => {
    const answer = unknownCommand(`/${'x'.repeat(500)}\u001b[31m`, commands) ?? '';
    expect(answer).not.toContain('\u001b');
    expect(answer.split('\n')[0]?.length).toBeLessThan(120);
  });
});
