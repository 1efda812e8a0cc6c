import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config.js';
import { createFileSource } from '../../src/credentials/file-source.js';
import { decryptSecretFile } from '../../src/credentials/secret-file.js';
import { SecretValue } from '../../src/log/secret-value.js';
import { runSecretsCli } from '../../src/secrets-cli.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { SECRET_NAMES } from '../helpers/catalog.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const NOW = new Date('2030-01-02T03:04:05.000Z');

let dir: string;
let path: string;
let key: Buffer;
let env: Env;
const secrets: string[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'opsbot-secrets-cli-'));
  path = join(dir, 'secrets.enc');
  key = randomBytes(32);
  env = { OPSBOT_SECRET_FILE: path, OPSBOT_SECRET_FILE_KEY: key.toString('base64') };
  secrets.length = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function slackJson(): string {
  const botToken = canary('xoxb');
  const signingSecret = canary('sign');
  secrets.push(botToken, signingSecret);
  return JSON.stringify({ botToken, signingSecret });
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process and checks that nothing secret reached its output. */
async function run(argv: string[], stdin = '', runEnv: Env = env): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runSecretsCli(argv, {
    env: runEnv,
    stdin: Readable.from([Buffer.from(stdin)]),
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    now: () => NOW,
  });
  assertNoCanary({ stdout, stderr }, [
    ...secrets,
    key.toString('base64'),
    ...(runEnv.OPSBOT_SECRET_FILE_KEY ? [runEnv.OPSBOT_SECRET_FILE_KEY] : []),
  ]);
  return { code, stdout, stderr };
}

async function stored(): Promise<ReturnType<typeof decryptSecretFile>> {
  return decryptSecretFile(await readFile(path), key);
}

