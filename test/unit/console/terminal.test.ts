import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Terminal } from '../../../src/console/terminal.js';

function pipe() {
  const output = new PassThrough();
  let text = '';
  output.on('data', (d) => (text += d));
  return { output, text: () => text };
}

describe('Terminal', () => {
  it('says lines as they come while a command runs', () => {
    const { output, text } = pipe();
    const terminal = new Terminal(output, () => 'dev@#dev> ');
    terminal.say('one');
    terminal.say('two');
    expect(text()).toBe('one\ntwo\n');
    expect(terminal.waiting).toBe(false);
  });

  it('prints what arrives while the prompt waits on a line of its own, then the prompt again', () => {
    const { output, text } = pipe();
    let prompt = 'dev@#dev> ';
    const terminal = new Terminal(output, () => prompt);
    terminal.prompt();
    expect(terminal.waiting).toBe(true);
    prompt = 'ada@#ops> ';
    terminal.say('opsbot (in #alerts):\n  Disk full');
    expect(text()).toBe('dev@#dev> \nopsbot (in #alerts):\n  Disk full\nada@#ops> ');
    terminal.busy();
    terminal.say('a reply');
    expect(text()).toBe('dev@#dev> \nopsbot (in #alerts):\n  Disk full\nada@#ops> a reply\n');
  });
});
