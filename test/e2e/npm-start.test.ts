import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, ROOT } from '../helpers/process.js';

/**
 * `npm start` in a checkout that was never built: one sentence saying what to run, exit 2, and
 * no Node.js stack trace ("Cannot find module …/dist/src/main.js" with its `at …` lines).
 */
describe('npm start before npm run build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-unbuilt-'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says to build first and exits 2 without a stack trace', async () => {
    // The Node.js running the tests first on PATH, so npm's scripts run on it.
    const env = cleanEnv({ PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` });
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile('npm', ['start'], { cwd: dir, env }, (error, _stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('opsbot is not built yet: run npm run build first');
    expect(result.stderr).not.toMatch(/Cannot find module|\n\s+at /);
  }, 60_000);
});