describe('npm run secrets (in-process)', () => {
  it('set creates the file (mode 0600) and stores the value as the current version', async () => {
    const value = slackJson();
    const result = await run(['set', 'slack'], `${value}\n`);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(new RegExp(`^slack: stored version ${UUID} in ${path}\\n$`));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const doc = await stored();
    expect(doc.secrets.slack?.current.value.reveal()).toBe(value);
    expect(doc.secrets.slack?.current.createdAt).toBe(NOW.toISOString());
    expect(result.stdout).toContain(doc.secrets.slack?.current.versionId);
    expect(await readdir(dir)).toEqual(['secrets.enc']);
  });

  it('set again keeps the old version as previous; the same value again changes nothing', async () => {
    await run(['set', 'slack'], slackJson());
    const first = (await stored()).secrets.slack?.current.versionId as string;
    const value = slackJson();
    const second = await run(['set', 'slack'], value);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`(previous version ${first} kept for verification during rotation)`);
    const doc = await stored();
    expect(doc.secrets.slack?.previous?.versionId).toBe(first);

    const again = await run(['set', 'slack'], value);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      `slack: unchanged (version ${doc.secrets.slack?.current.versionId} already holds this value)\n`,
    );
    expect((await stored()).secrets.slack?.previous?.versionId).toBe(first);
  });

  it('list shows ids, dates and whether a previous version exists, never values', async () => {
    const empty = await run(['list']);
    expect(empty.code).toBe(0);
    expect(empty.stderr).toContain(
      'does not exist yet; create it with: npm run secrets -- set slack < slack.json',
    );

    await run(['set', 'slack'], slackJson());
    await run(['set', 'slack'], slackJson());
    const jiraToken = canary('jira');
    secrets.push(jiraToken);
    await run(['set', 'jira'], JSON.stringify({ email: 'bot@example.com', apiToken: jiraToken }));
    const doc = await stored();
    const result = await run(['list']);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      `slack    ${doc.secrets.slack?.current.versionId}  ${NOW.toISOString()}  previous ${doc.secrets.slack?.previous?.versionId}`,
      'github   (not set)',
      `jira     ${doc.secrets.jira?.current.versionId}  ${NOW.toISOString()}  no previous`,
      'datadog  (not set)',
      'audit    (not set)',
      '',
    ]);
  });

  it('rm removes an integration; removing it again fails', async () => {
    await run(['set', 'slack'], slackJson());
    const removed = await run(['rm', 'slack']);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/^slack: removed \(current and previous versions\)/);
    expect((await stored()).secrets).toEqual({});
    expect((await run(['list'])).stdout).toContain('slack    (not set)');
    const again = await run(['rm', 'slack']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('slack: not in');
  });

  it('refuses invalid values with the problems (exit 2) and stores nothing', async () => {
    const token = canary('xoxb');
    const signing = canary('sign');
    secrets.push(token, signing);
    const broken = await run(['set', 'slack'], `{"botToken": "${token}", "signingSecret": ${signing}}`);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('slack: not stored: the value is not a valid slack secret');
    expect(broken.stderr).toContain('not valid JSON (the value is not shown)');

    const wrong = await run(['set', 'slack'], JSON.stringify({ botToken: canary('xoxp') }));
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(
      '  - botToken: expected a value starting with xoxb-\n  - signingSecret: required',
    );

    const nothing = await run(['set', 'slack'], ' \n');
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('nothing on stdin');

    const huge = await run(['set', 'slack'], `"${canary('x').repeat(3000)}"`);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toContain('larger than 64 KiB');
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('answers unknown commands and integrations with the usage (exit 2), and help with exit 0', async () => {
    for (const argv of [
      ['set', 'pagerduty'],
      ['frobnicate'],
      [],
      ['set'],
      ['rm', 'slack', 'jira'],
      ['list', 'x'],
    ]) {
      const result = await run(argv, slackJson());
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr).toContain('usage: npm run secrets -- <command>');
      expect(result.stdout).toBe('');
    }
    expect((await run(['set', 'pagerduty'])).stderr).toMatch(/^secrets: unknown integration "pagerduty"/);
    const help = await run(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('openssl rand -base64 32');
  });

  it('explains missing or malformed settings without echoing the key (exit 2)', async () => {
    const none = await run(['list'], '', {});
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('OPSBOT_SECRET_FILE: required');
    expect(none.stderr).toContain('OPSBOT_SECRET_FILE_KEY: required');

    const shortKey = randomBytes(16).toString('base64');
    const short = await run(['set', 'slack'], slackJson(), { ...env, OPSBOT_SECRET_FILE_KEY: shortKey });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('OPSBOT_SECRET_FILE_KEY: expected base64 of exactly 32 bytes');
    expect(short.stderr).not.toContain(shortKey);
  });

  it('refuses a wrong key or a tampered file (exit 1) and leaves the file as it was', async () => {
    await run(['set', 'slack'], slackJson());
    const before = await readFile(path);
    const otherKey = randomBytes(32).toString('base64');
    for (const argv of [['list'], ['set', 'slack'], ['rm', 'slack']]) {
      const result = await run(argv, slackJson(), { ...env, OPSBOT_SECRET_FILE_KEY: otherKey });
      expect(result.code, argv.join(' ')).toBe(1);
      expect(result.stderr).toContain(
        'OPSBOT_SECRET_FILE_KEY is not the key this file was written with, or the file was modified; nothing was changed',
      );
    }
    expect(await readFile(path)).toEqual(before);

    const envelope = JSON.parse(before.toString('utf8'));
    const tag = Buffer.from(envelope.tag, 'base64');
    tag[0] = (tag[0] ?? 0) ^ 0x80;
    await writeFile(path, JSON.stringify({ ...envelope, tag: tag.toString('base64') }));
    const tampered = await run(['list']);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain('or the file was modified');
  });

  it('reports a file it cannot read (exit 1) without a stack trace', async () => {
    await writeFile(join(dir, 'not-a-dir'), 'x');
    const result = await run(['list'], '', {
      ...env,
      OPSBOT_SECRET_FILE: join(dir, 'not-a-dir', 'secrets.enc'),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^secrets: cannot read .*not-a-dir\/secrets\.enc \(ENOTDIR\)\n$/);
  });

  it('a rotation made with the CLI is seen by the file source at its next describe', async () => {
    const source = createFileSource({
      path,
      key: new SecretValue(key),
      prefix: 'opsbot/',
      names: SECRET_NAMES,
    });
    await run(['set', 'slack'], slackJson());
    const [first] = (await source.describe('opsbot/slack')).versions.keys();
    const value = slackJson();
    await run(['set', 'slack'], value);
    const { versions } = await source.describe('opsbot/slack');
    const current = [...versions].find(([, stages]) => stages.includes('AWSCURRENT'))?.[0] as string;
    expect(versions.get(first as string)).toEqual(['AWSPREVIOUS']);
    expect((await source.getVersion('opsbot/slack', current)).secretString.reveal()).toBe(value);
  });
});

describe('npm run secrets (the real entry point)', () => {
  it('stores a value piped on stdin', async () => {
    const value = slackJson();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/secrets-cli.ts', 'set', 'slack'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: 'pipe',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(value);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assertNoCanary({ stdout, stderr }, [...secrets, key.toString('base64')]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(new RegExp(`^slack: stored version ${UUID} in ${path}\\n$`));
    expect((await stored()).secrets.slack?.current.value.reveal()).toBe(value);
  });
});
