import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeVersionProblem } from '../../src/node-version.js';
import { cleanEnv, exitOf, FAKE_NODE_20, ROOT, startMain } from '../helpers/process.js';

/**
 * On Node 20 every entry point says, in one line, which Node.js opsbot needs, and exits 2 before
 * anything imports `node:sqlite` (which Node 20 does not have). {@link FAKE_NODE_20} makes this
 * Node look like Node 20; the built `main.js` is checked in `socket-mode-process.test.ts`.
 */
const ONE_LINE = `${nodeVersionProblem('20.11.1')}\n`;

describe('an entry point on Node 20', () => {
  it('the server (src/main.ts) prints the one line and exits 2', async () => {
    const { child, output } = startMain(cleanEnv({}), { nodeArgs: ['--import', FAKE_NODE_20] });
    expect(await exitOf(child)).toBe(2);
    expect(output()).toEqual({ stdout: '', stderr: ONE_LINE });
  });

  it('npm run secrets (src/secrets-cli.ts) prints the one line and exits 2', async () => {
    const { child, output } = startMain(cleanEnv({}), {
      entry: 'src/secrets-cli.ts',
      args: ['list'],
      nodeArgs: ['--import', FAKE_NODE_20],
    });
    expect(await exitOf(child)).toBe(2);
    expect(output()).toEqual({ stdout: '', stderr: ONE_LINE });
  });

  it('npm test (vitest loading test/vitest.config.ts) prints the one line and exits 2', async () => {
    const { child, output } = startMain(cleanEnv({}), {
      entry: join(ROOT, 'node_modules/vitest/vitest.mjs'),
      args: ['run', '--config', 'test/vitest.config.ts', 'test/unit/log.test.ts'],
      nodeArgs: ['--import', FAKE_NODE_20],
    });
    expect(await exitOf(child)).toBe(2);
    const { stderr } = output();
    expect(stderr.split('\n').filter((l) => l.includes('opsbot needs Node.js'))).toEqual([ONE_LINE.trim()]);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 60_000);
});
