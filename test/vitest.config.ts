import { defineConfig } from 'vitest/config';
import { nodeVersionProblem } from '../src/node-version.js';

// `npm test` on an old Node.js: one line, not a crash inside vitest (node:sqlite needs Node 22).
const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(2);
}

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Bounds on waiting, not timings: a process started through tsx on a busy 2-core machine can take
    // a while to listen (the helpers in test/helpers/process.ts wait up to 30 s).
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Both cores: most of the suite waits on sockets and child processes (moto, the built server).
    maxWorkers: 2,
    setupFiles: ['test/setup.ts'],
  },
});
