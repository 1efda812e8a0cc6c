import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileSource } from '../../../src/credentials/file-source.js';
import {
  emptyDocument,
  encryptSecretFile,
  type SecretFileDocument,
  setSecret,
  writeSecretFileAtomic,
} from '../../../src/credentials/secret-file.js';
import type { SecretSourceErrorKind } from '../../../src/credentials/source.js';
import { SecretValue } from '../../../src/log/secret-value.js';
import { assertNoCanary, canary } from '../../helpers/canary.js';
import { SECRET_NAMES } from '../../helpers/catalog.js';
import { expectSourceError } from '../../helpers/source-error.js';

const NOW = new Date('2030-01-02T03:04:05.000Z');
const slackJson = () => JSON.stringify({ botToken: canary('xoxb'), signingSecret: canary('sign') });

let dir: string;
let path: string;
let key: Buffer;
const values: string[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'opsbot-file-source-'));
  path = join(dir, 'secrets.enc');
  key = randomBytes(32);
  values.length = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Stores a fresh slack value the way the CLI does and returns the new document. */
async function storeSlack(doc: SecretFileDocument = emptyDocument()): Promise<SecretFileDocument> {
  const value = slackJson();
  values.push(value);
  const next = setSecret(doc, 'slack', new SecretValue(value), NOW);
  await writeSecretFileAtomic(path, encryptSecretFile(next, key));
  return next;
}

const source = (overrides: Partial<Parameters<typeof createFileSource>[0]> = {}) =>
  createFileSource({ path, key: new SecretValue(key), prefix: 'opsbot/', names: SECRET_NAMES, ...overrides });

const sourceError = (call: Promise<unknown>, kind: SecretSourceErrorKind, message: RegExp) =>
  expectSourceError(call, kind, message, [...values, key.toString('base64'), key.toString('hex')]);

describe('createFileSource', () => {
  it('describes the current version and returns its value by id', async () => {
    const doc = await storeSlack();
    const id = doc.secrets.slack?.current.versionId as string;
    const s = source();
    expect(s.kind).toBe('file');

    const description = await s.describe('opsbot/slack');
    expect(description).toEqual({
      name: 'opsbot/slack',
      arn: `file:${path}#opsbot/slack`,
      versions: new Map([[id, ['AWSCURRENT']]]),
    });
    const version = await s.getVersion('opsbot/slack', id);
    expect(version).toMatchObject({ name: 'opsbot/slack', versionId: id, stages: ['AWSCURRENT'] });
    expect(version.arn).toBe(description.arn);
    expect(version.secretString.reveal()).toBe(values[0]);
    assertNoCanary({ version }, values);
  });

  it('sees a rotation at the next describe: new current, old one as previous', async () => {
    const s = source();
    const first = await storeSlack();
    const firstId = first.secrets.slack?.current.versionId as string;
    expect([...(await s.describe('opsbot/slack')).versions.keys()]).toEqual([firstId]);

    const second = await storeSlack(first);
    const secondId = second.secrets.slack?.current.versionId as string;
    expect((await s.describe('opsbot/slack')).versions).toEqual(
      new Map([
        [secondId, ['AWSCURRENT']],
        [firstId, ['AWSPREVIOUS']],
      ]),
    );
    expect((await s.getVersion('opsbot/slack', secondId)).secretString.reveal()).toBe(values[1]);
    const previous = await s.getVersion('opsbot/slack', firstId);
    expect(previous.stages).toEqual(['AWSPREVIOUS']);
    expect(previous.secretString.reveal()).toBe(values[0]);

    const third = await storeSlack(second);
    await sourceError(
      s.getVersion('opsbot/slack', firstId),
      'not_found',
      /no longer in .*only the current and previous/,
    );
    expect((await s.describe('opsbot/slack')).versions.get(secondId)).toEqual(['AWSPREVIOUS']);
    expect(third.secrets.slack?.previous?.versionId).toBe(secondId);
  });

  it('maps names with the configured prefix, including an empty one', async () => {
    await storeSlack();
    expect((await source({ prefix: 'team-a/' }).describe('team-a/slack')).name).toBe('team-a/slack');
    expect((await source({ prefix: '' }).describe('slack')).arn).toBe(`file:${path}#slack`);
    await sourceError(
      source().describe('other/slack'),
      'not_found',
      /holds only opsbot\/slack, opsbot\/github/,
    );
    await sourceError(source().describe('opsbot/pagerduty'), 'not_found', /holds only/);
  });

  it('resolves a relative path, so the ARN names the file unambiguously', async () => {
    await storeSlack();
    const { arn } = await source({ path: relative(process.cwd(), path) }).describe('opsbot/slack');
    expect(arn).toBe(`file:${path}#opsbot/slack`);
  });

  it('reports a missing file as not_found, saying how to create it', async () => {
    await sourceError(
      source().describe('opsbot/slack'),
      'not_found',
      /secrets file .* does not exist; create it with `npm run secrets -- set slack < slack\.json`/,
    );
    await sourceError(source().describe('opsbot/jira'), 'not_found', /set jira < jira\.json/);
  });

  it('reports an integration absent from the file as not_found', async () => {
    await storeSlack();
    await sourceError(source().describe('opsbot/github'), 'not_found', /has no github secret; add it with/);
    await sourceError(source().getVersion('opsbot/github', 'x'), 'not_found', /has no github secret/);
  });

  it('reports a wrong key or a modified file as access_denied, naming OPSBOT_SECRET_FILE_KEY', async () => {
    await storeSlack();
    await sourceError(
      source({ key: new SecretValue(randomBytes(32)) }).describe('opsbot/slack'),
      'access_denied',
      /cannot decrypt .*OPSBOT_SECRET_FILE_KEY is not the key it was written with, or the file was modified/,
    );
    const envelope = JSON.parse(await readFile(path, 'utf8'));
    const data = Buffer.from(envelope.data, 'base64');
    data[5] = (data[5] ?? 0) ^ 1;
    await writeFile(path, JSON.stringify({ ...envelope, data: data.toString('base64') }));
    await sourceError(source().describe('opsbot/slack'), 'access_denied', /OPSBOT_SECRET_FILE_KEY/);
  });

  it('reports a file that is not an opsbot secrets file as invalid', async () => {
    await writeFile(path, slackJson());
    await sourceError(source().describe('opsbot/slack'), 'invalid', /is not an opsbot secrets file/);
    await sourceError(source({ path: dir }).describe('opsbot/slack'), 'invalid', /is a directory/);
  });

  it('maps read failures: permission denied → access_denied, I/O errors and aborts → transient', async () => {
    const failing = (code: string) => async () => {
      throw Object.assign(new Error(`${code}: open '${path}' ${canary('xoxb')}`), { code });
    };
    await sourceError(
      source({ readFile: failing('EACCES') }).describe('opsbot/slack'),
      'access_denied',
      /\(permission denied\); make it readable/,
    );
    await sourceError(
      source({ readFile: failing('EIO') }).describe('opsbot/slack'),
      'transient',
      /failed \(EIO\)/,
    );
    await storeSlack();
    await sourceError(
      source().describe('opsbot/slack', { signal: AbortSignal.abort() }),
      'transient',
      /reading the secrets file .* failed/,
    );
  });
});
