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
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Both cores: most of the suite waits on sockets and child processes (moto, the built server).
    maxWorkers: 2,
    setupFiles: ['test/setup.ts'],
  },
});
