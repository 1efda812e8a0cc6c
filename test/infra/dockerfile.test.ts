import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEALTHCHECK_SCRIPT } from '../../infra/lib/service.js';
import { cleanEnv, exitOf, ROOT, startMain } from '../helpers/process.js';

const run = promisify(execFile);
const dockerfile = readFileSync(join(ROOT, 'infra/Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');

/** The Dockerfile's instructions (continuation lines joined, comments dropped), split into stages. */
function stages(text: string): string[][] {
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const out: string[][] = [];
  for (const line of instructions) {
    if (/^FROM\s/i.test(line)) out.push([line]);
    else out.at(-1)?.push(line);
  }
  return out;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('infra/Dockerfile (read: there is no docker here)', () => {
  const all = stages(dockerfile);
  const runtime = all.at(-1) ?? [];
  const build = all[0] ?? [];

  it('is multi-stage: a build stage, then the runtime stage', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(build[0]).toMatch(/^FROM \S+ AS build$/);
    expect(runtime[0]).toMatch(/^FROM \S+ AS runtime$/);
  });

  it('builds with every dependency (dev included) and the production build', () => {
    expect(build.some((l) => /^RUN npm ci\b/.test(l) && !l.includes('--omit=dev'))).toBe(true);
    expect(build.some((l) => /^RUN npm run build\b/.test(l))).toBe(true);
  });

  it('runs with production dependencies only: npm ci --omit=dev in the runtime stage, and no other install', () => {
    const installs = runtime.filter((l) => /\bnpm (ci|install|i)\b/.test(l));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/^RUN npm ci --omit=dev\b/);
  });

  it('copies into the runtime stage only the manifests, the compiled code and the configuration file: no sources, no sandbox', () => {
    const copies = runtime.filter((l) => /^(COPY|ADD)\s/i.test(l));
    expect(copies).toEqual([
      'COPY package.json package-lock.json ./',
      'COPY --from=build /app/dist ./dist',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile build argument
      'COPY ${OPSBOT_CONFIG_FILE} ./opsbot.yaml',
    ]);
    expect(runtime.join('\n')).not.toMatch(/sandbox|COPY (src|commands|test|\.)\s/);
    // The build stage refuses a build that contains the sandbox or the console.
    expect(build.join('\n')).toContain('test ! -e dist/src/sandbox');
  });

  it('runs as a non-root user, with a HEALTHCHECK on /healthz, as `npm start` runs it (node dist/src/main.js)', () => {
    const users = runtime.filter((l) => /^USER\s/.test(l));
    expect(users).toHaveLength(1);
    expect(users[0]).not.toMatch(/^USER\s+(root|0)(:|$)/);
    const healthchecks = runtime.filter((l) => /^HEALTHCHECK\s/.test(l));
    expect(healthchecks).toHaveLength(1);
    expect(healthchecks[0]).toContain('/healthz');
    // The same check as the ECS task definition's.
    expect(healthchecks[0]).toContain(JSON.stringify(HEALTHCHECK_SCRIPT));
    // The container runs what `npm start` runs, Node's flags included (the young generation's size).
    const start = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
    ).scripts.start;
    expect(start).toMatch(/^node (--[a-z-]+=\d+ )*dist\/src\/main\.js$/);
    expect(runtime.at(-1)).toBe(`CMD ${JSON.stringify(start.split(' '))}`.replaceAll('","', '", "'));
    expect(start).toContain('--max-semi-space-size=32');
    expect(runtime.indexOf(users[0] as string)).toBeLessThan(runtime.length - 1);
  });

  it('.dockerignore keeps dependencies, outputs, tests, the sandbox and VCS data out of the build context', () => {
    const patterns = dockerignore.split('\n').map((l) => l.trim());
    for (const p of [
      '**/node_modules',
      'dist',
      'cdk.out',
      'data',
      '.git',
      'test',
      'src/sandbox',
      'src/console',
    ])
      expect(patterns).toContain(p);
    for (const kept of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'src',
      'commands',
      'infra/Dockerfile',
    ])
      expect(patterns).not.toContain(kept);
  });
});

describe('the production layout, reproduced without docker', () => {
  let dir: string;
  let distFiles: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'opsbot-image-'));
    copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    copyFileSync(join(ROOT, 'package-lock.json'), join(dir, 'package-lock.json'));
    await Promise.all([
      // The build stage: `npm run build` (tsc -p tsconfig.json, which leaves out src/sandbox and the console).
      run(
        process.execPath,
        [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--outDir', join(dir, 'dist')],
        { cwd: ROOT },
      ).catch((error: { stdout?: string }) => {
        throw new Error(
          `the production build failed (fix it, then run the test again):\n${error.stdout ?? ''}`,
        );
      }),
      // The runtime stage: the manifests, then production dependencies only.
      run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
        cwd: dir,
        timeout: 180_000,
        maxBuffer: 16 * 1024 * 1024,
      }),
    ]);
    distFiles = files(join(dir, 'dist')).map((f) => relative(dir, f));
  }, 240_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the production build has the server and no sandbox or console', () => {
    expect(distFiles).toContain('dist/src/main.js');
    expect(distFiles.filter((f) => f.includes('sandbox'))).toEqual([]);
    expect(distFiles.filter((f) => /\/console(\/|\.js)/.test(f))).toEqual([]);
  });

  it('production dependencies only: no compiler, test runner or CDK', () => {
    expect(existsSync(join(dir, 'node_modules/@slack/bolt'))).toBe(true);
    for (const dev of ['typescript', 'vitest', 'tsx', 'aws-cdk-lib', 'aws-cdk', 'cdk-nag', '@biomejs/biome'])
      expect(existsSync(join(dir, 'node_modules', dev)), dev).toBe(false);
  });

  it('node dist/src/main.js with a clean environment exits 2 with the configuration message', async () => {
    const { child, output } = startMain(cleanEnv({}), { entry: 'dist/src/main.js', cwd: dir });
    const code = await exitOf(child);
    expect(code).toBe(2);
    const { stderr } = output();
    expect(stderr).toMatch(/^opsbot cannot start: \d+ configuration problems?:/);
    expect(stderr).toContain('AWS_REGION: required when OPSBOT_SECRET_SOURCE=aws');
    expect(stderr).toContain('OPSBOT_CONFIG: cannot read ./opsbot.yaml');
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
